"""``python -m scorers segmentation`` end to end on real NIfTI folders."""

import csv
import json
import math
import struct
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from scorers.cli import main
from scorers.metrics import SEGMENTATION, metric_names
from scorers.segmentation import score_case
from tests.scorers.conftest import blob

METRICS = metric_names(SEGMENTATION)

SPACING = (0.8, 0.75, 2.5)
ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, data: np.ndarray) -> None:
    nib.Nifti1Image(data, np.diag([*SPACING, 1.0])).to_filename(path)


@pytest.fixture
def folders(tmp_path):
    """ref/ with three cases, pred/ with two of them plus one extra; per-case arrays."""
    rng = np.random.default_rng(11)
    ref_dir, pred_dir = tmp_path / "ref", tmp_path / "pred"
    ref_dir.mkdir()
    pred_dir.mkdir()
    arrays = {}
    for index, name in enumerate(["liver_001", "liver_002", "liver_003"]):
        ref = blob(rng, (20, 16, 8)).astype(np.uint8) + blob(rng, (20, 16, 8))
        pred = ref.copy() if index == 0 else (blob(rng, (20, 16, 8)) * 2).astype(np.uint8)
        _write(ref_dir / f"{name}.nii.gz", ref)
        if index < 2:
            _write(pred_dir / f"{name}.nii{'.gz' if index else ''}", pred)
        arrays[name] = (pred, ref)
    _write(pred_dir / "liver_099.nii.gz", arrays["liver_001"][1])
    (tmp_path / "dataset.json").write_text(json.dumps(
        {"name": "Liver", "labels": {"0": "background", "1": "liver", "2": "cancer"}}))
    return tmp_path, arrays


def test_json_rows_aggregates_and_missing_cases(folders, capsys):
    root, arrays = folders
    out = root / "scores.json"
    status = main(["segmentation", "--pred", str(root / "pred"), "--ref", str(root / "ref"),
                   "--dataset-json", str(root / "dataset.json"), "--tolerance", "1=1.5", "2=2",
                   "--out", str(out)])
    assert status == 0
    result = json.loads(out.read_text())
    assert result["missing_cases"] == ["liver_003"] and result["extra_cases"] == ["liver_099"]
    assert result["settings"] == {"surface": "surfel", "labels": {"1": "liver", "2": "cancer"},
                                  "nsd_tolerance_mm": {"1": 1.5, "2": 2.0}}
    assert "liver_003" in capsys.readouterr().err
    rows = {(row["case"], row["label"]): row for row in result["cases"]}
    assert set(rows) == {(c, label) for c in ("liver_001", "liver_002") for label in (1, 2)}
    for case in ("liver_001", "liver_002"):
        pred, ref = arrays[case]
        expected = score_case(pred, ref, spacing_mm=SPACING, labels=[1, 2],
                              nsd_tolerance_mm={1: 1.5, 2: 2.0})
        for label in (1, 2):
            for metric in METRICS:
                value = expected[label][metric]
                got = rows[(case, label)][metric]
                assert got is None if math.isnan(value) else got == pytest.approx(value, 1e-6)
    dice_1 = [rows[(c, 1)]["dice"] for c in ("liver_001", "liver_002")]
    assert result["aggregates"]["1"]["dice"] == {
        "mean": pytest.approx(np.mean(dice_1)), "median": pytest.approx(np.median(dice_1)),
        "n": 2, "n_undefined": 0}
    assert result["aggregates"]["1"]["hd"]["n_undefined"] == 1


def test_csv_output_and_voxel_surface(folders):
    root, arrays = folders
    out = root / "scores.csv"
    assert main(["segmentation", "--pred", str(root / "pred"), "--ref", str(root / "ref"),
                 "--labels", "1", "2", "--surface", "voxel", "--out", str(out)]) == 0
    with out.open() as stream:
        rows = list(csv.DictReader(stream))
    assert [(row["kind"], row["case"], row["label"]) for row in rows] == [
        ("case", "liver_001", "1"), ("case", "liver_001", "2"), ("case", "liver_002", "1"),
        ("case", "liver_002", "2"), ("mean", "", "1"), ("mean", "", "2"), ("median", "", "1"),
        ("median", "", "2")]
    assert float(rows[0]["dice"]) == 1.0
    expected = score_case(*arrays["liver_002"], spacing_mm=SPACING, labels=[1, 2],
                          nsd_tolerance_mm=1.0, surface="voxel")
    assert expected[1]["dice"] == 0.0 and rows[2]["hd"] == ""
    assert float(rows[3]["hd95"]) == pytest.approx(expected[2]["hd95"], rel=1e-6)
    assert float(rows[4]["dice"]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--labels", "1", "--out", "x.txt"], "expected a .json or .csv file"),
        (["--out", "x.json"], "give the labels to score"),
        (["--labels", "1", "2", "--tolerance", "1=1", "--out", "x.json"],
         "no tolerance for labels [2]"),
        (["--labels", "1", "--tolerance", "abc", "--out", "x.json"], "expects MM or LABEL=MM"),
        (["--labels", "1", "--tolerance", "-1", "--out", "x.json"], "finite and ≥ 0"),
        (["--labels", "1", "--out", "x.json"], "values 2 outside the task's labels [0, 1]"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(folders, capsys, arguments, message):
    root, _ = folders
    status = main(["segmentation", "--pred", str(root / "pred"), "--ref", str(root / "ref"),
                   *[str(root / a) if a.startswith("x.") else a for a in arguments]])
    assert status == 1
    lines = [line for line in capsys.readouterr().err.splitlines()
             if not line.startswith("warning")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_bad_dataset_json_and_geometry_mismatch(folders, capsys):
    root, arrays = folders
    (root / "bad.json").write_text("[1, 2]")
    assert main(["segmentation", "--pred", str(root / "pred"), "--ref", str(root / "ref"),
                 "--dataset-json", str(root / "bad.json"), "--out", str(root / "o.json")]) == 1
    assert "expected an MSD dataset.json" in capsys.readouterr().err
    _write(root / "pred" / "liver_002.nii.gz", arrays["liver_002"][0][:, :, :7])
    assert main(["segmentation", "--pred", str(root / "pred"), "--ref", str(root / "ref"),
                 "--labels", "1", "2", "--out", str(root / "o.json")]) == 1
    assert ("error: case liver_002: prediction shape (20, 16, 7) does not match the reference "
            "(20, 16, 8)") in capsys.readouterr().err
    _write(root / "pred" / "liver_002.nii", arrays["liver_002"][0])
    assert main(["segmentation", "--pred", str(root / "pred"), "--ref", str(root / "ref"),
                 "--labels", "1", "2", "--out", str(root / "o.json")]) == 1
    assert "case liver_002 appears twice" in capsys.readouterr().err


def test_runs_as_a_module(folders):
    root, _ = folders
    completed = subprocess.run(
        [sys.executable, "-m", "scorers", "segmentation", "--pred", str(root / "pred"),
         "--ref", str(root / "ref"), "--labels", "1", "2", "--out", str(root / "m.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    assert len(json.loads((root / "m.json").read_text())["cases"]) == 4
    missing = subprocess.run(
        [sys.executable, "-m", "scorers", "segmentation", "--pred", str(root / "nowhere"),
         "--ref", str(root / "ref"), "--labels", "1", "--out", str(root / "m.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: --pred nowhere: not a folder"


@pytest.mark.parametrize("inter", [float("inf"), float("nan")])
def test_a_non_finite_intercept_is_one_line_not_a_traceback(folders, inter):
    root, _ = folders
    path = root / "pred" / "liver_001.nii"
    raw = bytearray(path.read_bytes())
    struct.pack_into("<ff", raw, 112, 1.0, inter)
    path.write_bytes(bytes(raw))
    completed = subprocess.run(
        [sys.executable, "-m", "scorers", "segmentation", "--pred", str(root / "pred"),
         "--ref", str(root / "ref"), "--labels", "1", "2", "--out", str(root / "m.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 1
    errors = [line for line in completed.stderr.splitlines() if not line.startswith("warning")]
    assert errors == ["error: case liver_001: scaling (scl_slope/scl_inter) must be finite"]
