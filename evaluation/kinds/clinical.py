"""Classification and survival tasks: one file of predictions for the whole test set, scored
against hidden clinical labels (docs/clinical.md).

The upload is a CSV file (or JSON, as algorithm containers may write) with one row per test
case: ``case,probability`` (or ``case,<target>_probability``) for a two-class target,
``case,<class>_probability`` for each class of a multi-class target, ``case,risk`` (or
``case,<target>_risk``) for survival, optionally followed by a survival curve at the phase's
times (``S@365,S@730``; :mod:`.clinical_curves`); bare, or alone in a zip or tar archive. A
file is a few dozen bytes per case, so the request checks it whole (:func:`max_upload_bytes`
bounds it).

The hidden labels are one CSV the import normalised (``evaluation.services.importing``):
``case,label`` (the class's name) or ``case,time,event``. The set-level metrics
(``scorers.clinical.set_metric``) go to the evaluation's aggregate; each case's row stores the
participant's own prediction (``matches``), never a label, which is what the leaderboard's
bootstrap (``leaderboard.stats.clinical.clinical_bootstrap``) re-scores on each resample.
"""

import csv
import dataclasses
import io
import json
import math
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from challenges.models import CURVE_METRICS, GroundTruth, Phase, Task
from core.archives import Member, detect_format, extract, human_size, list_members
from core.errors import GroundTruthError, InvalidInput
from core.storage import local_path, private_storage
from scorers.clinical import set_metric
from scorers.clinical_csv import max_csv_bytes, read_predictions, read_reference
from scorers.errors import InputError as ScorerInputError
from scorers.survival import cumulative_dynamic_auc

from ..models import CaseResult, Evaluation
from .base import Row, ScoringJob, TaskKind
from .clinical_curves import CurveRule, curve_columns, scoring_rule, upload_rule
from .clinical_curves import columns_text as curve_text
from .segmentation import archive_limits

PREDICTION_SUFFIXES = (".csv", ".json")
CSV_NAME = "the predictions file"
NO_CURVES = CurveRule()
"""A file of one prediction per case: survival curve columns refused."""
TRUTH_NAME = "the hidden labels"


# --- the task's definition -------------------------------------------------------------------

def classes(task: Task) -> list[str]:
    """A classification task's classes in their dataset.json order (index = stored label)."""
    return list(task.clinical.get("classes") or [])


def positive_class(task: Task) -> str | None:
    """The positive class of a two-class target (the one whose probability is submitted)."""
    return task.clinical.get("positive_class")


def prediction_key(task: Task) -> str:
    """What ``scorers.clinical.set_metric`` calls the task's predictions: ``probability``
    (two classes), ``probabilities`` (n × C, classes in :func:`classes` order) or ``risk``."""
    if task.kind == Task.SURVIVAL:
        return "risk"
    return "probability" if len(classes(task)) == 2 else "probabilities"


def expected_columns(task: Task, header: list[str] | None = None) -> list[str]:
    """The prediction columns a file for ``task`` must hold, after ``case``. Where two
    spellings are accepted (``probability`` or ``<target>_probability``), ``header`` (the
    file's first row) picks the one it uses."""
    target = task.clinical.get("target", "")
    if task.kind == Task.SURVIVAL:
        options = ["risk", f"{target}_risk"]
    elif len(classes(task)) == 2:
        options = ["probability", f"{target}_probability"]
    else:
        return [f"{name}_probability" for name in classes(task)]
    present = [name for name in options if header and name in header]
    return [present[0] if present else options[0]]


def accepted_header(task: Task, rule: CurveRule | None = None) -> str:
    """The header a predictions file may have, in words (for messages and pages); with a
    phase's curve ``rule``, the survival curve columns it takes."""
    target = task.clinical.get("target", "")
    if task.kind == Task.SURVIVAL:
        curves = "" if rule is None or not rule.times else (
            f", {'then' if rule.required else 'optionally followed by'} "
            f"{curve_text(rule.times)}")
        return f"case,risk (or case,{target}_risk){curves}"
    if len(classes(task)) == 2:
        return f"case,probability (or case,{target}_probability)"
    return "case," + ",".join(expected_columns(task))


def max_upload_bytes(task: Task, n_times: int = 0) -> int:
    """The largest predictions file ``task`` can need (``scorers.clinical_csv.max_csv_bytes``:
    a header, and per case its name and values, ``n_times`` more with a survival curve);
    JSON, wordier, gets twice that."""
    return 2 * max_csv_bytes(len(task.cases), len(expected_columns(task)) + n_times)


# --- predictions -----------------------------------------------------------------------------

def load_predictions(upload: Path, task: Task, scratch: Path,
                     rule: CurveRule = NO_CURVES) -> dict[str, np.ndarray]:
    """The predictions of ``upload`` (a CSV or JSON file, or an archive holding one), in the
    task's case order, keyed as ``set_metric`` expects (:func:`prediction_key`, and
    ``survival`` (n × T) where a survival file carries curves at ``rule``'s times). Raises
    InvalidInput naming the row and column of a bad value."""
    path, kind = _predictions_file(upload, scratch,
                                   max_bytes=max_upload_bytes(task, len(rule.times)))
    if kind == "json":
        path = _json_as_csv(path, scratch, expected_columns(task))
    header = _header(path)
    columns = expected_columns(task, header)
    given, curve = [], []
    if task.kind == Task.SURVIVAL:
        where = "the predictions JSON" if kind == "json" else f"{CSV_NAME} row 1"
        given, curve = curve_columns(header, rule, where=where,
                                     unit=task.clinical.get("time_unit", ""))
    if sorted(header) != sorted(["case", *columns, *given]):
        raise InvalidInput(_header_message(task, header, rule, is_json=kind == "json"))
    try:
        read = read_predictions(path, cases=task.case_names, columns=[*columns, *given],
                                name=CSV_NAME, curve=curve)
    except ScorerInputError as exc:
        raise InvalidInput(_json_message(str(exc)) if kind == "json" else str(exc)) from None
    key = prediction_key(task)
    if key == "probabilities":
        return {key: np.column_stack([read[column] for column in columns])}
    predictions = {key: np.asarray(read[columns[0]], dtype=np.float64)}
    if curve:
        predictions["survival"] = np.column_stack([read[column] for column in curve])
    return predictions


def _header_message(task: Task, header: list[str], rule: CurveRule, *, is_json: bool) -> str:
    """Why a predictions file's header (a JSON file's keys) is not the task's, in words."""
    shown = ",".join(header)[:200]
    accepted = accepted_header(task, rule)
    if is_json:
        return (f"the predictions JSON: expected the keys of {accepted} in every entry, got "
                f"{shown!r}")
    hint = next((f" (the columns must be separated by commas, not {name})"
                 for sep, name in ((";", "semicolons"), ("\t", "tabs"))
                 if len(header) == 1 and sep in header[0]), "")
    return f"{CSV_NAME} row 1: expected the header {accepted}, got {shown!r}{hint}"


def _json_message(message: str) -> str:
    """A message about the CSV a JSON predictions file was turned into, about the JSON: the
    CSV's row n + 1 is the JSON's entry n (counted from 1, in the file's order)."""
    message = re.sub(rf"^{CSV_NAME} row (\d+)",
                     lambda m: f"the predictions JSON, entry {int(m.group(1)) - 1}", message)
    message = re.sub(r"\(first in row (\d+)\)",
                     lambda m: f"(first in entry {int(m.group(1)) - 1})", message)
    return message.replace(f"{CSV_NAME}: no row for", "the predictions JSON: no entry for")


def _header(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        first = next(csv.reader(io.StringIO(fh.readline())), [])
    return [cell.strip() for cell in first]


def _json_as_csv(path: Path, scratch: Path, columns: list[str]) -> Path:
    """A JSON predictions file as the equivalent CSV: ``[{"case": …, "<column>": …}, …]``,
    ``{"<case>": <number>}`` (the task's one prediction column, the first of ``columns``) or
    ``{"<case>": {"<column>": …}}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the predictions file is not valid JSON ({exc})") from None
    if isinstance(data, dict):
        data = [{"case": case, **(value if isinstance(value, dict) else {columns[0]: value})}
                for case, value in data.items()]
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise InvalidInput("the predictions JSON must be a list of objects with a \"case\" key, "
                           "or an object mapping each case to its prediction")
    columns = list(dict.fromkeys(key for entry in data for key in entry))
    target = scratch / "predictions-from-json.csv"
    with open(target, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for entry in data:
            writer.writerow([_cell(entry.get(column, "")) for column in columns])
    return target


def _cell(value) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return json.dumps(value)
    return repr(value) if isinstance(value, float) else str(value)


def _predictions_file(upload: Path, scratch: Path, *, max_bytes: int) -> tuple[Path, str]:
    """The predictions file of ``upload`` and its format ("csv" or "json"): the upload itself,
    or the one .csv/.json member of a zip or tar archive (other files, a README, ignored)."""
    def too_large(what: str, size: int) -> InvalidInput:
        return InvalidInput(f"{what} is {human_size(size)}, more than the {human_size(max_bytes)} "
                            "a predictions file for this task's test cases can need")

    def check_size(member: Member) -> None:
        if member.size > max_bytes:
            raise too_large(f"'{member.name}'", member.size)

    try:
        detect_format(upload)
    except InvalidInput:
        if (size := upload.stat().st_size) > max_bytes:
            raise too_large("the predictions file", size) from None
        with open(upload, "rb") as fh:
            head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        return upload, ("json" if head[:1] in (b"[", b"{") else "csv")
    base = archive_limits()
    limits = dataclasses.replace(base, max_total_bytes=min(base.max_total_bytes, 2 * max_bytes))
    members = [m for m in list_members(upload, limits, check_member=check_size)
               if m.name.lower().endswith(PREDICTION_SUFFIXES)]
    if len(members) != 1:
        raise InvalidInput("the archive must hold exactly one predictions file (.csv or .json); "
                           f"found {len(members)}")
    path = extract(upload, members, scratch, limits)[members[0].name]
    return path, ("json" if members[0].name.lower().endswith(".json") else "csv")


def validate_upload(upload: Path, task: Task, rule: CurveRule = NO_CURVES
                    ) -> dict[str, np.ndarray]:
    """Every check of a predictions upload (the file is small: the quick check is complete);
    ``rule``: the phase's survival curve columns (:func:`.clinical_curves.upload_rule`)."""
    with tempfile.TemporaryDirectory(dir=upload.parent) as tmp:
        return load_predictions(upload, task, Path(tmp), rule)


# --- hidden labels ---------------------------------------------------------------------------

def truth_columns(task: Task) -> list[str]:
    """The columns of the normalised hidden-labels CSV after ``case``."""
    return ["time", "event"] if task.kind == Task.SURVIVAL else ["label"]


def read_truth(path: Path, task: Task, *, name: str = TRUTH_NAME) -> dict[str, np.ndarray]:
    """The hidden labels at ``path`` (a normalised labels CSV) in the task's case order, keyed
    as ``set_metric`` expects: ``label`` (class index in :func:`classes` order; for two
    classes 1 = the positive class) or ``time`` and ``event`` (1 = event, 0 = censored).
    Raises the metric library's InputError."""
    read = read_reference(path, cases=task.case_names, columns=truth_columns(task), name=name,
                          **({} if task.kind == Task.SURVIVAL else {"classes": _label_order(task)}))
    if task.kind == Task.SURVIVAL:
        return {"time": np.asarray(read["time"], np.float64),
                "event": np.asarray(read["event"], np.int64)}
    return {"label": np.asarray(read["label"], np.int64)}


def _label_order(task: Task) -> list[str]:
    """Classes in the order whose index is the stored label: two classes put the positive
    one second (label 1), as AUROC's positive label; more keep dataset.json's order."""
    names = classes(task)
    if len(names) == 2:
        positive = positive_class(task)
        return [next(n for n in names if n != positive), positive]
    return names


def ground_truth(evaluation: Evaluation, task: Task, scratch: Path) -> dict[str, np.ndarray]:
    """The evaluation's ground-truth version, read (a broken file is the organizer's)."""
    return read_version(evaluation.ground_truth, task, scratch)


def read_version(version: GroundTruth, task: Task, scratch: Path) -> dict[str, np.ndarray]:
    """A ground-truth version's labels, read (a broken file is the organizer's)."""
    entry = next(iter(version.files.values()))
    with local_path(private_storage(), entry["path"], scratch) as path:
        try:
            return read_truth(path, task, name=f"ground truth v{version.version}")
        except ScorerInputError as exc:
            raise GroundTruthError(f"ground truth v{version.version}: {exc}") from exc


def times_problem(task: Task, version: GroundTruth | None, times: list[float]) -> str | None:
    """Why a survival phase scored against ``version`` cannot take ``times`` (td_auc, the
    integrated Brier score): each must lie within the follow-up of its test labels, from the
    first observed time up to (not including) the last, or every evaluation would fail. For
    the organizers' console and API only: it names the labels' first and last times."""
    if task.kind != Task.SURVIVAL or version is None or not times:
        return None
    with tempfile.TemporaryDirectory() as scratch:
        observed = read_version(version, task, Path(scratch))["time"]
    first, last = float(observed.min()), float(observed.max())
    outside = [t for t in times if not first <= t < last]
    if not outside:
        return None
    unit = task.clinical.get("time_unit", "")
    return (f"every time must lie within the follow-up of the test labels (ground truth "
            f"v{version.version}): at least {first:g} and less than {last:g} {unit}; "
            f"{', '.join(f'{t:g}' for t in outside)} is not")


# --- scoring ---------------------------------------------------------------------------------

def metric_settings(config: dict, truth: dict[str, np.ndarray]) -> dict:
    """The phase's settings as ``set_metric`` takes them. An unset τ means no truncation: just
    above the largest observed time, so that every event counts (scikit-survival's
    ``tau=None``)."""
    settings = {"threshold": config.get("threshold", 0.5), "times": config.get("times") or []}
    tau = config.get("tau")
    if tau is None and "time" in truth:
        tau = float(np.nextafter(np.max(truth["time"]), np.inf))
    if tau is not None:
        settings["tau"] = tau
    return settings


def set_metrics(predictions: dict[str, np.ndarray], truth: dict[str, np.ndarray],
                config: dict) -> dict:
    """Every metric of ``config`` over the whole test set (None where undefined), and, with
    ``td_auc``, its value at each time (:data:`TD_AUC_PER_TIME`).

    The predictions were validated when read, so the metric library's complaints here are
    about the hidden labels or the phase's settings (a time beyond the follow-up, one class
    only): the organizer's to fix, and never shown to participants, whose message could
    otherwise describe the labels."""
    settings = metric_settings(config, truth)
    values = {}
    for name in config["metrics"]:
        if name in CURVE_METRICS and "survival" not in predictions:
            values[name] = None  # a file without curves: undefined, ranked last by it
            continue
        try:
            value = float(set_metric(name, predictions, truth, config=settings))
        except ScorerInputError as exc:
            raise GroundTruthError(f"{name} with settings {settings}: {exc}") from exc
        values[name] = value if math.isfinite(value) else None
    if values.get("td_auc") is not None:  # the pages show AUC(t) beside its mean
        values[TD_AUC_PER_TIME] = td_auc_per_time(predictions, truth, settings["times"])
    return values


TD_AUC_PER_TIME = "td_auc_per_time"
"""Key of the aggregate holding AUC(t) at each of the phase's times (``{"365": 0.71, …}``, as
``scorers/cli_clinical.py`` reports it); not a metric, never ranked."""


def td_auc_per_time(predictions: dict[str, np.ndarray], truth: dict[str, np.ndarray],
                    times) -> dict[str, float | None]:
    """AUC(t) (``scorers.survival.cumulative_dynamic_auc``) at each time, keyed as the times
    print (``365``, ``182.5``); None where undefined. Its mean is ``td_auc``."""
    auc, _ = cumulative_dynamic_auc(predictions["risk"], truth["time"], truth["event"],
                                    times=times)
    return {f"{float(t):g}": (float(a) if np.isfinite(a) else None)
            for t, a in zip(sorted(set(float(t) for t in times)), auc, strict=True)}


def stored_predictions(predictions: dict[str, np.ndarray], task: Task) -> Iterator[
        tuple[str, list[Row]]]:
    """(case, [row]) per case: ``matches`` holds the case's prediction under its key (a
    number, or the list of class probabilities) and its survival curve (``survival``: S(t)
    at the times), and nothing of its label."""
    for index, case in enumerate(task.case_names):
        stored = {}
        for key, values in predictions.items():
            value = values[index]
            stored[key] = [float(v) for v in value] if np.ndim(value) else float(value)
        yield case, [Row(0, {}, matches=stored)]


def predictions_of(evaluation_ids: list, task: Task) -> dict:
    """Evaluation id → its predictions in the task's case order (``{key: array}``, and
    ``survival`` where every case has its curve), rebuilt from the stored rows (no upload is
    read); evaluations without a row for every case are left out."""
    position = {case: i for i, case in enumerate(task.case_names)}
    key = prediction_key(task)
    found: dict = {}
    rows = CaseResult.objects.filter(evaluation_id__in=evaluation_ids, matches__isnull=False)
    for evaluation_id, case, stored in rows.values_list("evaluation_id", "case", "matches"):
        if case in position and key in stored:
            found.setdefault(evaluation_id, {})[position[case]] = stored
    n = len(position)
    result = {}
    for evaluation_id, by_index in found.items():
        if len(by_index) != n:
            continue
        rows_in_order = [by_index[i] for i in range(n)]
        result[evaluation_id] = {key: np.asarray([r[key] for r in rows_in_order],
                                                 dtype=np.float64)}
        if all("survival" in r for r in rows_in_order):
            result[evaluation_id]["survival"] = np.asarray(
                [r["survival"] for r in rows_in_order], dtype=np.float64)
    return result


class ClinicalKind(TaskKind):
    """Predictions of the whole test set in one small file; metrics of the set, scored in one
    shard. :class:`ClassificationKind` and :class:`SurvivalKind` differ only in name."""

    def check_in_request(self, upload: Path, phase: Phase) -> bool:
        validate_upload(upload, phase.task, upload_rule(phase))  # bounded by max_upload_bytes
        return True

    def check(self, upload: Path, phase: Phase) -> None:
        validate_upload(upload, phase.task, upload_rule(phase))

    def score(self, job: ScoringJob) -> Iterator[tuple[str, list[Row]]]:
        """The set-level metrics into ``job.summary``; one row per case with its prediction."""
        task = job.task
        predictions = load_predictions(job.archive, task, job.scratch,
                                       scoring_rule(job.evaluation.metric_config))
        truth = ground_truth(job.evaluation, task, job.scratch)
        job.summary = set_metrics(predictions, truth, job.evaluation.metric_config)
        yield from stored_predictions(predictions, task)

    def summarize(self, job: ScoringJob) -> tuple[dict, str]:
        return job.summary, f"Scored {len(job.task.cases)} cases."


class ClassificationKind(ClinicalKind):
    name = Task.CLASSIFICATION


class SurvivalKind(ClinicalKind):
    name = Task.SURVIVAL
