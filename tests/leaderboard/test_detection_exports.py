"""A detection phase's per-image exports: counts equal a recount from scorers.detection.match_voc
run directly on the task's VOC files and the submitted boxes; visible as segmentation's."""

import csv
import io

import numpy as np
import pytest
from django.test import Client

from challenges import provenance
from evaluation.models import Evaluation, State
from evaluation.services import scoring
from evaluation.services.demo_data import write_box_predictions, write_detection_task
from evaluation.services.importing import import_task
from leaderboard import services
from scorers.boxes import read_box_csv
from scorers.detection import match_voc
from scorers.voc import read_voc_xml
from tests import factories
from tests.evaluation.helpers import submit_file

pytestmark = pytest.mark.django_db

COUNTS = ("positives", "detections", "true_positives", "false_positives")


@pytest.fixture
def detection(tmp_path):
    folder, boxes = write_detection_task(tmp_path / "tasks", key="Task10_Dx", n_images=6, seed=7)
    phase = import_task(folder, challenge_slug="dx").phase
    phase.primary_metric = "mAP"
    phase.bootstrap_samples = 0
    phase.show_case_results = True
    phase.save()
    predictions = {}
    for k, quality in enumerate((0.8, 0.4)):
        name = f"=det{k}" if k else f"det{k}"
        path = write_box_predictions(boxes, tmp_path / f"boxes{k}.csv", quality=quality,
                                     seed=20 + k)
        submit_file(phase, factories.participant(phase, name), path)
        predictions[name] = path
    for evaluation in Evaluation.objects.filter(state=State.QUEUED):
        scoring.score(evaluation.id, worker="t")
    services.refresh(phase.id)
    return phase, folder, predictions


def recount(phase, folder, predictions) -> set[tuple]:
    """(entrant, image, class, positives, detections, TP, FP) for every image and class with a
    non-difficult box or a detection, counted from match_voc's arrays."""
    task = phase.task
    truth = {case: read_voc_xml(folder / "labelsTs" / f"{case}.xml", name=case,
                                classes=task.class_names) for case in task.case_names}
    expected = set()
    for name, path in predictions.items():
        matches = match_voc(truth, read_box_csv(path, name=name, image_ids=task.case_names,
                                                classes=task.class_names))
        for c, cls in enumerate(matches.classes):
            for i, image in enumerate(matches.image_ids):
                mine = matches.det_image[c] == i
                tp = int(np.sum(matches.det_tp[c][mine]))
                boxes, found = int(matches.positives[i, c]), int(np.sum(mine))
                if boxes or found:
                    expected.add((name, image, cls, boxes, found, tp, found - tp))
    return expected


def test_the_per_image_csv_counts_what_match_voc_counts(detection):
    phase, folder, predictions = detection
    response = Client().get(f"/phases/{phase.id}/cases.csv")
    assert response.status_code == 200
    header, *rows = csv.reader(io.StringIO(response.content.decode()))
    assert header == ["entrant", "submission", "case", "label", "label_name", *COUNTS,
                      *provenance.csv_header(), "participant"]
    got = {(row[0].removeprefix("'"), row[2], row[4], *map(int, row[5:9])) for row in rows}
    assert len(got) == len(rows)
    expected = recount(phase, folder, predictions)
    assert got == expected
    assert sum(tp for *_, tp, _ in expected) > 0 and sum(fp for *_, fp in expected) > 0
    assert {row[0] for row in rows} == {"det0", "'=det1"}  # a formula is defused
    assert all(phase.task.class_names[int(row[3])] == row[4] for row in rows)


def test_the_per_image_json_has_the_same_rows(detection):
    phase, folder, predictions = detection
    body = Client().get(f"/phases/{phase.id}/cases.json").json()
    assert body["task"] == "Task10_Dx" and body["metrics"] == []
    got = {(row["entrant"], row["case"], row["label_name"], *(row[c] for c in COUNTS))
           for row in body["cases"]}
    assert got == recount(phase, folder, predictions)
    assert not any("ap" in key.lower() for row in body["cases"] for key in row)


def test_per_image_exports_are_visible_as_segmentations(detection):
    phase, _, _ = detection
    client = Client()
    page = client.get(f"/phases/{phase.id}/").content.decode()
    assert f"/phases/{phase.id}/cases.csv" in page
    assert "ranking-input.csv" not in page
    assert client.get(f"/phases/{phase.id}/ranking-input.csv").status_code == 404
    phase.show_case_results = False
    phase.save()
    for export in ("cases.csv", "cases.json"):
        assert client.get(f"/phases/{phase.id}/{export}").status_code == 404
    page = client.get(f"/phases/{phase.id}/").content.decode()
    assert f"/phases/{phase.id}/cases.csv" not in page
    organizer = factories.user("boss")
    phase.task.challenge.organizers.add(organizer)
    client.force_login(organizer)
    for export in ("cases.csv", "cases.json"):
        assert client.get(f"/phases/{phase.id}/{export}").status_code == 200
