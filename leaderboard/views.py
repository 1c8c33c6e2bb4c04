"""Leaderboard pages and exports, read from snapshots (no request recomputes a ranking)."""

from django.core.cache import cache
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render

from challenges.models import Task
from challenges.visibility import is_organizer, leaderboard_phase, visible_challenges

from . import exports
from .describe import describe_challenge
from .display import per_case_plots, table_rows
from .exports import may_export
from .presentation import challenge_payload, leaderboard_payload, phase_snapshot, score_decimals

PLOT_CACHE_S = 3600
RANKING_SCORE_HEADINGS = {"rank-then-aggregate": "Mean rank", "test-then-rank": "Share beaten"}


def _phase_for_board(request, phase_id):
    """The phase (404 unless its leaderboard is public or the user organizes it), whether the
    user is an organizer, and whether scores are shown."""
    phase, organizer = leaderboard_phase(request.user, phase_id)
    return phase, organizer, phase.show_scores or organizer


def phase_leaderboard(request, phase_id):
    phase, organizer, with_scores = _phase_for_board(request, phase_id)
    snapshot = phase_snapshot(phase)
    board = leaderboard_payload(phase, organizer=organizer, snapshot=snapshot)
    decimals = score_decimals(phase, organizer=organizer)
    statistics = snapshot.statistics if snapshot else {}
    plots = dict(statistics.get("plots") or {})
    show_cases = with_scores and (phase.show_case_results or organizer)
    metrics = phase.scored_metrics() if phase.task.kind == Task.SEGMENTATION else []
    metric = request.GET.get("metric")
    metric = metric if metric in metrics else phase.primary_metric
    if show_cases and board["entries"]:
        # Drawing thousands of dots takes a while: once per snapshot, metric and rounding.
        key = (f"leaderboard-plots:{snapshot.pk}:{snapshot.computed_at.timestamp()}:{metric}"
               f":{decimals}")
        plots.update(cache.get_or_set(
            key, lambda: per_case_plots(phase, board, statistics, metric, decimals=decimals),
            PLOT_CACHE_S))
    return render(request, "leaderboard/phase.html", {
        "phase": phase, "board": board, "with_scores": with_scores,
        "rows": table_rows(phase, board, with_scores=with_scores, decimals=decimals),
        "columns": exports.aggregate_columns(phase) if with_scores else [],
        "ranking_score_heading": RANKING_SCORE_HEADINGS.get(board["ranking_method"]),
        "plots": plots,
        "case_metrics": metrics if show_cases else [], "case_metric": metric,
        "exports": may_export(phase, organizer=organizer),
        "case_exports": (phase.task.kind == Task.SEGMENTATION
                         and may_export(phase, organizer=organizer, cases=True)),
    })


def _exportable(request, phase_id, *, cases: bool = False):
    """The phase (404 unless the user may export it) and whether the user organizes it."""
    phase, organizer, _ = _phase_for_board(request, phase_id)
    if not may_export(phase, organizer=organizer, cases=cases):
        raise Http404
    return phase, organizer


def phase_leaderboard_json(request, phase_id):
    phase, organizer = _exportable(request, phase_id)
    return JsonResponse(leaderboard_payload(phase, organizer=organizer))


def phase_leaderboard_csv(request, phase_id):
    phase, organizer = _exportable(request, phase_id)
    header, rows = exports.leaderboard_table(phase,
                                             leaderboard_payload(phase, organizer=organizer))
    return exports.csv_response(f"{exports.file_stem(phase)}-leaderboard.csv", header, rows)


def _case_snapshot(request, phase_id):
    """A segmentation phase whose per-case results may be exported, its snapshot, and the
    decimals the user's values are rounded to."""
    phase, organizer = _exportable(request, phase_id, cases=True)
    if phase.task.kind != Task.SEGMENTATION:
        raise Http404
    return phase, phase_snapshot(phase), score_decimals(phase, organizer=organizer)


def phase_cases_csv(request, phase_id):
    phase, snapshot, decimals = _case_snapshot(request, phase_id)
    header, rows = exports.case_rows(phase, snapshot, decimals=decimals)
    return exports.csv_response(f"{exports.file_stem(phase)}-cases.csv", header,
                                [[row[field] for field in header] for row in rows])


def phase_cases_json(request, phase_id):
    phase, snapshot, decimals = _case_snapshot(request, phase_id)
    _, rows = exports.case_rows(phase, snapshot, decimals=decimals)
    return exports.json_response(f"{exports.file_stem(phase)}-cases.json", {
        "phase": str(phase.id),
        "task": phase.task.key,
        "metrics": phase.scored_metrics(),
        "ground_truth_version": (snapshot.ground_truth.version
                                 if snapshot and snapshot.ground_truth else None),
        "computed_at": snapshot.computed_at.isoformat() if snapshot else None,
        "cases": rows,
    })


def phase_ranking_input_csv(request, phase_id):
    phase, snapshot, decimals = _case_snapshot(request, phase_id)
    return exports.csv_response(f"{exports.file_stem(phase)}-ranking-input.csv",
                                list(exports.RANKING_INPUT_FIELDS),
                                exports.ranking_input(phase, snapshot, decimals=decimals))


def challenge_leaderboard(request, slug: str):
    challenge = get_object_or_404(visible_challenges(request.user), slug=slug)
    payload = challenge_payload(challenge, organizer=is_organizer(request.user, challenge))
    for ranking in payload["rankings"]:
        for row in ranking["entries"]:
            row["cells"] = [{"rank": rank, "used": used}
                            for rank, used in zip(row["task_ranks"], row["task_scores"],
                                                  strict=True)]
    return render(request, "leaderboard/challenge.html",
                  {"challenge": challenge, "payload": payload})


def challenge_evaluation(request, slug: str):
    """The challenge's Evaluation page: each phase's configuration in words."""
    challenge = get_object_or_404(visible_challenges(request.user), slug=slug)
    return render(request, "leaderboard/evaluation.html", {
        "challenge": challenge, "phases": describe_challenge(challenge), "tab": "evaluation",
    })
