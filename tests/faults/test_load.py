"""Load and change under load: a burst of 30 submissions on 2 workers, and a new ground-truth
version activated while the workers are busy (every submission re-scored exactly once on the
new version, the superseded evaluations cancelled, the leaderboard on the new version)."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from evaluation.models import Evaluation, State

from .checks import (
    assert_scores,
    leaderboard_fresh,
    predictions_zip,
    record,
    settled,
    undisturbed,
    write_task,
)
from .conftest import import_phase, participants, submit

pytestmark = [pytest.mark.stack, pytest.mark.faults]


def test_burst_of_30_submissions_on_2_workers(stack, task_folder, tmp_path):
    phase = import_phase(stack, task_folder, "faults-burst")
    archives = [predictions_zip(tmp_path, q) for q in (0, 1, 2, 3, 4)] * 6
    expected = {a.name: undisturbed(tmp_path, a) for a in set(archives)}
    stack.worker("burst-w0")
    stack.worker("burst-w1")
    headers = participants(phase, len(archives))
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        submissions = list(pool.map(lambda pair: submit(stack, phase, *pair),
                                    zip(headers, archives, strict=True)))
    outcome = settled(phase, submissions, within=240, since=started, stack=stack)
    assert len(outcome.evaluations) == 30
    for evaluation in outcome.evaluations:
        assert_scores(evaluation, expected[evaluation.submission.file_name])
    assert {e.attempts for e in outcome.evaluations} == {1}
    snapshot = leaderboard_fresh(phase, within=90)
    assert len(snapshot.entries) == 30
    record("burst of 30 submissions on 2 workers", injected=30, recovered=30,
           seconds=[outcome.seconds], evaluations=30, note="all 30 scored")


def test_new_ground_truth_activated_while_workers_are_busy(stack, task_folder, tmp_path):
    phase = import_phase(stack, task_folder, "faults-groundtruth")
    archives = [predictions_zip(tmp_path, q) for q in (1, 2, 3, 4)] * 2
    on_v2 = {a.name: undisturbed(tmp_path, a, label_shift=1) for a in set(archives)}
    headers = participants(phase, len(archives))
    submissions = [submit(stack, phase, h, a) for h, a in zip(headers, archives, strict=True)]
    stack.worker("gt-w0", PODIUM_SCORING_SHARD_CASES="2")
    stack.worker("gt-w1", PODIUM_SCORING_SHARD_CASES="2")
    v2 = write_task(tmp_path / "v2", label_shift=1)
    injected = time.monotonic()
    out = stack.manage("import_msd_task", str(v2), "--challenge", "faults-groundtruth",
                       "--activate")
    assert "ground truth v2" in out
    outcome = settled(phase, submissions, within=180, since=injected, stack=stack)
    phase.refresh_from_db()
    assert phase.active_ground_truth.version == 2
    for submission in submissions:
        current = Evaluation.objects.filter(submission_id=submission,
                                            ground_truth=phase.active_ground_truth)
        assert current.count() == 1, f"{submission}: scored {current.count()} times on v2"
        assert_scores(current.get(), on_v2[current.get().submission.file_name])
        older = Evaluation.objects.filter(submission_id=submission).exclude(
            ground_truth=phase.active_ground_truth)
        assert set(older.values_list("state", flat=True)) <= {State.SUCCEEDED, State.CANCELLED}
    snapshot = leaderboard_fresh(phase, within=90)
    assert snapshot.ground_truth_id == phase.active_ground_truth_id
    record("new ground-truth version activated while workers are busy", injected=1,
           recovered=1, seconds=[outcome.seconds], evaluations=len(outcome.evaluations),
           note=f"{len(submissions)} submissions re-scored once each on v2")
