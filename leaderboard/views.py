"""Public leaderboard pages, read from snapshots."""

from django.http import Http404, JsonResponse
from django.shortcuts import render

from challenges.api import visible_phase

from .presentation import leaderboard_payload


def _phase_for_board(request, phase_id):
    phase = visible_phase(request.user, phase_id)
    organizer = phase.challenge.is_organizer(request.user)
    if not (phase.is_public or organizer):
        raise Http404
    return phase, phase.show_scores or organizer


def phase_leaderboard(request, phase_id):
    phase, with_scores = _phase_for_board(request, phase_id)
    board = leaderboard_payload(phase, with_scores=with_scores)
    columns = _columns(phase) if with_scores else []
    rows = [
        {**entry, "cells": [_cell(entry.get("aggregate") or {}, key) for key, _ in columns]}
        for entry in board["entries"]
    ]
    return render(request, "leaderboard/phase.html", {
        "phase": phase, "board": board, "rows": rows, "columns": columns,
        "with_scores": with_scores,
    })


def _columns(phase) -> list[tuple[tuple[str, str | None], str]]:
    """(key, heading) per table column: (label, metric) for segmentation, metric for detection."""
    if phase.task.kind == "detection":
        return [((metric, None), metric) for metric in phase.scored_metrics()]
    return [
        ((str(label), metric), f"{phase.task.labels[str(label)]} {metric}")
        for label in phase.task.foreground_labels
        for metric in phase.scored_metrics()
    ]


def _cell(aggregate: dict, key: tuple[str, str | None]):
    first, second = key
    value = aggregate.get(first)
    return value.get(second) if second is not None and isinstance(value, dict) else value


def phase_leaderboard_json(request, phase_id):
    phase, with_scores = _phase_for_board(request, phase_id)
    return JsonResponse(leaderboard_payload(phase, with_scores=with_scores))
