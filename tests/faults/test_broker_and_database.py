"""The broker and the database failing under the workers: a Redis without persistence killed
in the middle of scoring (its queues lost) and started again, the broker down while a
participant submits, and every database connection of the workers terminated mid-scoring."""

import re
import time

import pytest
from django.db import connection

from evaluation.models import Evaluation, State, Submission

from .checks import (
    assert_scores,
    leaderboard_fresh,
    predictions_zip,
    record,
    settled,
    undisturbed,
)
from .conftest import import_phase, participants, post, submit
from .test_workers import mid_work

pytestmark = [pytest.mark.stack, pytest.mark.faults]


def test_broker_killed_mid_scoring_and_restarted_empty(stack, task_folder, tmp_path):
    """Eight submissions wait in the queue; the broker dies as the first is scored and comes
    back 3 s later with nothing in it. The reaper sends the waiting evaluations again, the
    healer refreshes the leaderboard whose refresh message was lost, and a worker whose main
    process exits on the lost connection is started again by its supervisor."""
    phase = import_phase(stack, task_folder, "faults-broker")
    archives = [predictions_zip(tmp_path, q) for q in (1, 2, 3, 4)] * 2
    expected = {a.name: undisturbed(tmp_path, a) for a in archives}
    headers = participants(phase, len(archives))
    recovery, restarts = [], 0
    submissions = [submit(stack, phase, h, a) for h, a in zip(headers, archives, strict=True)]
    workers = [stack.worker(f"broker-w{i}", supervised=True, PODIUM_SCORING_SHARD_CASES="2")
               for i in range(2)]
    mid_work(submissions, State.SCORING, "broker-w")
    injected = time.monotonic()
    stack.kill_broker()
    time.sleep(3)
    stack.start_broker()
    outcome = settled(phase, submissions, within=120, since=injected, stack=stack)
    recovery.append(outcome.seconds)
    for evaluation in outcome.evaluations:
        assert_scores(evaluation, expected[evaluation.submission.file_name])
    leaderboard_fresh(phase, within=60)
    recovery.append(time.monotonic() - injected)  # until the leaderboard was right again
    restarts = sum(w.restarts for w in workers)
    # The reaper's passes (run by the workers) log what they sent again: "'resent': N".
    resent = sum(int(n) for w in workers for n in re.findall(r"'resent': (\d+)", w.output()))
    record("broker (non-persistent Redis) killed mid-scoring, back after 3 s",
           injected=1, recovered=1, seconds=recovery, evaluations=len(archives),
           note=f"evaluations / leaderboard; {resent} messages re-sent by the reaper, "
                f"{restarts} worker restarts")


def test_broker_down_while_submitting(stack, task_folder, tmp_path):
    """A submission made while the broker is down is refused with 503 and a message, and
    leaves nothing behind; the same upload is accepted once the broker is back."""
    phase = import_phase(stack, task_folder, "faults-submit")
    archive = predictions_zip(tmp_path, 2)
    expected = undisturbed(tmp_path, archive)
    headers = participants(phase, 1)[0]
    stack.kill_broker()
    injected = time.monotonic()
    refused = post(stack, phase, headers, archive)
    answered_in = time.monotonic() - injected
    assert refused.status_code == 503, refused.text
    assert refused.headers["Content-Type"].startswith("application/json")
    assert "please submit it again" in refused.json()["detail"]
    assert not Submission.objects.filter(phase=phase).exists()
    stack.start_broker()
    stack.worker("submit-w")
    submission = submit(stack, phase, headers, archive)
    outcome = settled(phase, [submission], within=60, since=injected, stack=stack)
    assert_scores(outcome.evaluations[0], expected)
    leaderboard_fresh(phase)
    record("broker down during a submission (refused with 503, resubmitted)", injected=1,
           recovered=1, seconds=[answered_in, outcome.seconds], evaluations=1,
           note="503 answer / scored after the resubmission")


def terminate_other_backends() -> int:
    """End every other connection to the test database: the workers', web's and beat's."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return len(cursor.fetchall())


def test_database_connections_terminated_mid_scoring(stack, task_folder, tmp_path):
    """Three times, every connection of the workers ends in the middle of scoring: each
    evaluation is retried inside its worker (attempts stays 1) and succeeds."""
    phase = import_phase(stack, task_folder, "faults-database")
    archive = predictions_zip(tmp_path, 1)
    expected = undisturbed(tmp_path, archive)
    stack.worker("db-w0", PODIUM_SCORING_SHARD_CASES="2")
    stack.worker("db-w1", PODIUM_SCORING_SHARD_CASES="2")
    recovery, all_submissions = [], []
    for _ in range(3):
        submissions = [submit(stack, phase, h, archive) for h in participants(phase, 2)]
        all_submissions += submissions
        hit = mid_work(submissions, State.SCORING, "db-w", cases_done=1)
        injected = time.monotonic()
        assert terminate_other_backends() >= 1
        outcome = settled(phase, submissions, within=90, since=injected, stack=stack)
        recovery.append(outcome.seconds)
        for evaluation in outcome.evaluations:
            assert_scores(evaluation, expected)
            assert evaluation.attempts == 1, evaluation.organizer_log
        hit.refresh_from_db()
        assert hit.state == State.SUCCEEDED
    leaderboard_fresh(phase)
    assert Evaluation.objects.filter(submission_id__in=all_submissions).count() == 6
    record("database connections terminated mid-scoring (pg_terminate_backend)", injected=3,
           recovered=3, seconds=recovery, evaluations=6)
