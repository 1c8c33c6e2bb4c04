"""Leaderboard pages and exports, read from snapshots (no request recomputes a ranking)."""

import gzip
import hashlib
import re
from urllib.parse import urlencode

from django.contrib.messages import get_messages
from django.core.cache import cache
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import http_date, quote_etag
from django.utils.safestring import mark_safe
from django.utils.timezone import get_current_timezone_name
from django.utils.translation import get_language

from accounts.authentication import token_or_session
from challenges import provenance
from challenges.models import Task
from challenges.visibility import is_organizer, leaderboard_phase, visible_challenges
from scorers.metrics import metric_label

from . import exports
from .describe import describe_challenge
from .display import column_headings, per_case_plots, release, table_rows
from .exports import may_export
from .models import LeaderboardSnapshot
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
    """The phase's leaderboard page. Its board (tables and plots) is rendered once per
    :func:`_page_key` and kept; an anonymous viewer's whole page is kept too, gzipped, and
    answered by ETag (it holds nothing of the viewer's: no CSRF token, no name, no message)."""
    phase, organizer, with_scores = _phase_for_board(request, phase_id)
    metrics, metric = _case_metric(request, phase, organizer, with_scores)
    key = _page_key(request, phase, organizer=organizer, metric=metric)
    shared = not request.user.is_authenticated and not len(get_messages(request))
    if not shared:
        response = _render_page(request, phase, key, organizer, with_scores, metrics, metric)
    else:
        etag = f"W/{quote_etag(key)}"  # weak: one tag for the gzipped and the plain body
        response = get_conditional_response(request, etag=etag)
        if response is None:
            compressed = cache.get(f"{key}:response")
            if compressed is None:
                page = _render_page(request, phase, key, organizer, with_scores, metrics, metric)
                compressed = gzip.compress(page.content, mtime=0)
                # A page that used a CSRF token holds one viewer's token: never shared.
                if not request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
                    cache.set(f"{key}:response", compressed, PLOT_CACHE_S)
            response = _gzipped_response(request, compressed, "text/html; charset=utf-8")
        response["ETag"] = etag
    patch_vary_headers(response, ("Cookie",))
    patch_cache_control(response, private=True, no_cache=True)
    return response


def _page_key(request, phase, *, organizer: bool, metric: str) -> str:
    """The cache key of what the page shows a viewer: the snapshot's computation (a refresh
    makes a new key), the phase, task and challenge rows as read now (any edit does too), the
    visibility level (organizer or not: exact and hidden scores, unpublished boards), the
    chosen metric, the language and timezone, the path (the login link's ``next``), and the
    release of the code that draws it (:func:`display.release`: a deploy makes a new key)."""
    # The one-to-one row as a plain list: Django compiles it in half the time .first() takes.
    snapshot = list(LeaderboardSnapshot.objects.filter(phase=phase)
                    .values_list("pk", "computed_at", "ground_truth__provenance_changed"))
    rows = (phase, phase.task, phase.challenge)
    inputs = repr((
        [[(field.attname, getattr(row, field.attname)) for field in row._meta.concrete_fields]
         for row in rows],
        organizer, metric, get_language(), get_current_timezone_name(), request.path,
    ))
    digest = hashlib.blake2b(inputs.encode(), digest_size=16).hexdigest()
    computed = snapshot[0] if snapshot and snapshot[0][1] is not None else None
    # The third part changes when the scored ground truth's provenance is corrected.
    version = (f"{computed[0]}:{computed[1].timestamp()}:"
               f"{computed[2].timestamp() if computed[2] else '-'}") if computed else "none"
    return f"leaderboard-page:{release()}:{phase.pk}:{version}:{digest}"


def _render_page(request, phase, key: str, organizer: bool, with_scores: bool,
                 metrics: list[str], metric: str) -> HttpResponse:
    """The page around the kept board: the parts that are the viewer's own (their name, the
    CSRF token of the log-out form, the Submit link) rendered for this request."""
    board_html = cache.get(f"{key}:board")
    if board_html is None:
        board_html = _render_board(phase, organizer, with_scores, metrics, metric)
        cache.set(f"{key}:board", board_html, PLOT_CACHE_S)
    return render(request, "leaderboard/phase.html", {
        # The board is a template's output, escaped as it was rendered.
        "phase": phase, "board_html": mark_safe(board_html),  # noqa: S308
        "exports": may_export(phase, organizer=organizer),
        "case_exports": may_export(phase, organizer=organizer, cases=True),
        "ranking_input": phase.task.kind == Task.SEGMENTATION,
    })


def _render_board(phase, organizer: bool, with_scores: bool, metrics: list[str],
                  metric: str) -> str:
    """The board's HTML as every viewer of the visibility level sees it: rendered without the
    request, so nothing of the viewer's can enter it."""
    snapshot = phase_snapshot(phase)
    decimals = score_decimals(phase, organizer=organizer)
    board = leaderboard_payload(phase, organizer=organizer, snapshot=snapshot)
    rows = table_rows(phase, board, with_scores=with_scores, decimals=decimals)
    case_values = (snapshot.statistics.get("case_values") or {}) if snapshot else {}
    with_values = metric in metrics and bool(case_values.get(metric))
    return render_to_string("leaderboard/_board.html", {
        "phase": phase, "board": board, "with_scores": with_scores, "rows": rows,
        "columns": column_headings(phase) if with_scores else [],
        "ranking_score_heading": RANKING_SCORE_HEADINGS.get(board["ranking_method"]),
        "plots": _plot_urls(phase, snapshot, board, metric if with_values else None),
        "case_metrics": [(name, metric_label(name)) for name in metrics],
        "case_metric": metric,
    })


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
        key = f"leaderboard-plot:{release()}:{version}"
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


@token_or_session
def phase_leaderboard_json(request, phase_id):
    phase, organizer = _exportable(request, phase_id)
    snapshot = phase_snapshot(phase, statistics=False)  # read below only when not kept

    def build():
        if snapshot is not None:
            snapshot.refresh_from_db(fields=["statistics"])
        return JsonResponse(leaderboard_payload(phase, organizer=organizer, snapshot=snapshot))
    return _cached_export(request, snapshot, "leaderboard.json",
                          score_decimals(phase, organizer=organizer), build)


@token_or_session
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
           f":{decimals}:{exports.source_stamp(snapshot)}")
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


@token_or_session
def phase_cases_csv(request, phase_id):
    phase, snapshot, decimals = _case_snapshot(request, phase_id)
    filename = f"{exports.file_stem(phase)}-cases.csv"

    def build():
        header, rows = exports.with_source(
            *exports.case_rows(phase, snapshot, decimals=decimals), snapshot)
        return exports.csv_response(filename, header,
                                    [[row[field] for field in header] for row in rows])
    return _cached_export(request, snapshot, filename, decimals, build)


@token_or_session
def phase_cases_json(request, phase_id):
    phase, snapshot, decimals = _case_snapshot(request, phase_id)
    filename = f"{exports.file_stem(phase)}-cases.json"

    def build():
        _, rows = exports.case_rows(phase, snapshot, decimals=decimals)
        return exports.json_response(filename, {
            "phase": str(phase.id),
            "task": phase.task.key,
            "metrics": exports.case_metrics(phase),
            "ground_truth_version": (snapshot.ground_truth.version
                                     if snapshot and snapshot.ground_truth else None),
            "ground_truth": (provenance.public(snapshot.ground_truth)
                             if snapshot and snapshot.ground_truth else None),
            "computed_at": snapshot.computed_at.isoformat() if snapshot else None,
            "cases": rows,
        })
    return _cached_export(request, snapshot, filename, decimals, build)


@token_or_session
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


@token_or_session
def challenge_leaderboard_csv(request, slug: str):
    challenge, _, payload = _overall(request, slug)
    header, rows = exports.overall_table(payload["rankings"])
    return exports.csv_response(f"{exports.challenge_stem(challenge)}-leaderboard.csv",
                                header, rows)


@token_or_session
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
