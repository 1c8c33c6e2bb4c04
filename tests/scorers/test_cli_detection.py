"""The ``detection`` subcommand end to end on real files (VOC XML folder, CSV / COCO JSON)."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scorers.cli_detection import add_parser, run
from scorers.detection import evaluate_coco, evaluate_voc
from tests.scorers.detection_fixtures import random_case, write_voc_xml


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="scorers")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(["detection", *argv]))


@pytest.fixture
def case(tmp_path):
    ground_truth, detections = random_case(np.random.default_rng(42), n_images=8,
                                           difficult_rate=0.2)
    ref = tmp_path / "ref"
    ref.mkdir()
    for image in ground_truth.values():
        write_voc_xml(ref, image, difficult_tag="Difficult")
    csv = tmp_path / "pred.csv"
    lines = ["image_id,label,score,xmin,ymin,xmax,ymax"] + [
        f"{i},{label},{score!r},{b[0]!r},{b[1]!r},{b[2]!r},{b[3]!r}"
        for i, label, score, b in zip(detections.image_ids, detections.labels,
                                      detections.scores.tolist(), detections.boxes.tolist(),
                                      strict=True)]
    csv.write_text("\n".join(lines) + "\n")
    return ground_truth, detections, ref, csv


def test_scores_a_box_csv_with_voc_and_coco(case, tmp_path):
    ground_truth, detections, ref, csv = case
    out = tmp_path / "scores.json"
    assert run_cli("--pred", str(csv), "--ref", str(ref), "--coco", "--out", str(out)) == 0
    result = json.loads(out.read_text())
    expected = evaluate_voc(ground_truth, detections)
    assert result["mAP"] == expected["mAP"]
    assert result["per_class"] == expected["per_class"]
    assert result["coco"] == evaluate_coco(ground_truth, detections)
    assert set(result) == {"mAP", "per_class", "coco"}


def test_options_reach_the_metric(case, tmp_path):
    ground_truth, detections, ref, csv = case
    out = tmp_path / "scores.json"
    assert run_cli("--pred", str(csv), "--ref", str(ref), "--iou", "0.3", "--voc2007",
                   "--no-plus-one", "--out", str(out)) == 0
    result = json.loads(out.read_text())
    assert set(result) == {"mAP", "per_class"}
    assert result["per_class"] == evaluate_voc(ground_truth, detections, iou_threshold=0.3,
                                               voc2007=True, plus_one=False)["per_class"]


def test_scores_coco_results_json(case, tmp_path):
    ground_truth, detections, ref, _ = case
    pred = tmp_path / "results.json"
    pred.write_text(json.dumps([
        {"image_id": i, "category_id": label, "score": score,
         "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]}
        for i, label, score, b in zip(detections.image_ids, detections.labels,
                                      detections.scores.tolist(), detections.boxes.tolist(),
                                      strict=True)]))
    out = tmp_path / "scores.json"
    assert run_cli("--pred", str(pred), "--ref", str(ref), "--out", str(out)) == 0
    got = json.loads(out.read_text())["per_class"]
    expected = evaluate_voc(ground_truth, detections)["per_class"]
    assert got == pytest.approx(expected, abs=1e-12)


def test_unknown_predicted_class_is_warned_about_not_scored(case, tmp_path, capsys):
    _, _, ref, csv = case
    csv.write_text(csv.read_text() + "img000,Z,0.99,1,1,5,5\n")
    out = tmp_path / "scores.json"
    assert run_cli("--pred", str(csv), "--ref", str(ref), "--out", str(out)) == 0
    warning = capsys.readouterr().err
    assert warning.startswith("warning: predicted classes without ground-truth boxes are not "
                              "scored: ") and warning.rstrip().endswith(", Z")


@pytest.mark.parametrize("pred_text, extra, message", [
    ("image_id,label,score,xmin,ymin,xmax,ymax\nnope,A,0.5,1,2,3,4\n", [],
     "error: pred.csv row 2: unknown image 'nope'"),
    ("image_id,label,score\n", [], "error: pred.csv: header must name the columns"),
    ("image_id,label,score,xmin,ymin,xmax,ymax\n", ["--iou", "1.5"], "error: --iou 1.5"),
    # 8 images in the fixture: at most 8,000 boxes, blank rows counted.
    ("image_id,label,score,xmin,ymin,xmax,ymax\n" + ",,,,,,\n" * 8001, [],
     "error: pred.csv: more than 8000 rows"),
])
def test_bad_input_exits_non_zero_with_one_line(case, tmp_path, capsys, pred_text, extra,
                                                message):
    _, _, ref, csv = case
    csv.write_text(pred_text)
    out = tmp_path / "scores.json"
    assert run_cli("--pred", str(csv), "--ref", str(ref), "--out", str(out), *extra) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert str(tmp_path) not in err
    assert not out.exists()


def test_bad_paths_exit_non_zero(case, tmp_path, capsys):
    _, _, ref, csv = case
    assert run_cli("--pred", str(tmp_path / "p.txt"), "--ref", str(ref), "--out",
                   str(tmp_path / "o.json")) == 1
    assert run_cli("--pred", str(csv), "--ref", str(tmp_path / "none"), "--out",
                   str(tmp_path / "o.json")) == 1
    assert run_cli("--pred", str(csv), "--ref", str(ref), "--out", str(tmp_path / "o.csv")) == 1
    assert run_cli("--pred", str(csv), "--ref", str(ref), "--out",
                   str(tmp_path / "missing" / "o.json")) == 1
    lines = [line for line in capsys.readouterr().err.splitlines()
             if not line.startswith("warning:")]
    assert [line.split(":")[0] for line in lines] == ["error"] * 4
    assert "expected a .csv box file" in lines[0] and "not a folder" in lines[1]
    assert "expected a .json file" in lines[2] and "cannot write o.json" in lines[3]


def test_python_dash_m_scorers_detection(case, tmp_path):
    ground_truth, detections, ref, csv = case
    out = tmp_path / "scores.json"
    done = subprocess.run(
        [sys.executable, "-m", "scorers", "detection", "--pred", str(csv), "--ref", str(ref),
         "--coco", "--out", str(out)],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["coco"] == evaluate_coco(ground_truth, detections)
    csv.write_text("image_id,label,score,xmin,ymin,xmax,ymax\nimg000,A,NaN,1,2,3,4\n")
    done = subprocess.run(
        [sys.executable, "-m", "scorers", "detection", "--pred", str(csv), "--ref", str(ref),
         "--out", str(out)],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: pred.csv row 2 score: expected a decimal number")
    assert done.stderr.count("\n") == 1
