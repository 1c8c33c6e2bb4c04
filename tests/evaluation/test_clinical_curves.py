"""Survival curves in survival predictions (docs/clinical.md, "Survival curves"):
``case,risk,S@t…`` at the phase's times, checked in the request (probabilities, non-increasing,
every time present, messages naming row and column), scored by the integrated Brier score
equal to scikit-survival's, stored per case and bootstrapped on the leaderboard; a file
without curves ranks last by it."""

import csv
import io
import json

import numpy as np
import pytest
from django.test import Client
from sksurv.metrics import integrated_brier_score
from sksurv.util import Surv

from evaluation.models import CaseResult, Evaluation, State
from evaluation.services import scoring
from evaluation.services.demo_data import write_clinical_predictions, write_radiogenomics_tasks
from evaluation.services.importing import import_task
from evaluation.services.reevaluation import activate_ground_truth
from leaderboard import services
from leaderboard.stats.clinical import clinical_bootstrap
from tests import factories
from tests.factories import api_client as client_for

from .test_api import post
from .test_clinical import scored, truth

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(tmp_path):
    _, folder, latent = write_radiogenomics_tasks(tmp_path / "tasks", n_cases=30, seed=11,
                                                  size=16)
    phase = import_task(folder, challenge_slug="curves").phase
    rows = truth(folder / "labelsTs" / "labels.csv")
    cases = phase.task.case_names
    time = np.array([float(rows[c]["time"]) for c in cases])
    event = np.array([int(rows[c]["event"]) for c in cases])
    times = [float(np.round(np.quantile(time, q))) for q in (0.25, 0.5, 0.75)]
    phase.survival_times = times
    phase.primary_metric = "integrated_brier"
    phase.bootstrap_samples = 100
    phase.full_clean()
    phase.save()
    return phase, latent, time, event, times


def curves_of(latent: dict, times, quality: float, seed: int) -> dict[str, list[float]]:
    """S(t) = exp(−t/1000 · e^{quality·z + noise}): a proportional-hazards curve per case."""
    rng = np.random.default_rng(seed)
    hazard = {case: np.exp(quality * z + rng.normal(0, 1 - quality))
              for case, z in latent.items()}
    return {case: [float(np.exp(-t / 1000 * h)) for t in times] for case, h in hazard.items()}


def write(path, latent, curves, times, *, header=None):
    names = header or [f"S@{t:g}" for t in times]
    path.write_text("case,risk," + ",".join(names) + "\n" + "".join(
        f"{case},{latent[case]!r}," + ",".join(repr(v) for v in curves[case]) + "\n"
        for case in latent))
    return path


def test_curves_are_scored_as_scikit_survival_scores_them(setup, tmp_path):
    phase, latent, time, event, times = setup
    curves = curves_of(latent, times, 0.8, seed=1)
    evaluation, _ = scored(phase, factories.participant(phase), write(
        tmp_path / "p.csv", latent, curves, times))
    cases = phase.task.case_names
    matrix = np.array([curves[c] for c in cases])
    y = Surv.from_arrays(event.astype(bool), time)
    expected = integrated_brier_score(y, y, matrix, np.array(times))
    assert evaluation.aggregate["integrated_brier"] == pytest.approx(expected, abs=1e-9)
    assert set(evaluation.aggregate) == {"c_index", "uno_c", "td_auc", "integrated_brier",
                                         "td_auc_per_time"}  # AUC(t) beside its mean
    stored = CaseResult.objects.get(evaluation=evaluation, case=cases[0]).matches
    assert stored == {"risk": latent[cases[0]], "survival": pytest.approx(curves[cases[0]])}
    # The same as JSON, a participant's S@ spelling of the times (730.0 for 730) accepted.
    as_json = tmp_path / "p.json"
    as_json.write_text(json.dumps({case: {"risk": latent[case], **{
        f"S@{t:.1f}": v for t, v in zip(times, curves[case], strict=True)}} for case in latent}))
    again, _ = scored(phase, factories.participant(phase, "json"), as_json)
    assert again.aggregate["integrated_brier"] == pytest.approx(expected, abs=1e-9)


def edited(latent, curves, times, row: int, values: list[float]):
    case = list(latent)[row - 2]
    return {**curves, case: values}


@pytest.mark.parametrize(("edit", "message"), [
    (lambda latent, curves, times: edited(latent, curves, times, 4, [0.9, 0.95, 0.5]),
     "the predictions file row 4, column S@{t1}: '0.95' is larger than S@{t0}'s '0.9'; a "
     "survival curve cannot increase with time"),
    (lambda latent, curves, times: edited(latent, curves, times, 3, [1.2, 0.9, 0.5]),
     "the predictions file row 3, column S@{t0}: '1.2' is not a probability in [0, 1]"),
])
def test_bad_curves_are_refused_naming_row_and_column(setup, tmp_path, edit, message):
    phase, latent, _, _, times = setup
    curves = edit(latent, curves_of(latent, times, 0.8, seed=1), times)
    response = post(client_for(factories.participant(phase)), phase,
                    write(tmp_path / "p.csv", latent, curves, times))
    assert response.status_code == 400
    t0, t1, _ = (f"{t:g}" for t in times)
    assert response.json()["detail"] == message.format(t0=t0, t1=t1)


def test_a_phase_ranked_by_curves_asks_for_every_time(setup, tmp_path):
    phase, latent, _, _, times = setup
    user = factories.participant(phase)
    wanted = ",".join(f"S@{t:g}" for t in times)
    bare = write_clinical_predictions(latent, tmp_path / "r.csv", column="risk", quality=0.5,
                                      seed=1)
    response = post(client_for(user), phase, bare)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "the predictions file row 1: this phase ranks by the integrated Brier score, so the "
        "file needs after case,risk the predicted probability of surviving beyond each of its "
        f"times (days): {wanted}")
    curves = {c: v[:2] for c, v in curves_of(latent, times, 0.8, seed=1).items()}
    response = post(client_for(user), phase, write(tmp_path / "p.csv", latent, curves, times[:2]))
    assert response.status_code == 400
    assert response.json()["detail"] == (
        f"the predictions file row 1: the survival curve columns must be {wanted} (S(t) at "
        f"each of the phase's times, in days), got S@{times[0]:g},S@{times[1]:g}")
    phase.primary_metric = "c_index"  # curves optional; still at the phase's times
    phase.save()
    assert post(client_for(user), phase, bare).status_code == 201
    response = post(client_for(user), phase, write(tmp_path / "p.csv", latent, curves, times[:2]))
    assert response.status_code == 400


def test_the_board_bootstraps_the_integrated_brier_score_from_stored_curves(setup, tmp_path):
    phase, latent, time, event, times = setup
    sent = {}
    for k, (name, quality) in enumerate((("good", 0.9), ("fair", 0.5))):
        curves = curves_of(latent, times, quality, seed=k)
        scored(phase, factories.participant(phase, name),
               write(tmp_path / f"{name}.csv", latent, curves, times))
        sent[name] = curves
    for evaluation in Evaluation.objects.select_related("submission"):
        evaluation.submission.file.delete(save=False)  # a refresh reads stored rows only
    snapshot = services.refresh(phase.id)
    cases = phase.task.case_names
    predictions = {name: {"risk": np.array([latent[c] for c in cases]),
                          "survival": np.array([curves[c] for c in cases])}
                   for name, curves in sent.items()}
    expected = clinical_bootstrap(
        predictions, {"time": time, "event": event}, metric="integrated_brier",
        config={"times": times}, n_boot=100, seed=phase.ranking_seed, task=phase.task.key,
        cases=cases).summary()
    assert snapshot.statistics["metric"] == "integrated_brier"
    assert snapshot.statistics["n_boot"] == 100
    for entry in snapshot.entries:
        k = expected.algorithms.index(entry["entrant"])
        assert entry["rank"] == expected.full_rank[k]
        assert entry["score"] == pytest.approx(expected.aggregate_value[k], abs=1e-12)
        assert entry["score_q975"] == pytest.approx(expected.aggregate_q975[k], abs=1e-12)
    assert snapshot.entries[0]["entrant"] == "good"  # smaller is better

    # An entrant without curves (sent while the phase ranked by the C-index) ranks last, and
    # the board falls back to the stored values.
    phase.primary_metric = "c_index"
    phase.save()
    bare = write_clinical_predictions(latent, tmp_path / "r.csv", column="risk", quality=1.0,
                                      seed=1)
    evaluation, _ = scored(phase, factories.participant(phase, "bare"), bare)
    assert evaluation.aggregate["integrated_brier"] is None
    phase.primary_metric = "integrated_brier"
    phase.save()
    phase.show_case_results = True
    phase.save()
    snapshot = services.refresh(phase.id)
    assert [e["entrant"] for e in snapshot.entries][-1] == "bare"
    assert snapshot.statistics["n_boot"] == 0
    # The per-case export holds each entrant's risk and curve, as the bootstrap re-scores them.
    response = Client().get(f"/phases/{phase.id}/cases.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    curve_columns = [f"S@{t:g}" for t in times]
    assert list(rows[0])[3:7] == ["risk", *curve_columns]
    good = next(r for r in rows if r["entrant"] == "good" and r["case"] == cases[0])
    assert [float(good[c]) for c in curve_columns] == pytest.approx(sent["good"][cases[0]])
    bare_row = next(r for r in rows if r["entrant"] == "bare")
    assert bare_row["risk"] and all(bare_row[c] == "" for c in curve_columns)


def test_changed_times_rescore_without_the_old_curves(setup, tmp_path):
    phase, latent, _, _, times = setup
    evaluation, _ = scored(phase, factories.participant(phase), write(
        tmp_path / "p.csv", latent, curves_of(latent, times, 0.8, seed=1), times))
    assert evaluation.aggregate["integrated_brier"] is not None
    phase.primary_metric = "c_index"
    phase.survival_times = times[:2]
    phase.full_clean()
    phase.save()
    assert activate_ground_truth(phase, phase.active_ground_truth) == 1
    latest = Evaluation.objects.filter(submission=evaluation.submission).latest("created")
    scoring.score(latest.id, worker="t")
    latest.refresh_from_db()
    assert latest.state == State.SUCCEEDED, latest.organizer_log
    assert latest.aggregate["integrated_brier"] is None  # the curves are at other times
    assert latest.aggregate["c_index"] == evaluation.aggregate["c_index"]
