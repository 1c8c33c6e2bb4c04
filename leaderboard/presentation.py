"""The public shape of a leaderboard, shared by the API, the exports and the pages.

Who sees what: a phase that hides scores shows everyone but its organizers ranks only — every
score-derived key (:data:`SCORE_KEYS`) is removed, and so are per-case values and the plots
drawn from them. Ranks, their intervals, P(rank = 1) and the significance map stay, as ranks do.
A phase that rounds public scores (``public_score_decimals``) shows everyone but its organizers
those keys rounded; the ranks were computed on the exact values.
"""

from challenges import provenance
from challenges.models import Challenge, Phase
from evaluation.results import public_scores
from scorers.metrics import metric_label

from .exports import ENTRANT_ALIAS
from .models import LeaderboardSnapshot, SnapshotPlot

WORKER_PLOTS = ("blob", "significance")
"""The plots a refresh draws (:class:`SnapshotPlot`); the per-case ones are drawn on request
(:mod:`leaderboard.display`)."""
SCORE_KEYS = ("score", "aggregate", "ranking_score", "score_q025", "score_q975")
"""Entry keys that carry (or are computed from) metric values."""

DEPRECATED_KEYS = {  # and "participant" in every entry, for "entrant"
    "method": "ranking_method",
    "method_description": "ranking_method_description",
    "na": "missing_value_rule",
}
"""Old leaderboard keys still answered, with their new key's value, until the next release
(docs/api.md, "Deprecated names")."""


def phase_snapshot(phase: Phase, *, statistics: bool = True) -> LeaderboardSnapshot | None:
    """The phase's computed snapshot, or None before its first computation; without its
    ``statistics`` unless asked (a payload of such a snapshot has entries but no statistics:
    what the CSV and the per-case exports need; reading the field later loads it)."""
    snapshot = LeaderboardSnapshot.objects.filter(phase=phase).select_related("ground_truth")
    snapshot = (snapshot if statistics else snapshot.defer("statistics")).first()
    return snapshot if snapshot is not None and snapshot.computed_at is not None else None


def drawn_plots(snapshot: LeaderboardSnapshot) -> set[str]:
    """The names of the plots the worker drew for the snapshot (without reading them)."""
    return set(SnapshotPlot.objects.filter(snapshot=snapshot).values_list("name", flat=True))


def stored_plot(snapshot: LeaderboardSnapshot, name: str) -> str | None:
    """One of the plots the worker drew for the snapshot (SVG), or None."""
    return (SnapshotPlot.objects.filter(snapshot=snapshot, name=name)
            .values_list("svg", flat=True).first())


def score_decimals(phase: Phase, *, organizer: bool) -> int | None:
    """The decimals a viewer's scores are rounded to: None (exact) for organizers."""
    return None if organizer else phase.public_score_decimals


def leaderboard_payload(
    phase: Phase, *, organizer: bool, snapshot: LeaderboardSnapshot | None = None
) -> dict:
    """The snapshot's entries and ranking method as the viewer may see them: ranks only when
    the phase hides scores (organizers excepted), scores rounded when it rounds them."""
    snapshot = snapshot or phase_snapshot(phase)
    with_scores = phase.show_scores or organizer
    decimals = score_decimals(phase, organizer=organizer)
    read = snapshot is not None and "statistics" not in snapshot.get_deferred_fields()
    statistics = snapshot.statistics if read else {}
    payload = {
        "phase": str(phase.id),
        "task": phase.task.key,
        "metric": statistics.get("metric", phase.primary_metric),
        "metric_label": metric_label(statistics.get("metric", phase.primary_metric)),
        "larger_is_better": phase.larger_is_better(statistics.get("metric")),
        "ground_truth_version": (
            snapshot.ground_truth.version if snapshot and snapshot.ground_truth else None
        ),
        "ground_truth": (provenance.public(snapshot.ground_truth)
                         if snapshot and snapshot.ground_truth else None),
        "computed_at": snapshot.computed_at.isoformat() if snapshot else None,
        "ranking_method": snapshot.ranking_method if snapshot else None,
        "ranking_method_description": statistics.get("ranking_method_description"),
        "missing_value_rule": statistics.get("missing_value_rule"),
        "seed": snapshot.seed if snapshot else None,
        "n_boot": statistics.get("n_boot", 0),
        "score_aggregate": statistics.get("aggregate"),
        "entries": ([_entry(e, with_scores, decimals) for e in snapshot.entries]
                    if snapshot else []),
        "statistics": {
            "rank_distribution": statistics.get("rank_distribution"),
            "significance": statistics.get("significance"),
            "kendall_tau": statistics.get("kendall_tau"),
        },
    }
    return payload | {old: payload[new] for old, new in DEPRECATED_KEYS.items()}


def _entry(entry: dict, with_scores: bool, decimals: int | None) -> dict:
    entry = with_entrant_alias(entry)
    if not with_scores:
        return {k: v for k, v in entry.items() if k not in SCORE_KEYS}
    return {k: public_scores(v, decimals) if k in SCORE_KEYS else v for k, v in entry.items()}


def with_entrant_alias(row: dict) -> dict:
    """``row`` with the entrant's name also under its deprecated key ``participant``."""
    return row | {ENTRANT_ALIAS: row["entrant"]}


def challenge_snapshot(challenge: Challenge) -> LeaderboardSnapshot | None:
    """The challenge's computed overall snapshot, or None."""
    snapshot = LeaderboardSnapshot.objects.filter(challenge=challenge).first()
    return snapshot if snapshot is not None and snapshot.computed_at is not None else None


def visible_rankings(challenge: Challenge, snapshot: LeaderboardSnapshot | None, *,
                   organizer: bool) -> list[dict]:
    """The overall rankings a viewer may see: all for organizers, else those whose every phase
    is public (an unpublished phase's ranks must not show through the overall ranking). Each
    says whether the public sees it (``public``)."""
    if snapshot is None:
        return []
    public = _public_phases(challenge)
    sources = _scored_sources(challenge)
    return [
        ranking | {key: [with_entrant_alias(row) for row in ranking[key]]
                   for key in ("entries", "msd_entries")}
        | {"public": set(ranking["phases"]) <= public,
           "tasks": [task | {"ground_truth": sources.get(str(task["phase"]))}
                     for task in ranking["tasks"]]}
        for ranking in snapshot.rankings if organizer or set(ranking["phases"]) <= public
    ]


def _scored_sources(challenge: Challenge) -> dict[str, dict]:
    """Phase id → the public provenance of the ground-truth version its leaderboard scored
    (:func:`challenges.provenance.public`), for the phases that have one."""
    snapshots = (LeaderboardSnapshot.objects
                 .filter(phase__task__challenge=challenge, ground_truth__isnull=False)
                 .select_related("ground_truth").only("phase_id", "ground_truth"))
    return {str(row.phase_id): provenance.public(row.ground_truth) for row in snapshots}


def withheld_rankings(challenge: Challenge, snapshot: LeaderboardSnapshot | None) -> list[str]:
    """The phase names whose overall ranking the public does not see because one of its tasks'
    leaderboards is not public: the page says so rather than showing nothing at all."""
    if snapshot is None:
        return []
    public = _public_phases(challenge)
    return [ranking["phase_name"] for ranking in snapshot.rankings
            if not set(ranking["phases"]) <= public]


def _public_phases(challenge: Challenge) -> set[str]:
    return {str(pk) for pk in Phase.objects.filter(task__challenge=challenge, is_public=True)
            .values_list("pk", flat=True)}


def challenge_payload(challenge: Challenge, *, organizer: bool) -> dict:
    """The overall rankings (mean rank and MSD-style) of the phases grouped by name."""
    return overall_payload(challenge, challenge_snapshot(challenge), organizer=organizer)


def overall_payload(challenge: Challenge, snapshot: LeaderboardSnapshot | None, *,
                    organizer: bool) -> dict:
    """:func:`challenge_payload` of a snapshot already read."""
    return {
        "challenge": str(challenge.id),
        "slug": challenge.slug,
        "computed_at": snapshot.computed_at.isoformat() if snapshot else None,
        "rankings": visible_rankings(challenge, snapshot, organizer=organizer),
        "withheld": [] if organizer else withheld_rankings(challenge, snapshot),
    }
