"""Re-scoring (evaluation/services/reevaluation.py): activating a ground-truth version queues
each submission once, and an organizer's re-evaluation supersedes what is in flight."""

import pytest

from challenges.models import GroundTruth
from evaluation.models import ACTIVE_STATES, State
from evaluation.services.reevaluation import activate_ground_truth, reevaluate
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """The evaluations sent to a queue (once their transaction committed)."""
    enqueued = []
    monkeypatch.setattr("evaluation.services.reevaluation.enqueue", enqueued.append)
    return enqueued


def checked_submission(phase, username: str, state: str):
    """A submission whose upload passed its checks, with one evaluation in ``state``."""
    submission, _ = factories.submission(phase, factories.participant(phase, username),
                                         state=state)
    type(submission).objects.filter(pk=submission.pk).update(is_valid=True)
    submission.refresh_from_db()
    return submission


def new_version(phase) -> GroundTruth:
    return GroundTruth.objects.create(task=phase.task, version=2, content_sha256="1" * 64,
                                      files=phase.active_ground_truth.files)


def test_activating_a_version_queues_each_submission_once(sent, django_capture_on_commit_callbacks):
    phase = factories.phase()
    scored = checked_submission(phase, "alice", State.SUCCEEDED)
    failed = checked_submission(phase, "bob", State.FAILED)
    v2 = new_version(phase)
    with django_capture_on_commit_callbacks(execute=True):
        assert activate_ground_truth(phase, v2) == 2
    assert sorted(e.submission_id for e in sent) == sorted([scored.id, failed.id])
    phase.refresh_from_db()
    assert phase.active_ground_truth == v2
    for submission in (scored, failed):
        (queued,) = submission.evaluations.filter(ground_truth=v2)
        assert queued.state == State.QUEUED and queued.metric_config == phase.metric_config()


def test_activating_the_same_version_twice_queues_nothing(sent, django_capture_on_commit_callbacks):
    phase = factories.phase()
    submission = checked_submission(phase, "alice", State.SUCCEEDED)
    v2 = new_version(phase)
    with django_capture_on_commit_callbacks(execute=True):
        activate_ground_truth(phase, v2)
        assert activate_ground_truth(phase, v2) == 0
    assert len(sent) == 1 and submission.evaluations.count() == 2


def test_a_cancelled_submission_is_left_alone(sent, django_capture_on_commit_callbacks):
    phase = factories.phase()
    withdrawn = checked_submission(phase, "alice", State.CANCELLED)
    with django_capture_on_commit_callbacks(execute=True):
        assert activate_ground_truth(phase, new_version(phase)) == 0
    assert sent == [] and withdrawn.evaluations.get().state == State.CANCELLED


def test_reevaluate_supersedes_an_active_evaluation(sent, django_capture_on_commit_callbacks):
    phase = factories.phase()
    submission = checked_submission(phase, "alice", State.SCORING)
    running = submission.evaluations.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert reevaluate([submission]) == 1
    running.refresh_from_db()
    assert running.state == State.CANCELLED
    assert running.participant_message == "Superseded: re-evaluation requested."
    (active,) = submission.evaluations.filter(state__in=ACTIVE_STATES)
    assert active.state == State.QUEUED and active.ground_truth == phase.active_ground_truth
    assert sent == [active]
