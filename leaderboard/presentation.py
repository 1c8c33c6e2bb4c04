"""The public shape of a leaderboard, shared by the API, the JSON export and the pages."""

from challenges.models import Phase

from .models import LeaderboardSnapshot


def leaderboard_payload(phase: Phase, *, with_scores: bool = True) -> dict:
    """The snapshot's entries; ``with_scores=False`` (a phase hiding scores) keeps ranks only."""
    snapshot = (
        LeaderboardSnapshot.objects.filter(phase=phase).select_related("ground_truth").first()
    )
    computed = snapshot is not None and snapshot.computed_at is not None
    return {
        "phase": str(phase.id),
        "task": phase.task.key,
        "metric": phase.primary_metric,
        "larger_is_better": phase.larger_is_better(),
        "ground_truth_version": (
            snapshot.ground_truth.version if computed and snapshot.ground_truth else None
        ),
        "computed_at": snapshot.computed_at.isoformat() if computed else None,
        "method": snapshot.method if computed else None,
        "entries": [_entry(e, with_scores) for e in snapshot.entries] if computed else [],
    }


def _entry(entry: dict, with_scores: bool) -> dict:
    if with_scores:
        return entry
    return {k: v for k, v in entry.items() if k not in ("score", "aggregate")}
