"""Computing and refreshing leaderboard snapshots."""

import hashlib
import json
import logging

from django.db import transaction
from django.utils import timezone

from challenges.models import Phase
from evaluation.models import Evaluation, State
from evaluation.results import primary_score
from podium.celery import app

from .models import LeaderboardSnapshot

log = logging.getLogger(__name__)

REFRESH_TASK = "leaderboard.refresh"
DEBOUNCE_S = 2


def request_refresh(phase_id) -> None:
    """Ask for the phase's snapshot to be recomputed soon; a burst of requests computes once."""
    snapshot, _ = LeaderboardSnapshot.objects.get_or_create(phase_id=phase_id)
    claimed = LeaderboardSnapshot.objects.filter(pk=snapshot.pk, refresh_pending=False).update(
        refresh_pending=True
    )
    if claimed:
        transaction.on_commit(
            lambda: app.send_task(REFRESH_TASK, kwargs={"phase_id": str(phase_id)},
                                  countdown=DEBOUNCE_S)
        )


def refresh(phase_id) -> LeaderboardSnapshot:
    """Recompute the phase's snapshot from its succeeded evaluations."""
    phase = Phase.objects.select_related("task", "active_ground_truth").get(pk=phase_id)
    snapshot, _ = LeaderboardSnapshot.objects.get_or_create(phase=phase)
    # Cleared first, so an evaluation finishing while we compute asks for another pass.
    LeaderboardSnapshot.objects.filter(pk=snapshot.pk).update(refresh_pending=False)
    selected = selected_evaluations(phase)
    entries = rank_entries(phase, selected)
    snapshot.ground_truth = phase.active_ground_truth
    snapshot.entries = entries
    snapshot.method = "aggregate-mean"
    snapshot.options = {"metric": phase.primary_metric, "selection": phase.leaderboard_selection}
    snapshot.input_sha256 = _input_hash(phase, selected)
    snapshot.computed_at = timezone.now()
    snapshot.save(update_fields=["ground_truth", "entries", "method", "options",
                                 "input_sha256", "computed_at"])
    return snapshot


def selected_evaluations(phase: Phase) -> list[Evaluation]:
    """One succeeded evaluation per participant against the active ground truth: that of the
    latest (or best) submission, as the phase chooses."""
    if phase.active_ground_truth_id is None:
        return []
    evaluations = (
        Evaluation.objects.filter(
            submission__phase=phase, ground_truth_id=phase.active_ground_truth_id,
            state=State.SUCCEEDED,
        )
        .select_related("submission__team", "submission__creator")
        .order_by("-submission__created", "-created")
    )
    per_submission: dict = {}
    for evaluation in evaluations:
        per_submission.setdefault(evaluation.submission_id, evaluation)
    per_participant: dict = {}
    larger_better = phase.larger_is_better()
    for evaluation in per_submission.values():  # newest submission first
        key = _participant_key(evaluation)
        current = per_participant.get(key)
        if current is None:
            per_participant[key] = evaluation
        elif phase.leaderboard_selection == "best" and _better(
            _score(phase, evaluation), _score(phase, current), larger_better
        ):
            per_participant[key] = evaluation
    return list(per_participant.values())


def rank_entries(phase: Phase, evaluations: list[Evaluation]) -> list[dict]:
    """Entries ranked by the primary score; a missing score ranks after every other, and ties
    share the lowest rank (1, 2, 2, 4)."""
    larger_better = phase.larger_is_better()
    scored = [(evaluation, _score(phase, evaluation)) for evaluation in evaluations]

    def order(item):
        score = item[1]
        if score is None:
            return (1, 0.0, item[0].submission.created)
        return (0, -score if larger_better else score, item[0].submission.created)

    scored.sort(key=order)
    entries = []
    for position, (evaluation, score) in enumerate(scored):
        previous = entries[-1] if entries else None
        tied = previous is not None and previous["score"] == score
        submission = evaluation.submission
        entries.append({
            "rank": previous["rank"] if tied else position + 1,
            "participant": submission.participant_name,
            "submission": str(submission.id),
            "evaluation": str(evaluation.id),
            "submitted": submission.created.isoformat(),
            "description": submission.description,
            "score": score,
            "aggregate": evaluation.aggregate,
        })
    return entries


def _score(phase: Phase, evaluation: Evaluation) -> float | None:
    return primary_score(evaluation.aggregate, phase.primary_metric)


def _better(candidate: float | None, current: float | None, larger_better: bool) -> bool:
    if candidate is None:
        return False
    if current is None:
        return True
    return candidate > current if larger_better else candidate < current


def _participant_key(evaluation: Evaluation) -> str:
    submission = evaluation.submission
    return f"team:{submission.team_id}" if submission.team_id else f"user:{submission.creator_id}"


def _input_hash(phase: Phase, evaluations: list[Evaluation]) -> str:
    payload = {
        "phase": str(phase.id),
        "ground_truth": str(phase.active_ground_truth_id),
        "evaluations": sorted(str(e.id) for e in evaluations),
        "metric": phase.primary_metric,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
