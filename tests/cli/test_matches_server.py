"""The installed offline CLIs reproduce a server's leaderboard to the last digit.

Real NIfTI submissions (one with a missing case and one with an empty prediction of a label)
go through the server's services (submit, score, refresh the leaderboard); then the installed
``podium-score`` and ``podium-rank`` run as subprocesses from another folder, with no Podium
environment, on the same files and the phase's exported config.json, and their numbers are
compared with the leaderboard's JSON and CSV exports.
"""

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.test import Client

from evaluation.models import State
from evaluation.services import scoring
from evaluation.services.demo_data import write_nifti
from evaluation.services.importing import import_task
from leaderboard.services import refresh
from scorers.metrics import image_diagonal_mm
from tests import factories
from tests.evaluation.helpers import submit_file

pytestmark = pytest.mark.django_db

BIN = Path(sys.executable).parent
CASES = ("cube_000", "cube_001", "cube_002", "cube_003")


def installed(command: str) -> Path:
    path = BIN / command
    assert path.exists(), f"{command} is not installed: run scripts/bootstrap.sh"
    return path


def run_cli(command: str, *args, cwd: Path) -> subprocess.CompletedProcess:
    """An installed CLI in ``cwd``, with neither the Podium nor the Django environment."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PODIUM_", "DJANGO_")) and k != "PYTHONPATH"}
    return subprocess.run([str(installed(command)), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def predictions(name: str) -> dict[str, np.ndarray]:
    """alice: every case one voxel off; bob: no cube_003, and label 2 left out of cube_001
    (HD of label 2 undefined there); carol: two voxels off."""
    ref, pred, _ = factories.cube_labels()
    if name == "alice":
        return dict.fromkeys(CASES, pred)
    if name == "bob":
        without_small = np.where(pred == 2, 0, pred).astype(np.uint8)
        return {"cube_000": pred, "cube_001": without_small, "cube_002": pred}
    shifted = np.zeros_like(ref)
    shifted[4:14, 2:12, 2:6] = 1
    shifted[14:18, 15:19, 6:8] = 2
    return dict.fromkeys(CASES, shifted)


@pytest.fixture
def served(tmp_path):
    """The phase, its exported config and the leaderboard's exports, after three real
    submissions were scored."""
    task = factories.write_cube_task(tmp_path / "task", cases=CASES)
    phase = import_task(task, challenge_slug="cubes").phase
    phase.allow_partial = True
    phase.primary_metric = "hd"  # a distance: worst values are the image diagonal
    phase.bootstrap_samples = 200
    phase.save()
    spacing = factories.cube_labels()[2]
    for name in ("alice", "bob", "carol"):
        folder = tmp_path / "preds" / name
        folder.mkdir(parents=True)
        archive = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(archive, "w") as zipped:
            for case, array in predictions(name).items():
                write_nifti(folder / f"{case}.nii.gz", array, spacing)
                zipped.write(folder / f"{case}.nii.gz", arcname=f"{case}.nii.gz")
        submission = submit_file(phase, factories.participant(phase, name), archive)
        evaluation = submission.evaluations.get()
        scoring.score(evaluation.id, worker="test")
        evaluation.refresh_from_db()
        assert evaluation.state == State.SUCCEEDED, evaluation.participant_message
    refresh(phase.id)
    # Anyone fetches the leaderboard and the config; the per-case table is the organizer's
    # (participants see per-case values only where the phase shows them).
    organizer = factories.user("organizer")
    phase.task.challenge.organizers.add(organizer)
    organizer_client = Client()
    organizer_client.force_login(organizer)
    exports = {}
    for name, client in (("config.json", Client()), ("leaderboard.json", Client()),
                         ("leaderboard.csv", Client()), ("ranking-input.csv", organizer_client)):
        response = client.get(f"/phases/{phase.id}/{name}")
        assert response.status_code == 200, name
        exports[name] = response.content.decode()
    config = tmp_path / "elsewhere" / "phase.json"
    config.parent.mkdir()
    config.write_text(exports["config.json"])
    return {"phase": phase, "task": task, "preds": tmp_path / "preds", "config": config,
            "cwd": config.parent, **exports}


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_offline_scores_and_rankings_equal_the_leaderboard(served):
    cwd, config = served["cwd"], served["config"]
    board = json.loads(served["leaderboard.json"])
    entries = {entry["entrant"]: entry for entry in board["entries"]}
    assert set(entries) == {"alice", "bob", "carol"}
    tables = []
    for name in entries:
        out, table = cwd / f"{name}.json", cwd / f"{name}.csv"
        result = run_cli("podium-score", "segmentation", "--pred", served["preds"] / name,
                         "--ref", served["task"] / "labelsTs", "--config", config,
                         "--out", out, "--ranking-input", table, cwd=cwd)
        assert result.returncode == 0, result.stderr
        scored = json.loads(out.read_text())
        # The aggregate, worst values counted, is the leaderboard's to the last digit.
        assert scored["aggregate"] == entries[name]["aggregate"]
        tables.append(table)
    bob = json.loads((cwd / "bob.json").read_text())
    assert bob["missing_cases"] == ["cube_003"]
    assert "1 cases without a prediction count as the worst value: cube_003" in run_cli(
        "podium-score", "segmentation", "--pred", served["preds"] / "bob", "--ref",
        served["task"] / "labelsTs", "--config", config, "--out", cwd / "again.json",
        cwd=cwd).stderr
    # Label 2's HD: undefined on cube_001 and missing on cube_003, both the image diagonal.
    diagonal = image_diagonal_mm({"shape": [20, 20, 10], "spacing_mm": [1.0, 1.0, 2.0]})
    defined = [row["hd"] for row in bob["cases"] if row["label"] == 2 and row["hd"] is not None]
    assert len(defined) == 2
    assert bob["aggregate"]["2"]["hd"] == pytest.approx((sum(defined) + 2 * diagonal) / 4)
    assert bob["aggregates"]["2"]["hd"]["mean"] == pytest.approx(sum(defined) / 2)

    # The leaderboard CSV's aggregate columns ("small hd", ...) hold the same numbers.
    for row in csv_rows(served["leaderboard.csv"]):
        scored = json.loads((cwd / f"{row['entrant']}.json").read_text())
        for label, name in (("1", "big"), ("2", "small")):
            for metric_name, value in scored["aggregate"][label].items():
                assert float(row[f"{name} {metric_name}"]) == value

    # The table podium-score writes is the one the leaderboard ranked, digit for digit.
    offline_rows = sorted(tuple(row.values()) for table in tables
                          for row in csv_rows(table.read_text()))
    server_rows = sorted(tuple(row.values()) for row in csv_rows(served["ranking-input.csv"]))
    assert offline_rows == server_rows and len(server_rows) == 12

    ranked = run_cli("podium-rank", "rank", "--config", config, "--input", *tables,
                     "--out", cwd / "ranking.csv", cwd=cwd)
    assert ranked.returncode == 0, ranked.stderr
    for row in csv_rows((cwd / "ranking.csv").read_text()):
        entry = entries[row["algorithm"]]
        assert float(row["rank"]) == entry["rank"]
        assert float(row["score"]) == entry["ranking_score"]

    booted = run_cli("podium-rank", "bootstrap", "--config", config, "--input", *tables,
                     "--out-dir", cwd / "boot", cwd=cwd)
    assert booted.returncode == 0, booted.stderr
    assert board["n_boot"] == 200 and board["seed"] == served["phase"].ranking_seed
    for row in csv_rows((cwd / "boot" / "aggregates.csv").read_text()):
        entry = entries[row["algorithm"]]
        assert [float(row[k]) for k in ("value", "q025", "q975")] == [
            entry["score"], entry["score_q025"], entry["score_q975"]]
    for row in csv_rows((cwd / "boot" / "summary.csv").read_text()):
        entry = entries[row["algorithm"]]
        assert [float(row[k]) for k in ("full_rank", "q025", "q975", "median_rank", "p_rank1")
                ] == [entry["rank"], entry["rank_q025"], entry["rank_q975"],
                      entry["rank_median"], entry["p_rank1"]]
    # The server's own ranking input ranks the same way through the CLI.
    (cwd / "server.csv").write_text(served["ranking-input.csv"])
    again = run_cli("podium-rank", "rank", "--config", config, "--input", cwd / "server.csv",
                    "--out", cwd / "server-ranking.csv", cwd=cwd)
    assert again.returncode == 0, again.stderr
    assert (cwd / "server-ranking.csv").read_text() == (cwd / "ranking.csv").read_text()


def test_without_the_config_the_worst_values_are_not_applied(served):
    """What the issue saw: the plain CLI leaves undefined and missing cases out."""
    cwd = served["cwd"]
    result = run_cli("podium-score", "segmentation", "--pred", served["preds"] / "bob",
                     "--ref", served["task"] / "labelsTs", "--labels", "1", "2",
                     "--out", cwd / "plain.json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    plain = json.loads((cwd / "plain.json").read_text())
    board = json.loads(served["leaderboard.json"])
    bob = next(e for e in board["entries"] if e["entrant"] == "bob")
    assert plain["aggregates"]["2"]["hd"]["mean"] < bob["aggregate"]["2"]["hd"]
