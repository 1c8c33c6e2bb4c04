"""Leaderboards of classification and survival phases scored by the real scoring service: the
ranking and its bootstrap equal ``leaderboard.stats.clinical.clinical_bootstrap`` run directly
on the submitted files and the hidden labels; the same pages, plots, exports and API as
detection's; per-case exports hold predictions, never labels."""

import csv
import io

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from evaluation.models import Evaluation, State
from evaluation.services import scoring
from evaluation.services.demo_data import write_clinical_predictions, write_radiogenomics_tasks
from evaluation.services.importing import import_task
from leaderboard import services
from leaderboard.describe import describe_phase
from leaderboard.stats.clinical import clinical_bootstrap, delong_pvalues
from scorers.clinical_csv import read_predictions, read_reference
from tests import factories
from tests.evaluation.helpers import submit_file

pytestmark = pytest.mark.django_db

QUALITIES = {"gbm": 0.95, "cnn": 0.7, "guess": 0.0}


def board_for(tmp_path, target: str, column: str, **settings):
    egfr, survival, latent = write_radiogenomics_tasks(tmp_path / "tasks", n_cases=30, seed=8,
                                                       size=16)
    folder = egfr if target == "egfr" else survival
    phase = import_task(folder, challenge_slug="rg").phase
    for name, value in {"bootstrap_samples": 200, "show_case_results": True, **settings}.items():
        setattr(phase, name, value)
    phase.full_clean()
    phase.save()
    files = {}
    for k, (name, quality) in enumerate(QUALITIES.items()):
        path = write_clinical_predictions(latent, tmp_path / f"{name}.csv", column=column,
                                          quality=quality, seed=40 + k)
        submit_file(phase, factories.participant(phase, name), path, f"model {name}")
        files[name] = path
    for evaluation in Evaluation.objects.filter(state=State.QUEUED):
        scoring.score(evaluation.id, worker="t")
    for evaluation in Evaluation.objects.select_related("submission"):
        evaluation.submission.file.delete(save=False)  # a refresh reads stored rows only
    snapshot = services.refresh(phase.id)
    return phase, snapshot, files, folder / "labelsTs" / "labels.csv"


def direct(phase, files, labels_csv, *, column, truth_columns, classes=None):
    """clinical_bootstrap run directly on the submitted files and the organizer's labels."""
    cases = phase.task.case_names
    source = labels_csv.parent / "direct.csv"
    with open(labels_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    source_column = {"label": "egfr"}
    with open(source, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["case", *truth_columns])
        for row in rows:
            writer.writerow([row["case"], *(row[source_column.get(c, c)] for c in truth_columns)])
    truth = read_reference(source, cases=cases, columns=truth_columns, name="labels",
                           classes=classes)
    predictions = {name: read_predictions(path, cases=cases, columns=[column], name=name)
                   for name, path in files.items()}
    return predictions, truth


def test_a_classification_board_bootstraps_auroc_as_the_stats_library_does(tmp_path):
    phase, snapshot, files, labels_csv = board_for(tmp_path, "egfr", "probability")
    predictions, truth = direct(phase, files, labels_csv, column="probability",
                                truth_columns=["label"], classes=["wildtype", "mutant"])
    expected = clinical_bootstrap(
        predictions, truth, metric="auroc", config={"threshold": 0.5, "times": []}, n_boot=200,
        seed=phase.ranking_seed, task=phase.task.key, cases=phase.task.case_names).summary()
    assert snapshot.ranking_method == "classification-auroc"
    assert [e["entrant"] for e in snapshot.entries] == ["gbm", "cnn", "guess"]
    for entry in snapshot.entries:
        k = expected.algorithms.index(entry["entrant"])
        assert entry["rank"] == expected.full_rank[k]
        assert entry["score"] == pytest.approx(expected.aggregate_value[k], abs=1e-12)
        assert entry["score"] == pytest.approx(entry["aggregate"]["auroc"], abs=1e-12)
        assert entry["score_q025"] == pytest.approx(expected.aggregate_q025[k], abs=1e-12)
        assert entry["score_q975"] == pytest.approx(expected.aggregate_q975[k], abs=1e-12)
        assert entry["p_rank1"] == pytest.approx(expected.p_rank[k, 0])
    statistics = snapshot.statistics
    assert statistics["n_boot"] == 200 and statistics["kind"] == "classification"
    assert statistics["seed"] == phase.ranking_seed
    assert len(statistics["rank_distribution"]) == 3
    # DeLong's test for AUROC; the plot is drawn with the rank distribution's.
    assert statistics["significance_test"] == "DeLong's test"
    names = sorted(files)
    pvalues = delong_pvalues(np.stack([predictions[n]["probability"] for n in names]),
                             truth["label"])
    first, last = names.index("gbm"), names.index("guess")
    assert statistics["significance"][0][2] == bool(pvalues[first, last] <= 0.05)
    page = Client().get(f"/phases/{phase.id}/").content.decode()
    assert "model gbm" in page and "AUROC" in page
    for plot in ("blob", "significance"):
        response = Client().get(f"/phases/{phase.id}/plots/{plot}.svg")
        assert response.status_code == 200 and b"<svg" in response.content


def test_a_survival_board_ranks_by_the_c_index_with_a_paired_bootstrap_map(tmp_path):
    phase, snapshot, files, labels_csv = board_for(tmp_path, "overall_survival", "risk")
    predictions, truth = direct(phase, files, labels_csv, column="risk",
                                truth_columns=["time", "event"])
    expected = clinical_bootstrap(
        predictions, truth, metric="c_index", config={}, n_boot=200, seed=phase.ranking_seed,
        task=phase.task.key, cases=phase.task.case_names).summary()
    assert snapshot.ranking_method == "survival-c_index"
    for entry in snapshot.entries:
        k = expected.algorithms.index(entry["entrant"])
        assert entry["rank"] == expected.full_rank[k]
        assert entry["score"] == pytest.approx(expected.aggregate_value[k], abs=1e-12)
    assert snapshot.statistics["significance_test"] == "paired bootstrap test"


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.content[:300]
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_exports_and_api_show_set_metrics_and_predictions_never_labels(tmp_path):
    phase, snapshot, files, labels_csv = board_for(tmp_path, "egfr", "probability",
                                                   bootstrap_samples=0)
    assert snapshot.statistics["n_boot"] == 0  # ranked by the stored aggregate
    assert [e["entrant"] for e in snapshot.entries] == ["gbm", "cnn", "guess"]
    board = read_csv(Client().get(f"/phases/{phase.id}/leaderboard.csv"))
    assert [row["entrant"] for row in board] == ["gbm", "cnn", "guess"]
    assert float(board[0]["auroc"]) == pytest.approx(snapshot.entries[0]["aggregate"]["auroc"])
    assert {"average_precision", "brier", "log_loss"} <= set(board[0])
    rows = read_csv(Client().get(f"/phases/{phase.id}/cases.csv"))
    assert len(rows) == 3 * 30
    with open(files["cnn"], newline="") as fh:
        submitted = {row["case"]: float(row["probability"]) for row in csv.DictReader(fh)}
    assert {r["case"]: float(r["probability"]) for r in rows if r["entrant"] == "cnn"} == (
        pytest.approx(submitted))
    labels = labels_csv.read_text()
    assert "egfr" not in rows[0] and "label" not in rows[0]
    cases_json = Client().get(f"/phases/{phase.id}/cases.json").json()
    text = str(cases_json)
    assert cases_json["metrics"] == phase.scored_metrics()  # as segmentation's lists them
    assert {"auroc", "brier"} <= set(cases_json["metrics"])
    assert "mutant" not in text and "wildtype" not in text and "mutant" in labels
    api = Client().get(f"/api/v1/phases/{phase.id}/leaderboard/").json()
    assert [e["entrant"] for e in api["entries"]] == ["gbm", "cnn", "guess"]
    assert api["entries"][0]["aggregate"]["auroc"] == pytest.approx(
        snapshot.entries[0]["aggregate"]["auroc"])


def test_the_evaluation_page_describes_the_phase_in_words(tmp_path):
    phase, _, _, _ = board_for(tmp_path, "overall_survival", "risk", survival_tau=900.0,
                               survival_times=[200.0, 400.0], primary_metric="uno_c")
    text = " ".join(s for section in describe_phase(phase) for s in section.sentences)
    assert "case,risk (or case,overall_survival_risk)" in text
    assert "Uno's C is truncated at τ = 900 days." in text
    assert "Time-dependent AUC at 200, 400 days." in text
    assert "The leaderboard ranks by Uno's C: one value over all 30 test cases" in text
    assert "200 bootstrap resamples of the test cases" in text
    page = Client().get(f"/challenges/{phase.task.challenge.slug}/evaluation/")
    assert page.status_code == 200 and "truncated at τ = 900 days" in page.content.decode()


def test_the_data_and_submit_pages_say_what_to_predict(tmp_path):
    egfr, survival, _ = write_radiogenomics_tasks(tmp_path / "tasks", n_cases=6, seed=9, size=16)
    phases = [import_task(folder, challenge_slug="rg").phase for folder in (egfr, survival)]
    data = Client().get("/challenges/rg/data/").content.decode()
    assert "egfr; positive class mutant" in data
    assert "overall_survival: time to event in days, censored" in data
    user = factories.participant(phases[0], "submitter")
    client = Client()
    client.force_login(user)
    classification = client.get(f"/phases/{phases[0].id}/submit/").content.decode()
    assert "<code>case,egfr_probability</code>" in classification
    assert "the probability that the case is mutant" in classification
    survival_page = client.get(f"/phases/{phases[1].id}/submit/").content.decode()
    assert "<code>case,risk</code>" in survival_page


def test_both_tasks_enter_the_challenges_overall_ranking(tmp_path):
    egfr, survival, latent = write_radiogenomics_tasks(tmp_path / "tasks", n_cases=12, seed=3,
                                                       size=16)
    phases = [import_task(folder, challenge_slug="rg").phase for folder in (egfr, survival)]
    for phase, column in zip(phases, ("probability", "risk"), strict=True):
        phase.bootstrap_samples = 20
        phase.save()
        for k, (name, quality) in enumerate(QUALITIES.items()):
            path = write_clinical_predictions(latent, tmp_path / f"{name}-{column}.csv",
                                              column=column, quality=quality, seed=k)
            user = (factories.participant(phase, name) if column == "probability"
                    else get_user_model().objects.get(username=name))
            submit_file(phase, user, path)
    for evaluation in Evaluation.objects.filter(state=State.QUEUED):
        scoring.score(evaluation.id, worker="t")
    for phase in phases:
        services.refresh(phase.id)
    overall = services.refresh_challenge(phases[0].task.challenge_id)
    assert [len(ranking["entries"]) for ranking in overall.rankings] == [3]
    page = Client().get("/challenges/rg/leaderboard/")
    assert page.status_code == 200 and "gbm" in page.content.decode()
    rows = read_csv(Client().get("/challenges/rg/leaderboard.csv"))
    assert {row["entrant"] for row in rows} == set(QUALITIES)


def test_the_board_draws_the_tasks_own_resamples_as_every_other_bootstrap(tmp_path):
    """The board's resamples are the task's table (its key and case names, the phase's seed):
    the one a segmentation or detection bootstrap of the task draws, which an exported table
    reproduces; without the key and names another table would be drawn."""
    from leaderboard.stats.resamples import draw_resamples

    phase, snapshot, files, labels_csv = board_for(tmp_path, "overall_survival", "risk")
    predictions, truth = direct(phase, files, labels_csv, column="risk",
                                truth_columns=["time", "event"])
    table = draw_resamples(phase.task.key, sorted(phase.task.case_names), n_boot=200,
                           seed=phase.ranking_seed).table()
    assert set(table.task) == {phase.task.key}
    expected = clinical_bootstrap(predictions, truth, metric="c_index", config={},
                                  samples=table, task=phase.task.key,
                                  cases=phase.task.case_names).summary()
    anonymous = clinical_bootstrap(predictions, truth, metric="c_index", config={}, n_boot=200,
                                   seed=phase.ranking_seed).summary()
    intervals = {e["entrant"]: (e["score_q025"], e["score_q975"]) for e in snapshot.entries}
    for k, name in enumerate(expected.algorithms):
        assert intervals[name] == pytest.approx(
            (expected.aggregate_q025[k], expected.aggregate_q975[k]), abs=1e-12)
    assert any(intervals[name] != pytest.approx((anonymous.aggregate_q025[k],
                                                 anonymous.aggregate_q975[k]), abs=1e-12)
               for k, name in enumerate(anonymous.algorithms))


def test_a_survival_phase_lists_its_metrics_in_cases_json(tmp_path):
    phase, _, _, _ = board_for(tmp_path, "overall_survival", "risk", bootstrap_samples=0,
                               survival_times=[200.0, 400.0])
    body = Client().get(f"/phases/{phase.id}/cases.json").json()
    assert body["metrics"] == phase.scored_metrics()
    assert {"c_index", "uno_c", "td_auc", "integrated_brier"} <= set(body["metrics"])
    assert len(body["cases"]) == 3 * 30
