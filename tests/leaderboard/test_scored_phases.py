"""Snapshots of phases scored by the real scoring service: segmentation on real NIfTI files, and
detection, whose mAP bootstrap over images equals leaderboard.stats.detection_bootstrap run
directly on the task's VOC files and the submitted boxes."""

import re

import pytest
from django.test import Client

from evaluation.models import Evaluation, State
from evaluation.services import scoring
from evaluation.services.demo_data import write_box_predictions, write_detection_task
from evaluation.services.importing import import_task
from leaderboard import services
from leaderboard.stats import detection_bootstrap
from scorers.boxes import read_box_csv
from scorers.detection import match_voc
from scorers.voc import read_voc_xml
from tests import factories
from tests.evaluation.helpers import cube_phase, cube_predictions_zip, prediction_zip, submit_file

pytestmark = pytest.mark.django_db


def score_all():
    for evaluation in Evaluation.objects.filter(state=State.QUEUED):
        scoring.score(evaluation.id, worker="t")


def test_a_scored_segmentation_phase(tmp_path):
    phase = cube_phase(tmp_path, show_case_results=True)
    _ref, pred, spacing = factories.cube_labels()
    poor = pred.copy()
    poor[pred == 2] = 0  # misses the small label: Dice 0, distances undefined (worst value)
    submit_file(phase, factories.participant(phase, "good"), cube_predictions_zip(tmp_path),
                "U-Net")
    submit_file(phase, factories.participant(phase, "poor"), prediction_zip(
        tmp_path / "poor.zip", {"cube_000": poor, "cube_001": poor}, spacing))
    score_all()
    snapshot = services.refresh(phase.id)
    assert [(e["rank"], e["entrant"]) for e in snapshot.entries] == [(1, "good"), (2, "poor")]
    assert snapshot.entries[0]["score"] == pytest.approx((0.9 + 2 / 3) / 2)
    assert snapshot.entries[1]["score"] == pytest.approx(0.45)
    assert snapshot.entries[0]["n_cases"] == 2
    # Both cases favour "good": every resample ranks it first.
    assert snapshot.entries[0]["p_rank1"] == 1.0
    assert snapshot.statistics["case_values"]["dice"][1] == [0.45, 0.45]
    page = Client().get(f"/phases/{phase.id}/").content.decode()
    assert "U-Net" in page and "id=\"podium-plot\"" in page


def test_a_detection_phase_bootstraps_map_over_images(tmp_path):
    folder, boxes = write_detection_task(tmp_path / "tasks", key="Task10_Dx", n_images=8, seed=4)
    phase = import_task(folder, challenge_slug="dx").phase
    phase.primary_metric = "mAP"
    phase.bootstrap_samples = 300
    phase.save()
    predictions = {}
    for k, quality in enumerate((0.9, 0.6, 0.3)):
        path = write_box_predictions(boxes, tmp_path / f"boxes{k}.csv", quality=quality,
                                     seed=10 + k)
        submit_file(phase, factories.participant(phase, f"det{k}"), path)
        predictions[f"det{k}"] = path
    score_all()
    for evaluation in Evaluation.objects.select_related("submission"):
        evaluation.submission.file.delete(save=False)  # a refresh reads stored rows only
    snapshot = services.refresh(phase.id)

    task = phase.task
    truth = {case: read_voc_xml(folder / "labelsTs" / f"{case}.xml", name=case,
                                classes=task.class_names) for case in task.case_names}
    matches = {
        name: match_voc(truth, read_box_csv(path, name=name, image_ids=task.case_names,
                                            classes=task.class_names))
        for name, path in predictions.items()
    }
    expected = detection_bootstrap(matches, task=task.key, n_boot=300,
                                   seed=phase.ranking_seed).summary()
    assert snapshot.ranking_method == "detection-mAP"
    for entry in snapshot.entries:
        k = expected.algorithms.index(entry["entrant"])
        assert entry["rank"] == expected.full_rank[k]
        assert entry["score"] == pytest.approx(expected.aggregate_value[k], rel=1e-12)
        assert entry["score"] == pytest.approx(entry["aggregate"]["mAP"], rel=1e-12)
        assert entry["score_q025"] == pytest.approx(expected.aggregate_q025[k], rel=1e-12)
        assert (entry["rank_q025"], entry["rank_q975"]) == (expected.q025[k], expected.q975[k])
        assert entry["p_rank1"] == expected.p_rank[k, 0]
        assert entry["n_cases"] == 8
    assert snapshot.plots.get(name="blob").svg.startswith("<svg")
    owner = Client()
    best = Evaluation.objects.select_related("submission__creator").get(
        submission__creator__username="det0")
    owner.force_login(best.submission.creator)
    page = owner.get(f"/submissions/{best.submission_id}/").content.decode()
    assert re.search(r"<th[^>]*>mAP</th><th[^>]*>AP</th><th[^>]*>AP50</th><th[^>]*>AP75</th>",
                     page)
    assert re.search(rf"<t[dh][^>]*>all</t[dh]><td>{best.aggregate['mAP']:.4f}</td>", page)
    assert "VOC AP per class" in page
    client = Client()
    page = client.get(f"/phases/{phase.id}/").content.decode()
    assert 'id="blob-plot"' in page and 'id="case-plot"' not in page
    heading = re.search(r'<span id="board-ranking-method">(.*?)</span>', page, re.S)[1]
    assert heading == ("Ranking by mAP: one value over all 8 test images, not a mean of "
                       "per-image values (larger is better; ties: min); the rank uncertainty "
                       "comes from a bootstrap over the test images.")
    assert heading.count("mAP") == 1  # said once, not "Ranking by mAP: ranked by mAP"
    assert client.get(f"/phases/{phase.id}/cases.csv").status_code == 404
    assert client.get(f"/phases/{phase.id}/leaderboard.csv").status_code == 200


def test_a_detection_phase_ranked_by_coco_ap_has_no_bootstrap(tmp_path):
    folder, boxes = write_detection_task(tmp_path / "tasks", key="Task10_Dx", n_images=4, seed=6)
    phase = import_task(folder, challenge_slug="dx").phase
    phase.primary_metric = "AP"
    phase.save()
    for k, quality in enumerate((0.9, 0.2)):
        path = write_box_predictions(boxes, tmp_path / f"b{k}.csv", quality=quality, seed=k)
        submit_file(phase, factories.participant(phase, f"coco{k}"), path)
    score_all()
    snapshot = services.refresh(phase.id)
    assert [e["score"] for e in snapshot.entries] == sorted(
        (e["aggregate"]["AP"] for e in snapshot.entries), reverse=True)
    assert snapshot.statistics["n_boot"] == 0 and snapshot.seed is None
