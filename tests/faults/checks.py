"""What every fault test builds and asserts.

The data: an MSD task of ``CASES`` 96×96×48 CT-like cases with two labels (big enough that a
worker spends a second or two scoring a submission, so a fault lands in the middle), and
prediction archives of graded quality.

The checks after a fault (:func:`settled`), each against something computed without the fault:
every evaluation terminal within a bound, none lost (each submission has its evaluation), no
per-case row twice, per-case values and aggregates equal to an *undisturbed run* (the same
archive scored in the test's own process, on its own copy of the task), and the stored
leaderboard equal to a fresh computation from the rows.

:func:`record` keeps each test's figures (faults injected, recovered, recovery time); the
suite's conftest prints them as a table at the end of the run (docs/reliability.md).
"""

import json
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np

from challenges.models import Phase
from evaluation.models import TERMINAL_STATES, CaseResult, Evaluation, State, Submission
from evaluation.services import scoring
from evaluation.services.demo_data import write_nifti
from evaluation.services.importing import import_task
from leaderboard.models import LeaderboardSnapshot
from leaderboard.services import _phase_inputs, compute_board
from tests import factories
from tests.conftest import wait_for
from tests.evaluation.helpers import submit_file

CASES = [f"fault_{i:03d}" for i in range(8)]
SHAPE, SPACING = (160, 160, 96), (0.8, 0.8, 2.5)
RESULTS: list[dict] = []  # what record() kept, for the summary table (conftest.py)


def reference() -> np.ndarray:
    label = np.zeros(SHAPE, np.uint8)
    label[20:140, 30:130, 10:80] = 1
    label[60:84, 60:90, 30:46] = 2
    return label


def prediction(quality: int) -> np.ndarray:
    """Worse with ``quality``: the reference shifted by ``quality`` voxels."""
    return np.roll(reference(), quality, axis=0)


def write_task(root: Path, key: str = "Task11_Faults", *, label_shift: int = 0) -> Path:
    """The task's MSD folder; ``label_shift`` moves the hidden labels (a new ground-truth
    version)."""
    folder = root / key
    for sub in ("imagesTs", "labelsTs"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    label = np.roll(reference(), label_shift, axis=1)
    for case in CASES:
        write_nifti(folder / "labelsTs" / f"{case}.nii.gz", label, SPACING)
        write_nifti(folder / "imagesTs" / f"{case}.nii.gz", reference().astype(np.float32),
                    SPACING)
    (folder / "dataset.json").write_text(json.dumps({
        "name": "Faults", "tensorImageSize": "3D", "modality": {"0": "CT"},
        "labels": {"0": "background", "1": "organ", "2": "lesion"},
        "numTest": len(CASES), "test": [f"./imagesTs/{c}.nii.gz" for c in CASES],
    }))
    return folder


def predictions_zip(root: Path, quality: int) -> Path:
    path = root / f"predictions-q{quality}.zip"
    if not path.exists():
        scratch = root / f"q{quality}"
        scratch.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for case in CASES:
                write_nifti(scratch / f"{case}.nii.gz", prediction(quality), SPACING)
                archive.write(scratch / f"{case}.nii.gz", arcname=f"{case}.nii.gz")
    return path


@dataclass
class Expected:
    """An undisturbed run's results of one archive: values by (case, label), and aggregate."""

    rows: dict
    aggregate: dict


_undisturbed: dict[tuple, Expected] = {}


def undisturbed(root: Path, archive: Path, *, label_shift: int = 0) -> Expected:
    """Score ``archive`` in this process against a copy of the task (imported here, on this
    process's own storage), once per archive and labels."""
    key = (archive.name, label_shift)
    if key not in _undisturbed:
        folder = write_task(root / f"undisturbed-{label_shift}", label_shift=label_shift)
        phase = import_task(folder, challenge_slug=f"undisturbed-{label_shift}").phase
        user = factories.participant(phase)
        with mock.patch("evaluation.services.submission.enqueue"):  # scored here, not queued
            evaluation = submit_file(phase, user, archive).evaluations.get()
        scoring.score(evaluation.id, worker="undisturbed")
        evaluation.refresh_from_db()
        assert evaluation.state == State.SUCCEEDED, evaluation.participant_message
        _undisturbed[key] = Expected(rows_of(evaluation), evaluation.aggregate)
    return _undisturbed[key]


def rows_of(evaluation: Evaluation) -> dict:
    return {(r.case, r.label): r.values
            for r in CaseResult.objects.filter(evaluation=evaluation)}


@dataclass
class Outcome:
    evaluations: list[Evaluation]
    seconds: float
    by_state: dict = field(default_factory=dict)


def settled(phase: Phase, submissions: list[str], *, within: float, since: float,
            stack=None) -> Outcome:
    """Wait until every submission's evaluations are terminal (at most ``within`` seconds
    after ``since``, a ``time.monotonic()``), then check none is lost or scored twice."""

    def done():
        if stack is not None:
            stack._alive()
        states = set(Evaluation.objects.filter(submission_id__in=submissions)
                     .values_list("state", flat=True))
        return states and states <= set(TERMINAL_STATES)

    remaining = within - (time.monotonic() - since)
    try:
        wait_for(done, timeout=max(remaining, 1), interval=0.1,
                 what=f"{len(submissions)} submissions to end")
    except BaseException:
        if stack is not None:
            print(stack.logs())
        raise
    seconds = time.monotonic() - since
    assert Submission.objects.filter(pk__in=submissions).count() == len(submissions)
    evaluations = list(Evaluation.objects.filter(submission_id__in=submissions)
                       .order_by("created"))
    lost = set(submissions) - {str(e.submission_id) for e in evaluations}
    assert not lost, f"submissions without an evaluation: {lost}"
    for evaluation in evaluations:
        rows = CaseResult.objects.filter(evaluation=evaluation)
        keys = list(rows.values_list("case", "label"))
        assert len(keys) == len(set(keys)), f"{evaluation.id}: a case row written twice"
    by_state: dict = {}
    for evaluation in evaluations:
        by_state[evaluation.state] = by_state.get(evaluation.state, 0) + 1
    return Outcome(evaluations, seconds, by_state)


def assert_scores(evaluation: Evaluation, expected: Expected) -> None:
    """The evaluation succeeded with exactly the undisturbed run's values."""
    assert evaluation.state == State.SUCCEEDED, (evaluation.state,
                                                 evaluation.participant_message,
                                                 evaluation.organizer_log[-2000:])
    assert rows_of(evaluation) == expected.rows
    assert evaluation.aggregate == expected.aggregate


def leaderboard_fresh(phase: Phase, *, within: float = 60) -> LeaderboardSnapshot:
    """Wait until the phase's stored leaderboard is computed from its current evaluations
    (the healer's job when a refresh message was lost), then check that it equals a fresh
    computation from the rows."""

    def current():
        phase.refresh_from_db()
        snapshot = LeaderboardSnapshot.objects.filter(phase=phase).first()
        if snapshot is None or snapshot.refresh_requested_at is not None:
            return None
        _, _, digest = _phase_inputs(phase)
        return snapshot if snapshot.input_sha256 == digest else None

    snapshot = wait_for(current, timeout=within, interval=0.5,
                        what="the leaderboard to catch up with the evaluations")
    ranked, _, _ = _phase_inputs(phase)
    fresh = json.loads(json.dumps(compute_board(phase, ranked).entries, default=str))
    assert snapshot.entries == fresh
    return snapshot


def record(fault: str, *, injected: int, recovered: int, seconds: list[float],
           evaluations: int, note: str = "") -> None:
    """Keep one test's figures for the summary table (docs/reliability.md); with
    PODIUM_FAULT_REPORT set, also append them to that file as a JSON line."""
    line = {"fault": fault, "injected": injected, "recovered": recovered,
            "evaluations": evaluations,
            "recovery_s": [round(s, 1) for s in seconds], "note": note}
    RESULTS.append(line)
    if os.environ.get("PODIUM_FAULT_REPORT"):
        with open(os.environ["PODIUM_FAULT_REPORT"], "a") as fh:
            fh.write(json.dumps(line) + "\n")
