"""CSV and JSON exports of a leaderboard and of its per-case results.

Exports exist for published results only: a public phase that shows scores (and, for per-case
results, shows them too); organizers may always export. Scores are rounded as the phase rounds
public scores, except for organizers. CSV cells are safe to open in a
spreadsheet: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
gets a leading ``'`` (OWASP's advice against formula injection); numbers are written as numbers.
"""

import csv
import io
import json
import re
import uuid

from django.http import HttpResponse

from challenges import provenance
from challenges.models import Challenge, Phase, Task
from evaluation.models import CaseResult
from evaluation.results import public_scores

from .case_tables import case_values
from .entrants import from_entries
from .models import LeaderboardSnapshot
from .numbers import finite

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
LEADERBOARD_FIELDS = ("rank", "entrant", "description", "submission", "score",
                      "score_q025", "score_q975", "ranking_score", "rank_q025", "rank_q975",
                      "p_rank1", "n_cases")
ENTRANT_ALIAS = "participant"
"""The entrant's name under its old key, last in every export (docs/api.md, "Deprecated names");
removed in the next release."""


def may_export(phase: Phase, *, organizer: bool, cases: bool = False) -> bool:
    """Published results only: public, showing scores (and per-case results for ``cases``)."""
    if organizer:
        return True
    return phase.is_public and phase.show_scores and (phase.show_case_results or not cases)


def spreadsheet_cell(value) -> str | int | float:
    """A CSV cell: numbers stay numbers, None/NaN an empty cell, booleans ``true``/``false``,
    text that a spreadsheet would read as a formula gets a leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = finite(value)
        return "" if number is None else value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_response(filename: str, header: list[str], rows: list[list]) -> HttpResponse:
    """A CSV attachment; every cell passes through :func:`spreadsheet_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([spreadsheet_cell(h) for h in header])
    writer.writerows([spreadsheet_cell(cell) for cell in row] for row in rows)
    return _attachment(buffer.getvalue(), filename, "text/csv; charset=utf-8")


def json_response(filename: str, payload: dict) -> HttpResponse:
    """A JSON attachment (NaN and infinities are never written)."""
    body = json.dumps(payload, indent=1, allow_nan=False, ensure_ascii=False)
    return _attachment(body, filename, "application/json")


def _attachment(body: str, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def file_stem(phase: Phase) -> str:
    """An ASCII file name stem from the task key and phase name."""
    return _ascii_stem(f"{phase.task.key}-{phase.name}")


def challenge_stem(challenge: Challenge) -> str:
    """An ASCII file name stem from the challenge's slug."""
    return _ascii_stem(challenge.slug)


def _ascii_stem(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "leaderboard"


def leaderboard_table(phase: Phase, board: dict) -> tuple[list[str], list[list]]:
    """Header and rows of the leaderboard CSV: the entry fields, then per label and metric
    (segmentation) or per metric (detection) the evaluation's aggregate, then the ground-truth
    version scored and its provenance (:func:`with_source`)."""
    columns = aggregate_columns(phase)
    header = [*LEADERBOARD_FIELDS, *(heading for _, heading in columns),
              *provenance.csv_header(), ENTRANT_ALIAS]
    source = provenance.csv_cells(board.get("ground_truth"))
    rows = [
        [entry.get(field) for field in LEADERBOARD_FIELDS]
        + [aggregate_cell(entry.get("aggregate") or {}, key) for key, _ in columns]
        + source + [entry["entrant"]]
        for entry in board["entries"]
    ]
    return header, rows


def with_source(header: list[str], rows: list[dict],
                snapshot: LeaderboardSnapshot | None) -> tuple[list[str], list[dict]]:
    """A CSV's header and rows (dicts) with the columns of the ground-truth version the
    snapshot scored against (:data:`challenges.provenance.CSV_COLUMNS`: its number, content
    hash and source) before the deprecated alias: the same cells on every row, so that any
    CSV reader keeps one header line; empty cells without a ground truth."""
    ground_truth = snapshot.ground_truth if snapshot is not None else None
    names = provenance.csv_header()
    cells = dict(zip(names, provenance.csv_cells(
        provenance.public(ground_truth) if ground_truth is not None else None), strict=True))
    at = header.index(ENTRANT_ALIAS) if ENTRANT_ALIAS in header else len(header)
    return [*header[:at], *names, *header[at:]], [{**row, **cells} for row in rows]


def source_stamp(snapshot: LeaderboardSnapshot | None) -> str:
    """What changes when the provenance of the snapshot's ground truth is corrected: part of
    the keys of kept pages and exports."""
    ground_truth = snapshot.ground_truth if snapshot is not None else None
    changed = ground_truth.provenance_changed if ground_truth is not None else None
    return str(changed.timestamp()) if changed else "-"


def aggregate_columns(phase: Phase) -> list[tuple[tuple[str, str | None], str]]:
    """(key, heading) per aggregate column: (label, metric) for segmentation, metric for
    detection, classification and survival (values of the whole test set)."""
    if phase.task.kind != "segmentation":
        return [((metric, None), metric) for metric in phase.scored_metrics()]
    return [
        ((str(label), metric), f"{phase.task.labels[str(label)]} {metric}")
        for label in phase.task.foreground_labels
        for metric in phase.scored_metrics()
    ]


def aggregate_cell(aggregate: dict, key: tuple[str, str | None]):
    """The value of one aggregate column (None when absent)."""
    first, second = key
    value = aggregate.get(first)
    if second is None:
        return value if not isinstance(value, dict) else None
    return value.get(second) if isinstance(value, dict) else None


CASE_FIELDS = ("entrant", "submission", "case", "label", "label_name")


def case_metrics(phase: Phase) -> list[str]:
    """The metrics ``cases.json`` lists: the phase's scored metrics (segmentation: the columns
    of each row; classification and survival: values of the whole test set, computed from the
    rows' predictions), none for detection (its rows hold VOC counts, and AP has no value per
    image)."""
    return [] if phase.task.kind == Task.DETECTION else phase.scored_metrics()


def case_rows(
    phase: Phase, snapshot: LeaderboardSnapshot | None, *, decimals: int | None
) -> tuple[list[str], list[dict]]:
    """The per-case results behind a segmentation snapshot, entry by entry: one row per case
    and label with the phase's metrics (None = undefined; the ranking counts it as the worst
    value; rounded to ``decimals`` places unless None) and whether the case had no
    prediction. No snapshot: the header only. A detection phase: :func:`detection_case_rows`."""
    if phase.task.kind == "detection":
        return detection_case_rows(phase, snapshot)
    if phase.task.kind in Task.CLINICAL_KINDS:
        return clinical_case_rows(phase, snapshot, decimals=decimals)
    metrics = phase.scored_metrics()
    header = [*CASE_FIELDS, *metrics, "missing", ENTRANT_ALIAS]
    if snapshot is None:
        return header, []
    by_evaluation = {uuid.UUID(e["evaluation"]): e for e in snapshot.entries}
    labels = phase.task.labels
    results = (CaseResult.objects.filter(evaluation_id__in=list(by_evaluation))
               .values_list("evaluation_id", "case", "label", "values", "missing"))
    grouped: dict = {key: [] for key in by_evaluation}
    for evaluation_id, case, label, values, missing in results:
        entry = by_evaluation[evaluation_id]
        grouped[evaluation_id].append({
            "entrant": entry["entrant"], "submission": entry["submission"],
            "case": case, "label": label, "label_name": labels.get(str(label), ""),
            **{m: public_scores(finite(values.get(m)), decimals) for m in metrics},
            "missing": missing, ENTRANT_ALIAS: entry["entrant"],
        })
    rows = [row for key in by_evaluation
            for row in sorted(grouped[key], key=lambda r: (r["case"], r["label"]))]
    return header, rows


DETECTION_CASE_FIELDS = ("entrant", "submission", "case", "label", "label_name", "positives",
                         "detections", "true_positives", "false_positives")


def detection_case_rows(
    phase: Phase, snapshot: LeaderboardSnapshot | None
) -> tuple[list[str], list[dict]]:
    """The per-image VOC decisions behind a detection snapshot, entry by entry: one row per
    image and class that has boxes or detections, with the count of its non-difficult boxes
    (``positives``), of the entrant's detections, and of those matched (true positives) or
    not (false positives, duplicates and detections matching only a difficult box excluded,
    as VOC leaves those out). No AP per image: AP ranks detections over all images of a class.
    No snapshot: the header only."""
    header = [*DETECTION_CASE_FIELDS, ENTRANT_ALIAS]
    if snapshot is None:
        return header, []
    by_evaluation = {uuid.UUID(e["evaluation"]): e for e in snapshot.entries}
    names = phase.task.class_names
    results = (CaseResult.objects.filter(evaluation_id__in=list(by_evaluation),
                                         matches__isnull=False)
               .values_list("evaluation_id", "case", "label", "matches"))
    grouped: dict = {key: [] for key in by_evaluation}
    for evaluation_id, case, label, found in results:
        entry = by_evaluation[evaluation_id]
        true_positives = sum(1 for _, tp in found["detections"] if tp)
        grouped[evaluation_id].append({
            "entrant": entry["entrant"], "submission": entry["submission"],
            "case": case, "label": label, "label_name": names[label],
            "positives": found["positives"], "detections": len(found["detections"]),
            "true_positives": true_positives,
            "false_positives": len(found["detections"]) - true_positives,
            ENTRANT_ALIAS: entry["entrant"],
        })
    rows = [row for key in by_evaluation
            for row in sorted(grouped[key], key=lambda r: (r["case"], r["label"]))]
    return header, rows


CLINICAL_CASE_FIELDS = ("entrant", "submission", "case")


def clinical_case_rows(
    phase: Phase, snapshot: LeaderboardSnapshot | None, *, decimals: int | None
) -> tuple[list[str], list[dict]]:
    """The predictions behind a classification or survival snapshot, entry by entry: one row
    per case with the entrant's submitted value(s) (a probability per class, or the risk),
    as the bootstrap re-scores them. Never a label: the metrics are values of the whole set,
    so no per-case score exists to show. No snapshot: the header only."""
    columns = clinical_prediction_columns(phase.task)
    curves = ([f"S@{t:g}" for t in phase.survival_times or []]
              if phase.task.kind == Task.SURVIVAL else [])  # a survival curve, where sent
    header = [*CLINICAL_CASE_FIELDS, *columns, *curves, ENTRANT_ALIAS]
    if snapshot is None:
        return header, []
    by_evaluation = {uuid.UUID(e["evaluation"]): e for e in snapshot.entries}
    results = (CaseResult.objects.filter(evaluation_id__in=list(by_evaluation),
                                         matches__isnull=False)
               .values_list("evaluation_id", "case", "matches"))
    grouped: dict = {key: [] for key in by_evaluation}
    for evaluation_id, case, stored in results:
        entry = by_evaluation[evaluation_id]
        value = stored.get("risk", next(iter(stored.values()), None))
        values = value if isinstance(value, list) else [value]
        curve = stored.get("survival") or [None] * len(curves)
        grouped[evaluation_id].append({
            "entrant": entry["entrant"], "submission": entry["submission"], "case": case,
            **{column: public_scores(finite(v), decimals)
               for column, v in zip(columns, values, strict=False)},
            **{column: None if v is None else public_scores(finite(v), decimals)
               for column, v in zip(curves, curve, strict=False)},
            ENTRANT_ALIAS: entry["entrant"],
        })
    rows = [row for key in by_evaluation for row in sorted(grouped[key], key=lambda r: r["case"])]
    return header, rows


def clinical_prediction_columns(task: Task) -> list[str]:
    """The prediction columns of a clinical task's case rows (as a predictions file names
    them: ``probability``, ``<class>_probability`` per class, or ``risk``)."""
    if task.kind == Task.SURVIVAL:
        return ["risk"]
    classes = task.clinical.get("classes") or []
    return ["probability"] if len(classes) == 2 else [f"{c}_probability" for c in classes]


OVERALL_FIELDS = ("phase_name", "table", "rank", "entrant", "score", "tasks_ranked")
OVERALL_TABLES = (("mean-rank", "entries"), ("msd", "msd_entries"))


def overall_table(rankings: list[dict]) -> tuple[list[str], list[list]]:
    """Header and rows of the overall ranking CSV: per ranking (phase name), its mean-rank
    then its MSD-style table, one row per entrant in rank order, then per task (column named by
    its key; empty where the ranking has no such task) the rank that entered the score."""
    tasks = list(dict.fromkeys(task["key"] for ranking in rankings for task in ranking["tasks"]))
    rows = []
    for ranking in rankings:
        keys = [task["key"] for task in ranking["tasks"]]
        for table, field in OVERALL_TABLES:
            for entry in ranking[field]:
                used = dict(zip(keys, entry["task_scores"], strict=True))
                rows.append([ranking["phase_name"], table, entry["rank"], entry["entrant"],
                             entry["score"], entry["tasks_ranked"],
                             *(used.get(key) for key in tasks)])
    return [*OVERALL_FIELDS, *tasks], rows


RANKING_INPUT_FIELDS = ("task", "case", "algorithm", "value")


def ranking_input(
    phase: Phase, snapshot: LeaderboardSnapshot | None, *, decimals: int | None
) -> list[list]:
    """The table a segmentation snapshot ranked, as ``python -m leaderboard.stats`` reads it:
    ``task, case, algorithm, value`` with value the primary metric per case, averaged over
    the labels, worst values substituted (read again from the stored per-case results), and
    rounded to ``decimals`` places unless None (then the CLI's ranks may tie where the
    leaderboard's do not)."""
    if snapshot is None or not snapshot.entries:
        return []
    task = phase.task
    entrants = from_entries(snapshot.entries, snapshot.statistics["entrant_keys"])
    values = case_values(task, entrants, [phase.primary_metric])[phase.primary_metric]
    return [
        [task.key, case, entrant.name, public_scores(float(values[k, j]), decimals)]
        for k, entrant in enumerate(entrants)
        for j, case in enumerate(task.case_names)
    ]
