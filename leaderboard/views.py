"""Leaderboard pages and exports, read from snapshots (no request recomputes a ranking)."""

import gzip
import re
from urllib.parse import urlencode

from django.core.cache import cache
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import http_date, quote_etag

from challenges.models import Task
from challenges.visibility import is_organizer, leaderboard_phase, visible_challenges
from scorers.metrics import metric_label

from . import exports
from .describe import describe_challenge
from .display import column_headings, per_case_plots, table_rows
from .exports import may_export
from .overall import plot_name
from .presentation import (
    WORKER_PLOTS,
    challenge_snapshot,
    drawn_plots,
    leaderboard_payload,
    overall_payload,
    phase_snapshot,
    score_decimals,
    stored_plot,
)

PLOT_CACHE_S = 3600
PLOT_MAX_AGE_S = 86400
"""A plot's URL changes with the snapshot: a browser may keep it this long without asking."""
ACCEPTS_GZIP = re.compile(r"\bgzip\b")
CASE_PLOTS = ("cases", "podium")
"""Drawn on request from the snapshot's per-case values (:func:`display.per_case_plots`)."""
RANKING_SCORE_HEADINGS = {"rank-then-aggregate": "Mean rank", "test-then-rank": "Share beaten"}


def _phase_for_board(request, phase_id):
    """The phase (404 unless its leaderboard is public or the user organizes it), whether the
    user is an organizer, and whether scores are shown."""
    phase, organizer = leaderboard_phase(request.user, phase_id)
    return phase, organizer, phase.show_scores or organizer


def phase_leaderboard(request, phase_id):
    phase, organizer, with_scores = _phase_for_board(request, phase_id)
    snapshot = phase_snapshot(phase, statistics=False)  # read below only when not kept
    decimals = score_decimals(phase, organizer=organizer)
    board, rows, with_values = _page_board(phase, snapshot, organizer, with_scores, decimals)
    metrics, metric = _case_metric(request, phase, organizer, with_scores)
    return render(request, "leaderboard/phase.html", {
        "phase": phase, "board": board, "with_scores": with_scores, "rows": rows,
        "columns": column_headings(phase) if with_scores else [],
        "ranking_score_heading": RANKING_SCORE_HEADINGS.get(board["ranking_method"]),
        "plots": _plot_urls(phase, snapshot, board,
                            metric if metric in metrics and metric in with_values else None),
        "case_metrics": [(name, metric_label(name)) for name in metrics],
        "case_metric": metric,
        "exports": may_export(phase, organizer=organizer),
        "case_exports": may_export(phase, organizer=organizer, cases=True),
        "ranking_input": phase.task.kind == Task.SEGMENTATION,
    })


def _page_board(phase, snapshot, organizer: bool, with_scores: bool,
                decimals: int | None) -> tuple[dict, list[dict], list[str]]:
    """The viewer's payload, its table rows and the metrics with per-case values: made from
    the snapshot's statistics once per computation, scores shown and rounding, then kept (the
    statistics are most of the time a page takes to read)."""
    if snapshot is None:
        board = leaderboard_payload(phase, organizer=organizer, snapshot=None)
        return board, [], []
    key = (f"leaderboard-page:{snapshot.pk}:{snapshot.computed_at.timestamp()}:{with_scores}"
           f":{decimals}")
    kept = cache.get(key)
    if kept is None:
        snapshot.refresh_from_db(fields=["statistics"])
        board = leaderboard_payload(phase, organizer=organizer, snapshot=snapshot)
        rows = table_rows(phase, board, with_scores=with_scores, decimals=decimals)
        case_values = snapshot.statistics.get("case_values") or {}
        kept = (board, rows, [metric for metric, values in case_values.items() if values])
        cache.set(key, kept, PLOT_CACHE_S)
    return kept


def _case_metric(request, phase, organizer: bool, with_scores: bool) -> tuple[list[str], str]:
    """The metrics whose per-case plots the viewer may see (none where the phase hides its
    scores or per-case results from them), and the one chosen (``?metric=``)."""
    show_cases = with_scores and (phase.show_case_results or organizer)
    metrics = (phase.scored_metrics()
               if show_cases and phase.task.kind == Task.SEGMENTATION else [])
    metric = request.GET.get("metric")
    return metrics, metric if metric in metrics else phase.primary_metric


def _plot_urls(phase, snapshot, board: dict, case_metric: str | None) -> dict:
    """The URL of each plot the page shows, by name (the per-case ones of ``case_metric``
    unless None); versioned by the snapshot's computation time, so that a browser may keep a
    plot until the leaderboard changes."""
    if snapshot is None or not board["entries"]:
        return {}
    version = {"v": str(snapshot.computed_at.timestamp())}
    names = drawn_plots(snapshot)
    if case_metric is not None:
        names |= set(CASE_PLOTS)
        version["metric"] = case_metric
    return {name: reverse("phase-plot", args=[phase.id, name]) + "?" + urlencode(version)
            for name in names}


def phase_plot(request, phase_id, name: str):
    """One plot of the leaderboard as SVG, under the page's visibility rules; cached by the
    browser (versioned URL, ETag and Last-Modified from the snapshot's computation) and, gzipped,
    by the server (a 200-entrant plot is megabytes of SVG and a tenth of that compressed)."""
    phase, organizer, with_scores = _phase_for_board(request, phase_id)
    case_plot = name in CASE_PLOTS
    metrics, metric = _case_metric(request, phase, organizer, with_scores)
    snapshot = phase_snapshot(phase, statistics=False)  # read only to draw a per-case plot
    if snapshot is None or name not in (*WORKER_PLOTS, *CASE_PLOTS) or (
            case_plot and metric not in metrics):
        raise Http404
    decimals = score_decimals(phase, organizer=organizer)
    computed = snapshot.computed_at.timestamp()
    version = f"{snapshot.pk}:{computed}:{metric if case_plot else ''}:{decimals}"
    return _svg_response(
        request, version, computed, name,
        lambda: (_case_plots(phase, snapshot, organizer, metric, decimals) if case_plot
                 else {name: stored_plot(snapshot, name)}))


def _svg_response(request, version: str, computed: float, name: str, draw) -> HttpResponse:
    """Plot ``name`` of ``draw()`` (name → SVG or None: plots drawn together are cached
    together), conditional on the ETag of ``version`` and the computation time ``computed``."""
    etag = quote_etag(f"{version}:{name}")
    response = get_conditional_response(request, etag=etag, last_modified=int(computed))
    if response is None:
        key = f"leaderboard-plot:{version}"
        compressed = cache.get(f"{key}:{name}")
        if compressed is None:
            zipped = {plot: gzip.compress(svg.encode(), mtime=0) if svg else b""
                      for plot, svg in draw().items()}
            cache.set_many({f"{key}:{plot}": body for plot, body in zipped.items()},
                           PLOT_CACHE_S)
            compressed = zipped.get(name, b"")
        if not compressed:
            raise Http404
        response = _gzipped_response(request, compressed, "image/svg+xml")
    response["ETag"] = etag
    response["Last-Modified"] = http_date(computed)
    response["X-Content-Type-Options"] = "nosniff"
    patch_cache_control(response, private=True, max_age=PLOT_MAX_AGE_S)
    return response


def _gzipped_response(request, compressed: bytes, content_type: str) -> HttpResponse:
    """A body kept gzipped, sent so to a client that accepts it, else decompressed (the
    GZip middleware leaves a response that has a Content-Encoding alone)."""
    if ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")):
        response = HttpResponse(compressed, content_type=content_type)
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(gzip.decompress(compressed), content_type=content_type)
    patch_vary_headers(response, ("Accept-Encoding",))
    return response


def _case_plots(phase, snapshot, organizer: bool, metric: str,
                decimals: int | None) -> dict[str, str]:
    """The per-case plots of ``metric`` as the viewer may see them (drawing thousands of dots
    takes a while: the caller caches them per snapshot, metric and rounding)."""
    statistics = snapshot.statistics  # deferred until now: the payload then has it too
    board = leaderboard_payload(phase, organizer=organizer, snapshot=snapshot)
    return per_case_plots(phase, board, statistics, metric, decimals=decimals)


def _exportable(request, phase_id, *, cases: bool = False):
    """The phase (404 unless the user may export it) and whether the user organizes it."""
    phase, organizer, _ = _phase_for_board(request, phase_id)
    if not may_export(phase, organizer=organizer, cases=cases):
        raise Http404
    return phase, organizer


def phase_leaderboard_json(request, phase_id):
    phase, organizer = _exportable(request, phase_id)
    snapshot = phase_snapshot(phase, statistics=False)  # read below only when not kept

    def build():
        if snapshot is not None:
            snapshot.refresh_from_db(fields=["statistics"])
        return JsonResponse(leaderboard_payload(phase, organizer=organizer, snapshot=snapshot))
    return _cached_export(request, snapshot, "leaderboard.json",
                          score_decimals(phase, organizer=organizer), build)


def phase_leaderboard_csv(request, phase_id):
    phase, organizer = _exportable(request, phase_id)
    board = leaderboard_payload(phase, organizer=organizer,
                                snapshot=phase_snapshot(phase, statistics=False))
    header, rows = exports.leaderboard_table(phase, board)
    return exports.csv_response(f"{exports.file_stem(phase)}-leaderboard.csv", header, rows)


def _case_snapshot(request, phase_id, *, segmentation: bool = False):
    """A phase whose per-case results may be exported (and is a segmentation phase where
    ``segmentation``), its snapshot (its statistics read only when used), and the decimals the
    user's values are rounded to."""
    phase, organizer = _exportable(request, phase_id, cases=True)
    if segmentation and phase.task.kind != Task.SEGMENTATION:
        raise Http404
    return (phase, phase_snapshot(phase, statistics=False),
            score_decimals(phase, organizer=organizer))


def _cached_export(request, snapshot, filename: str, decimals: int | None, build):
    """The export ``build()`` makes, made once per snapshot computation, file and rounding and
    kept gzipped: what it is made of never changes within a snapshot (the per-case results
    behind it are immutable: a re-evaluation is a new evaluation, so a new snapshot)."""
    if snapshot is None:
        return build()
    key = (f"leaderboard-export:{snapshot.pk}:{snapshot.computed_at.timestamp()}:{filename}"
           f":{decimals}")
    kept = cache.get(key)
    if kept is None:
        built = build()
        kept = (gzip.compress(built.content, mtime=0), built["Content-Type"],
                built.get("Content-Disposition"))
        cache.set(key, kept, PLOT_CACHE_S)
    compressed, content_type, disposition = kept
    response = _gzipped_response(request, compressed, content_type)
    if disposition:
        response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    return response


def phase_cases_csv(request, phase_id):
    phase, snapshot, decimals = _case_snapshot(request, phase_id)
    filename = f"{exports.file_stem(phase)}-cases.csv"

    def build():
        header, rows = exports.case_rows(phase, snapshot, decimals=decimals)
        return exports.csv_response(filename, header,
                                    [[row[field] for field in header] for row in rows])
    return _cached_export(request, snapshot, filename, decimals, build)


def phase_cases_json(request, phase_id):
    phase, snapshot, decimals = _case_snapshot(request, phase_id)
    filename = f"{exports.file_stem(phase)}-cases.json"

    def build():
        _, rows = exports.case_rows(phase, snapshot, decimals=decimals)
        return exports.json_response(filename, {
            "phase": str(phase.id),
            "task": phase.task.key,
            "metrics": (phase.scored_metrics() if phase.task.kind == Task.SEGMENTATION
                        else []),
            "ground_truth_version": (snapshot.ground_truth.version
                                     if snapshot and snapshot.ground_truth else None),
            "computed_at": snapshot.computed_at.isoformat() if snapshot else None,
            "cases": rows,
        })
    return _cached_export(request, snapshot, filename, decimals, build)


def phase_ranking_input_csv(request, phase_id):
    phase, snapshot, decimals = _case_snapshot(request, phase_id, segmentation=True)
    filename = f"{exports.file_stem(phase)}-ranking-input.csv"
    return _cached_export(request, snapshot, filename, decimals, lambda: exports.csv_response(
        filename, list(exports.RANKING_INPUT_FIELDS),
        exports.ranking_input(phase, snapshot, decimals=decimals)))


def _overall(request, slug: str) -> tuple:
    """The challenge (404 unless visible), its computed overall snapshot (or None), and the
    overall payload as the user may see it."""
    challenge = get_object_or_404(visible_challenges(request.user), slug=slug)
    snapshot = challenge_snapshot(challenge)
    payload = overall_payload(challenge, snapshot,
                              organizer=is_organizer(request.user, challenge))
    return challenge, snapshot, payload


def challenge_leaderboard(request, slug: str):
    challenge, snapshot, payload = _overall(request, slug)
    plots = _overall_plot_urls(slug, snapshot) if payload["rankings"] else {}
    for ranking in payload["rankings"]:
        ranking["plot"] = plots.get(ranking["phase_name"])
        for row in ranking["entries"]:
            row["cells"] = [{"rank": rank, "used": used}
                            for rank, used in zip(row["task_ranks"], row["task_scores"],
                                                  strict=True)]
    return render(request, "leaderboard/challenge.html",
                  {"challenge": challenge, "payload": payload})


def _overall_plot_urls(slug: str, snapshot) -> dict[str, str]:
    """Phase name → the URL of its ranking's plot, versioned as a phase's plots are; a
    snapshot computed before plots were drawn has none until its next computation."""
    drawn = drawn_plots(snapshot)
    version = urlencode({"v": str(snapshot.computed_at.timestamp())})
    return {ranking["phase_name"]: reverse("challenge-plot", args=[slug, plot_name(k)])
            + "?" + version
            for k, ranking in enumerate(snapshot.rankings) if plot_name(k) in drawn}


def challenge_plot(request, slug: str, name: str):
    """A ranking's "ranks across tasks" plot, shown only with its ranking (as the page's)."""
    _, snapshot, payload = _overall(request, slug)
    visible = {ranking["phase_name"] for ranking in payload["rankings"]}
    names = {plot_name(k) for k, ranking in enumerate(snapshot.rankings)
             if ranking["phase_name"] in visible} if snapshot else set()
    if name not in names:
        raise Http404
    computed = snapshot.computed_at.timestamp()
    return _svg_response(request, f"{snapshot.pk}:{computed}", computed, name,
                         lambda: {name: stored_plot(snapshot, name)})


def challenge_leaderboard_csv(request, slug: str):
    challenge, _, payload = _overall(request, slug)
    header, rows = exports.overall_table(payload["rankings"])
    return exports.csv_response(f"{exports.challenge_stem(challenge)}-leaderboard.csv",
                                header, rows)


def challenge_leaderboard_json(request, slug: str):
    challenge, _, payload = _overall(request, slug)
    return exports.json_response(f"{exports.challenge_stem(challenge)}-leaderboard.json",
                                 payload)


def challenge_evaluation(request, slug: str):
    """The challenge's Evaluation page: each phase's configuration in words."""
    challenge = get_object_or_404(visible_challenges(request.user), slug=slug)
    return render(request, "leaderboard/evaluation.html", {
        "challenge": challenge, "phases": describe_challenge(challenge), "tab": "evaluation",
    })
