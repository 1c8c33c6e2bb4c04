"""Computing and refreshing leaderboard snapshots (a phase's, and a challenge's overall one).

A finished evaluation asks for its phase's refresh; a burst of requests computes once: the first
request sets ``refresh_requested_at`` and sends one task with a countdown, later ones see it
and send nothing; the task clears it before it reads its inputs, so an evaluation that finishes
during a computation asks for another. A request older than PODIUM_REFRESH_RESEND_AFTER_S
whose task never ran (a lost message) is sent again, by the next request or by the periodic
:func:`heal`, which also finds snapshots that no longer match their evaluations. A changed
phase snapshot asks, the same way, for its challenge's overall ranking. A computation never
overwrites a snapshot written from newer inputs (``inputs_read_at``), and one whose inputs did
not change is skipped.
"""

import hashlib
import json
import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from challenges.models import Challenge, Phase, Task
from evaluation.models import Evaluation, State
from evaluation.selection import counting_evaluations

from .entrants import Entrant, entrants
from .kinds import board_kind
from .models import LeaderboardSnapshot, SnapshotPlot
from .overall import overall_plots, overall_rankings
from .ranked import PhaseBoard
from .task_names import REFRESH, REFRESH_CHALLENGE

log = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1
"""Part of every input hash: bump it when what a snapshot stores changes, so that existing
snapshots are recomputed at their next refresh."""
DEBOUNCE_S = 2


def request_refresh(phase_id) -> None:
    """Ask for the phase's snapshot to be recomputed soon; a burst of requests computes once."""
    _request(LeaderboardSnapshot.objects.get_or_create(phase_id=phase_id)[0],
             REFRESH, {"phase_id": str(phase_id)})


def request_challenge_refresh(challenge_id) -> None:
    """Ask for the challenge's overall ranking to be recomputed soon (debounced likewise)."""
    _request(LeaderboardSnapshot.objects.get_or_create(challenge_id=challenge_id)[0],
             REFRESH_CHALLENGE, {"challenge_id": str(challenge_id)})


def _request(snapshot: LeaderboardSnapshot, task_name: str, kwargs: dict) -> None:
    now = timezone.now()
    lost = now - timedelta(seconds=settings.PODIUM_REFRESH_RESEND_AFTER_S)
    claimed = LeaderboardSnapshot.objects.filter(
        Q(refresh_requested_at__isnull=True) | Q(refresh_requested_at__lt=lost), pk=snapshot.pk
    ).update(refresh_requested_at=now)
    if claimed:
        transaction.on_commit(
            lambda: current_app.send_task(task_name, kwargs=kwargs, countdown=DEBOUNCE_S),
            robust=True,
        )


def phase_options(phase: Phase) -> dict:
    """Everything about the phase a snapshot's numbers depend on, stored with the snapshot."""
    options = {
        "metric": phase.primary_metric,
        "selection": phase.leaderboard_selection,
        "method": phase.ranking_method,
        "ties": phase.ranking_ties,
        "adjust": phase.ranking_adjust,
        "alpha": phase.ranking_alpha,
        "n_boot": phase.bootstrap_samples,
        "seed": phase.ranking_seed,
    }
    if phase.task.kind == Task.DETECTION:
        options.update(iou_threshold=phase.iou_threshold, voc2007=phase.voc2007,
                       plus_one=phase.plus_one)
    elif phase.task.kind in Task.CLINICAL_KINDS:
        config = phase.metric_config()
        options.update(metrics=config["metrics"], threshold=config["threshold"],
                       tau=config["tau"], times=config["times"])
    else:
        options.update(metrics=phase.scored_metrics(), worst_distance_mm=phase.worst_distance_mm)
    return options


def refresh(phase_id) -> LeaderboardSnapshot:
    """Recompute the phase's snapshot from its selected evaluations (see the module doc)."""
    phase = Phase.objects.select_related("task", "active_ground_truth").get(pk=phase_id)
    snapshot, _ = LeaderboardSnapshot.objects.get_or_create(phase=phase)
    # Cleared first, so an evaluation finishing while we compute asks for another pass.
    LeaderboardSnapshot.objects.filter(pk=snapshot.pk).update(refresh_requested_at=None)
    started = timezone.now()
    ranked, options, digest = _phase_inputs(phase)
    if snapshot.computed_at is not None and snapshot.input_sha256 == digest:
        return snapshot
    board = compute_board(phase, ranked)
    statistics = dict(board.statistics)
    plots = statistics.pop("plots", {})
    with transaction.atomic():  # the row stays locked until its plots are replaced too
        stored = _store(snapshot, started, ground_truth=phase.active_ground_truth,
                        entries=board.entries, statistics=statistics,
                        ranking_method=_method(phase), options=options, input_sha256=digest,
                        seed=board.statistics.get("seed"))
        if stored:
            _store_plots(snapshot, plots)
    if stored:
        request_challenge_refresh(phase.task.challenge_id)
    snapshot.refresh_from_db()
    return snapshot


def _phase_inputs(phase: Phase) -> tuple[list[Entrant], dict, str]:
    """What a phase's snapshot is computed from: its ranked entrants, its options, and the
    hash of both that the snapshot stores (``input_sha256``)."""
    ranked = entrants(selected_evaluations(phase))
    options = phase_options(phase)
    digest = _digest({
        "version": SNAPSHOT_VERSION, "phase": str(phase.id),
        "ground_truth": str(phase.active_ground_truth_id),
        "entrants": sorted([str(c.evaluation.id), c.name] for c in ranked),
        "options": options,
    })
    return ranked, options, digest


def heal() -> dict[str, list[str]]:
    """The leaderboards' owner of last resort (a periodic task): asks again for every refresh
    that was asked for more than PODIUM_REFRESH_RESEND_AFTER_S ago and never ran (its message
    lost with the broker), and for every phase whose snapshot no longer matches its evaluations
    (an input hash that differs, or no snapshot while evaluations succeeded). Returns the ids
    asked for, as ``phases`` and ``challenges``."""
    lost = timezone.now() - timedelta(seconds=settings.PODIUM_REFRESH_RESEND_AFTER_S)
    stale = LeaderboardSnapshot.objects.filter(refresh_requested_at__lt=lost)
    phases = {str(pk) for pk in stale.filter(phase__isnull=False).values_list("phase_id",
                                                                              flat=True)}
    challenges = {str(pk) for pk in stale.filter(challenge__isnull=False)
                  .values_list("challenge_id", flat=True)}
    stored = dict(LeaderboardSnapshot.objects.filter(phase__isnull=False, computed_at__isnull=False)
                  .values_list("phase_id", "input_sha256"))
    on_its_way = LeaderboardSnapshot.objects.filter(
        phase__isnull=False, refresh_requested_at__gte=lost).values_list("phase_id", flat=True)
    for phase in (Phase.objects.filter(active_ground_truth__isnull=False)
                  .exclude(pk__in=[*phases, *on_its_way])
                  .select_related("task", "active_ground_truth")):
        ranked, _, digest = _phase_inputs(phase)
        # No snapshot yet is outdated only once there is someone to rank.
        outdated = stored[phase.pk] != digest if phase.pk in stored else bool(ranked)
        if outdated:
            phases.add(str(phase.pk))
    for phase_id in sorted(phases):
        request_refresh(phase_id)
    for challenge_id in sorted(challenges):
        request_challenge_refresh(challenge_id)
    if phases or challenges:
        log.warning("leaderboard healer: refreshing phases %s, challenges %s",
                    sorted(phases), sorted(challenges))
    return {"phases": sorted(phases), "challenges": sorted(challenges)}


def compute_board(phase: Phase, ranked: list[Entrant]) -> PhaseBoard:
    """The phase's entries and statistics (no database writes)."""
    if not ranked:
        return PhaseBoard(entries=[], statistics={"kind": phase.task.kind, "n_boot": 0}, order=[])
    return board_kind(phase.task).rank(phase, ranked)


def refresh_challenge(challenge_id) -> LeaderboardSnapshot:
    """Recompute the challenge's overall rankings from its phases' snapshots."""
    challenge = Challenge.objects.get(pk=challenge_id)
    snapshot, _ = LeaderboardSnapshot.objects.get_or_create(challenge=challenge)
    LeaderboardSnapshot.objects.filter(pk=snapshot.pk).update(refresh_requested_at=None)
    started = timezone.now()
    sources = (
        LeaderboardSnapshot.objects.filter(phase__task__challenge=challenge,
                                           computed_at__isnull=False)
        .values_list("phase_id", "input_sha256", "phase__name", "phase__task__name")
    )
    # Names group the phases and head the columns: renaming one recomputes too.
    options = {"phases": {str(pk): [inputs, name, task] for pk, inputs, name, task in sources}}
    digest = _digest({"version": SNAPSHOT_VERSION, **options})
    if snapshot.computed_at is not None and snapshot.input_sha256 == digest:
        return snapshot
    rankings = overall_rankings(challenge)
    with transaction.atomic():  # as a phase's: the plots are replaced with the rankings
        if _store(snapshot, started, rankings=rankings, statistics={},
                  ranking_method="mean-rank", options=options, input_sha256=digest):
            _store_plots(snapshot, overall_plots(rankings))
    snapshot.refresh_from_db()
    return snapshot


def _store(snapshot: LeaderboardSnapshot, started, **fields) -> bool:
    """Write the computation unless one that read newer inputs has written already."""
    written = LeaderboardSnapshot.objects.filter(pk=snapshot.pk).filter(
        Q(inputs_read_at__isnull=True) | Q(inputs_read_at__lte=started)
    ).update(computed_at=timezone.now(), inputs_read_at=started, **fields)
    if not written:
        log.info("%s: a newer computation was stored meanwhile; this one is dropped", snapshot)
    return bool(written)


def _store_plots(snapshot: LeaderboardSnapshot, plots: dict[str, str | None]) -> None:
    """The snapshot's plots as rows of their own (most reads never load them); a plot not drawn
    (no bootstrap: no blob plot) gets none."""
    SnapshotPlot.objects.filter(snapshot=snapshot).delete()
    SnapshotPlot.objects.bulk_create(SnapshotPlot(snapshot=snapshot, name=name, svg=svg)
                                     for name, svg in plots.items() if svg)


def _method(phase: Phase) -> str:
    return board_kind(phase.task).ranking_method(phase)


def _digest(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def selected_evaluations(phase: Phase) -> list[Evaluation]:
    """One succeeded evaluation per entrant against the active ground truth and the phase's
    current scoring configuration: that of the submission that counts under the phase's
    rule (latest, best, or the entrant's choice), as :func:`evaluation.selection.
    counting_evaluations` decides for the pages too. (Changing the configuration in the
    console re-queues every submission.)"""
    if phase.active_ground_truth_id is None:
        return []
    evaluations = Evaluation.objects.filter(
        submission__phase=phase, ground_truth_id=phase.active_ground_truth_id,
        state=State.SUCCEEDED,
    ).select_related("submission__team", "submission__creator")
    return counting_evaluations(phase, evaluations,
                                metric=board_kind(phase.task).ranked_metric(phase))
