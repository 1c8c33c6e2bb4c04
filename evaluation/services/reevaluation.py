"""Re-scoring: after a new ground-truth version is activated, or on an organizer's request.

Older evaluations are never changed or deleted: a new Evaluation row is created, so every score
stays tied to the ground-truth version and metric configuration it was computed with.
"""

import logging

from django.db import transaction
from django.utils import timezone

from challenges.models import GroundTruth, Phase

from ..models import ACTIVE_STATES, Evaluation, State, Submission
from ..states import InvalidTransition, transition
from .queueing import enqueue

log = logging.getLogger(__name__)


def activate_ground_truth(phase: Phase, ground_truth: GroundTruth) -> int:
    """Make ``ground_truth`` the phase's active version and queue every submission against it.

    Submissions the participant cancelled are left alone; a submission already evaluated
    against this version with the current metric configuration is not queued again, so
    activating twice changes nothing. Returns the number of evaluations queued.
    """
    if ground_truth.task_id != phase.task_id:
        raise ValueError("the ground truth belongs to another task")
    with transaction.atomic():
        phase = Phase.objects.select_for_update().get(pk=phase.pk)
        phase.active_ground_truth = ground_truth
        phase.save(update_fields=["active_ground_truth"])
        queued = 0
        for submission in phase.submissions.all():
            if not submission.evaluations.exclude(state=State.CANCELLED).exists():
                continue  # withdrawn by the participant
            if _queue(submission, phase, reason=f"ground truth v{ground_truth.version} activated"):
                queued += 1
    log.info("phase %s: ground truth v%s active, %d evaluations queued",
             phase.id, ground_truth.version, queued)
    return queued


def reevaluate(submissions) -> int:
    """Queue a fresh evaluation of each submission against its phase's active ground truth and
    current metric configuration (an organizer's action). Returns how many were queued."""
    queued = 0
    for submission in submissions:
        with transaction.atomic():
            phase = Phase.objects.select_for_update().get(pk=submission.phase_id)
            if _queue(submission, phase, reason="re-evaluation requested", force=True):
                queued += 1
    return queued


def _latest_outputs(submission: Submission) -> str:
    if submission.kind != Phase.ALGORITHM:
        return ""
    done = submission.evaluations.exclude(outputs="").order_by("-created").first()
    return done.outputs if done else ""


def _queue(submission: Submission, phase: Phase, *, reason: str, force: bool = False) -> bool:
    if phase.active_ground_truth_id is None or submission.is_valid is False:
        return False  # a refused upload has nothing to score
    config = phase.metric_config()
    done = submission.evaluations.filter(ground_truth_id=phase.active_ground_truth_id).exclude(
        state__in=[State.FAILED, State.CANCELLED]
    )
    if not force and any(evaluation.metric_config == config for evaluation in done):
        return False
    for active in submission.evaluations.filter(state__in=ACTIVE_STATES):
        try:
            transition(active.id, State.CANCELLED,
                       participant_message=f"Superseded: {reason}.")
        except InvalidTransition:
            continue
    evaluation = Evaluation.objects.create(
        submission=submission,
        ground_truth_id=phase.active_ground_truth_id,
        metric_config=config,
        # An upload still waiting for its checks goes on waiting for them.
        state=State.QUEUED if submission.is_valid else State.VALIDATING,
        enqueued_at=timezone.now(),
        # An algorithm's outputs do not depend on the labels: score them again, unless the
        # organizers asked for a full re-run.
        outputs="" if force else _latest_outputs(submission),
    )
    transaction.on_commit(lambda: enqueue(evaluation), robust=True)
    return True
