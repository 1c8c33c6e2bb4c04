"""Storage and disk faults: the object store unreachable for a few seconds while a worker
reads from it (retried, never blamed on the participant), and a worker whose scratch disk is
full (failed at once with an operator-facing log line; re-queued by the organizer once the
disk has room, it succeeds)."""

import time

import pytest

from evaluation.models import State
from tests import factories

from .checks import (
    CASES,
    assert_scores,
    leaderboard_fresh,
    predictions_zip,
    record,
    settled,
    undisturbed,
)
from .conftest import import_phase, participants, submit
from .stack import HTTP

pytestmark = [pytest.mark.stack, pytest.mark.faults]


def test_object_store_unreachable_while_scoring(stack, task_folder, tmp_path):
    """Submissions wait in the queue; the store is cut, a worker starts and claims them (its
    reads fail), and the store comes back 4 s later: every evaluation succeeds with the
    undisturbed scores and no participant is told of the fault."""
    phase = import_phase(stack, task_folder, "faults-storage")
    archive = predictions_zip(tmp_path, 1)
    expected = undisturbed(tmp_path, archive)
    recovery = []
    for round_ in range(2):
        submissions = [submit(stack, phase, h, archive) for h in participants(phase, 2)]
        stack.relay.cut()
        injected = time.monotonic()
        worker = stack.worker(f"store-w{round_}")
        time.sleep(4)
        stack.relay.mend()
        outcome = settled(phase, submissions, within=90, since=injected, stack=stack)
        recovery.append(outcome.seconds)
        for evaluation in outcome.evaluations:
            assert_scores(evaluation, expected)
            assert evaluation.participant_message == f"Scored {len(CASES)} cases."
        assert "transient fault" in worker.output()
        leaderboard_fresh(phase)  # refreshed by the worker
        worker.stop()
    record("object store unreachable for 4 s as scoring starts", injected=2, recovered=2,
           seconds=recovery, evaluations=4)


def test_scratch_disk_full(stack, task_folder, tmp_path):
    phase = import_phase(stack, task_folder, "faults-disk")
    archive = predictions_zip(tmp_path, 3)
    expected = undisturbed(tmp_path, archive)
    submission = submit(stack, phase, participants(phase, 1)[0], archive)
    injected = time.monotonic()
    full = stack.worker("full-w", scratch_size="16k")
    outcome = settled(phase, [submission], within=30, since=injected, stack=stack)
    failed_in = outcome.seconds
    failed = outcome.evaluations[0]
    assert failed.state == State.FAILED and failed.attempts == 1
    assert "internal error" in failed.participant_message
    assert "disk" not in failed.participant_message  # the operator's business, not theirs
    assert "out of disk space" in failed.organizer_log
    assert "is out of disk space in" in full.output()
    full.stop()

    # The operator frees space (a worker with room) and re-queues it from the organizer API.
    stack.worker("roomy-w")
    organizer = factories.user(staff=True)
    response = HTTP.post(
        f"{stack.web_url}/api/v1/organizer/phases/{phase.id}/submissions/reevaluate/",
        json={"ids": [submission]}, timeout=30,
        headers={"Authorization": f"Token {factories.token(organizer)}"})
    assert response.status_code == 200, response.text
    requeued = time.monotonic()
    outcome = settled(phase, [submission], within=60, since=requeued, stack=stack)
    assert_scores(outcome.evaluations[-1], expected)
    leaderboard_fresh(phase)
    record("scratch disk full on the worker (failed fast, re-queued by the organizer)",
           injected=1, recovered=1, seconds=[failed_in, outcome.seconds], evaluations=2,
           note="failed / scored after the re-queue")
