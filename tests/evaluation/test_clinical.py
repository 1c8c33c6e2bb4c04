"""Classification and survival submissions on real files: uploads checked in the request with
messages naming row and column, scoring into the evaluation's aggregate (equal to
scikit-learn's and lifelines' values), per-case rows that hold predictions and never labels,
and what the API shows."""

import csv
import json
import zipfile

import numpy as np
import pytest
from lifelines.utils import concordance_index
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from evaluation.models import CaseResult, Evaluation, State
from evaluation.services import scoring
from evaluation.services.demo_data import write_clinical_predictions, write_radiogenomics_tasks
from evaluation.services.importing import import_task
from leaderboard import services
from tests import factories
from tests.factories import api_client as client_for

from .test_api import post

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks(tmp_path):
    egfr, survival, latent = write_radiogenomics_tasks(tmp_path / "tasks", n_cases=20, seed=5,
                                                       size=16)
    phases = {folder.name: import_task(folder, challenge_slug="rg").phase
              for folder in (egfr, survival)}
    for phase in phases.values():
        phase.show_case_results = True
        phase.save()
    return phases["Task04_DemoRadiogenomicsEGFR"], phases["Task05_DemoRadiogenomicsSurvival"], (
        latent, egfr / "labelsTs" / "labels.csv")


def truth(labels_csv):
    with open(labels_csv, newline="") as fh:
        return {row["case"]: row for row in csv.DictReader(fh)}


def scored(phase, user, path):
    response = post(client_for(user), phase, path)
    assert response.status_code == 201, response.json()
    assert response.json()["state"] == "queued"  # every check ran in the request
    evaluation = Evaluation.objects.get(submission_id=response.json()["id"])
    scoring.score(evaluation.id, worker="t")
    evaluation.refresh_from_db()
    assert evaluation.state == State.SUCCEEDED, evaluation.participant_message
    return evaluation, response.json()["id"]


def test_a_classification_csv_is_scored_as_scikit_learn_scores_it(tasks, tmp_path):
    phase, _, (latent, labels_csv) = tasks
    path = write_clinical_predictions(latent, tmp_path / "p.csv", column="probability",
                                      quality=0.7, seed=1)
    user = factories.participant(phase, "alice")
    evaluation, submission_id = scored(phase, user, path)
    rows = truth(labels_csv)
    with open(path, newline="") as fh:
        prob = {row["case"]: float(row["probability"]) for row in csv.DictReader(fh)}
    cases = phase.task.case_names
    y = np.array([rows[c]["egfr"] == "mutant" for c in cases], dtype=int)
    p = np.array([prob[c] for c in cases])
    aggregate = evaluation.aggregate
    assert aggregate["auroc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert aggregate["average_precision"] == pytest.approx(average_precision_score(y, p),
                                                           abs=1e-12)
    assert aggregate["log_loss"] == pytest.approx(log_loss(y, p), abs=1e-9)
    assert aggregate["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    called = p >= phase.classification_threshold
    assert aggregate["sensitivity"] == pytest.approx(called[y == 1].mean(), abs=1e-12)
    assert aggregate["specificity"] == pytest.approx((~called[y == 0]).mean(), abs=1e-12)
    assert evaluation.participant_message == "Scored 20 cases."
    # Each case's row holds the participant's own probability, nothing of its label.
    stored = {r.case: r.matches for r in CaseResult.objects.filter(evaluation=evaluation)}
    assert stored == {c: {"probability": prob[c]} for c in cases}
    body = client_for(user).get(f"/api/v1/submissions/{submission_id}/").json()
    assert body["results"]["aggregate"]["auroc"] == pytest.approx(aggregate["auroc"])
    assert "cases" not in body["results"]
    text = json.dumps(body)
    assert "mutant" not in text and "wildtype" not in text and '"event"' not in text


def test_a_survival_csv_is_scored_as_lifelines_scores_it(tasks, tmp_path):
    _, phase, (latent, labels_csv) = tasks
    phase.survival_tau = 900.0
    phase.survival_times = [200, 400]
    phase.full_clean()
    phase.save()
    path = write_clinical_predictions(latent, tmp_path / "r.csv", column="risk", quality=0.6,
                                      seed=2)
    evaluation, _ = scored(phase, factories.participant(phase), path)
    rows = truth(labels_csv)
    with open(path, newline="") as fh:
        risk = {row["case"]: float(row["risk"]) for row in csv.DictReader(fh)}
    cases = phase.task.case_names
    time = [float(rows[c]["time"]) for c in cases]
    event = [int(rows[c]["event"]) for c in cases]
    # lifelines ranks by predicted survival: a larger risk is a shorter predicted survival.
    expected = concordance_index(time, [-risk[c] for c in cases], event)
    assert evaluation.aggregate["c_index"] == pytest.approx(expected, abs=1e-12)
    assert set(evaluation.aggregate) == {"c_index", "uno_c", "td_auc", "integrated_brier",
                                         "td_auc_per_time"}
    # AUC(t) at each of the phase's times, as the pages show it, as scikit-survival computes
    # it; td_auc is its Kaplan–Meier-weighted mean.
    from sksurv.metrics import cumulative_dynamic_auc as sksurv_auc
    from sksurv.util import Surv
    y = Surv.from_arrays(event=np.asarray(event, bool), time=np.asarray(time))
    auc, mean = sksurv_auc(y, y, np.asarray([risk[c] for c in cases]), [200.0, 400.0])
    per_time = evaluation.aggregate["td_auc_per_time"]
    assert list(per_time) == ["200", "400"]
    assert list(per_time.values()) == pytest.approx(list(auc), abs=1e-9)
    assert evaluation.aggregate["td_auc"] == pytest.approx(mean, abs=1e-9)
    assert evaluation.aggregate["integrated_brier"] is None  # no survival curves submitted
    assert evaluation.metric_config["tau"] == 900.0
    assert evaluation.metric_config["times"] == [200.0, 400.0]


def test_target_named_columns_zips_and_json_are_accepted(tasks, tmp_path):
    phase, survival, (latent, _) = tasks
    named = tmp_path / "named.csv"
    named.write_text("case,egfr_probability\n" + "".join(f"{c},0.5\n" for c in latent))
    archive = tmp_path / "named.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(named, "predictions/named.csv")
        zf.writestr("README.txt", "how we did it")
    user = factories.participant(phase)
    evaluation, _ = scored(phase, user, archive)
    assert evaluation.aggregate["auroc"] == pytest.approx(0.5)
    as_json = tmp_path / "risk.json"
    as_json.write_text(json.dumps({c: v for c, v in latent.items()}))
    evaluation, _ = scored(survival, factories.participant(survival), as_json)
    records = tmp_path / "records.json"
    records.write_text(json.dumps([{"case": c, "risk": v} for c, v in latent.items()]))
    again, _ = scored(survival, factories.participant(survival), records)
    assert again.aggregate == evaluation.aggregate


@pytest.mark.parametrize(("edit", "message"), [
    (lambda rows: rows.__setitem__(3, rows[3].split(",")[0] + ",1.5"),
     "the predictions file row 4, column probability: '1.5' is not a probability in [0, 1]"),
    (lambda rows: rows.__setitem__(2, rows[2].split(",")[0] + ",nan"),
     "the predictions file row 3, column probability:"),
    (lambda rows: rows.__setitem__(5, rows[1]),
     "the predictions file row 6, column case: case 'rg_000' appears twice (first in row 2)"),
    (lambda rows: rows.pop(),
     "the predictions file: no row for case 'rg_019'"),
    (lambda rows: rows.__setitem__(0, "case,prob"),
     "the predictions file row 1: expected the header case,probability (or "
     "case,egfr_probability), got 'case,prob'"),
    (lambda rows: rows.__setitem__(0, "case;probability"),
     "the predictions file row 1: expected the header case,probability (or "
     "case,egfr_probability), got 'case;probability' (the columns must be separated by "
     "commas, not semicolons)"),
])
def test_a_bad_predictions_file_answers_400_naming_row_and_column(tasks, tmp_path, edit, message):
    phase, _, (latent, _) = tasks
    path = write_clinical_predictions(latent, tmp_path / "p.csv", column="probability",
                                      quality=0.5, seed=3)
    rows = path.read_text().splitlines()
    edit(rows)
    path.write_text("\n".join(rows) + "\n")
    response = post(client_for(factories.participant(phase)), phase, path)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not Evaluation.objects.exists()


def test_an_oversized_or_ambiguous_upload_is_refused_before_it_is_read(tasks, tmp_path):
    phase, _, _ = tasks
    big = tmp_path / "big.csv"
    big.write_text("case,probability\n" + "x" * 2_000_000)
    response = post(client_for(factories.participant(phase)), phase, big)
    assert response.status_code == 400 and "more than the" in response.json()["detail"]
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as zf:
        zf.writestr("a.csv", "case,probability\n")
        zf.writestr("b.csv", "case,probability\n")
    response = post(client_for(factories.participant(phase)), phase, two)
    assert response.status_code == 400
    assert "exactly one predictions file (.csv or .json); found 2" in response.json()["detail"]


def test_metric_errors_on_the_labels_never_reach_the_participant(tasks, tmp_path):
    _, phase, (latent, _) = tasks
    phase.survival_times = [10_000_000]  # beyond the follow-up: the metric library refuses
    phase.primary_metric = "td_auc"
    phase.save()
    path = write_clinical_predictions(latent, tmp_path / "r.csv", column="risk", quality=0.6,
                                      seed=2)
    response = post(client_for(factories.participant(phase)), phase, path)
    evaluation = Evaluation.objects.get(submission_id=response.json()["id"])
    scoring.score(evaluation.id, worker="t")
    evaluation.refresh_from_db()
    assert evaluation.state == State.FAILED
    assert "times" not in evaluation.participant_message
    assert "td_auc" in evaluation.organizer_log


def test_the_worked_example_of_docs_clinical(tmp_path):
    egfr, survival, latent = write_radiogenomics_tasks(tmp_path / "ex", n_cases=6, seed=1,
                                                       size=16)
    cases = list(latent)
    labels = ["mutant", "mutant", "wildtype", "wildtype", "mutant", "wildtype"]
    survival_rows = [(100, 1), (200, 0), (300, 1), (400, 1), (150, 0), (500, 0)]
    text = "case,egfr,time,event\n" + "".join(
        f"{c},{label},{t},{e}\n" for c, label, (t, e) in zip(cases, labels, survival_rows,
                                                              strict=True))
    for folder in (egfr, survival):
        (folder / "labelsTs" / "labels.csv").write_text(text)
    phase = import_task(egfr, challenge_slug="ex").phase
    path = tmp_path / "p.csv"
    path.write_text("case,probability\n" + "".join(
        f"{c},{p}\n" for c, p in zip(cases, (0.9, 0.4, 0.35, 0.8, 0.7, 0.1), strict=True)))
    evaluation, _ = scored(phase, factories.participant(phase), path)
    assert {k: round(v, 4) for k, v in evaluation.aggregate.items()} == {
        "auroc": 0.7778, "average_precision": 0.8056, "balanced_accuracy": 0.6667,
        "sensitivity": 0.6667, "specificity": 0.6667, "log_loss": 0.5873, "brier": 0.2054}
    # The survival example's five cases; the sixth, censored last with the lowest risk, adds
    # no comparable pair in which it has the event, and one concordant pair per event.
    phase = import_task(survival, challenge_slug="ex").phase
    path.write_text("case,risk\n" + "".join(
        f"{c},{r}\n" for c, r in zip(cases, (2.0, 0.5, 1.0, 1.2, 0.8, 0.1), strict=True)))
    evaluation, _ = scored(phase, factories.participant(phase), path)
    assert evaluation.aggregate["c_index"] == pytest.approx(7 / 8)


def test_a_multi_class_target_is_scored_by_macro_auroc_and_bootstrapped(tmp_path):
    egfr, _, latent = write_radiogenomics_tasks(tmp_path / "mc", n_cases=15, seed=2, size=16)
    classes = ["adenocarcinoma", "squamous", "other"]
    dataset = json.loads((egfr / "dataset.json").read_text())
    dataset["clinical"] = {"kind": "classification", "target": "histology", "classes": classes}
    (egfr / "dataset.json").write_text(json.dumps(dataset))
    cases = list(latent)
    truth_of = {c: classes[i % 3] for i, c in enumerate(cases)}
    (egfr / "labelsTs" / "labels.csv").write_text(
        "case,histology\n" + "".join(f"{c},{truth_of[c]}\n" for c in cases))
    phase = import_task(egfr, challenge_slug="mc").phase
    assert phase.primary_metric == "macro_auroc" and phase.scored_metrics() == ["macro_auroc"]
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=len(cases))
    path = tmp_path / "mc.csv"
    path.write_text("case," + ",".join(f"{c}_probability" for c in classes) + "\n" + "".join(
        f"{c}," + ",".join(repr(float(p)) for p in row) + "\n"
        for c, row in zip(cases, probs, strict=True)))
    evaluation, _ = scored(phase, factories.participant(phase, "mc"), path)
    y = np.array([classes.index(truth_of[c]) for c in cases])
    expected = roc_auc_score(y, probs / probs.sum(axis=1, keepdims=True), multi_class="ovr",
                             average="macro")
    assert evaluation.aggregate["macro_auroc"] == pytest.approx(expected, abs=1e-12)
    stored = CaseResult.objects.get(evaluation=evaluation, case=cases[0]).matches
    assert stored == {"probabilities": pytest.approx(list(probs[0]))}
    phase.bootstrap_samples = 50
    phase.save()
    snapshot = services.refresh(phase.id)
    assert snapshot.statistics["n_boot"] == 50
    assert snapshot.entries[0]["score"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda entries: entries[4].update(probability=1.2),
     "the predictions JSON, entry 5, column probability: '1.2' is not a probability in [0, 1]"),
    (lambda entries: entries.__setitem__(6, dict(entries[1])),
     "the predictions JSON, entry 7, column case: case 'rg_001' appears twice (first in "
     "entry 2)"),
    (lambda entries: entries.pop(),
     "the predictions JSON: no entry for case 'rg_019'"),
    (lambda entries: entries[0].update(prob=0.5),
     "the predictions JSON: expected the keys of case,probability (or case,egfr_probability) "
     "in every entry, got 'case,probability,prob'"),
])
def test_a_bad_predictions_json_names_the_entry(tasks, tmp_path, edit, message):
    phase, _, (latent, _) = tasks
    entries = [{"case": case, "probability": 0.5} for case in latent]
    edit(entries)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(entries))
    response = post(client_for(factories.participant(phase)), phase, path)
    assert response.status_code == 400
    assert response.json()["detail"] == message
