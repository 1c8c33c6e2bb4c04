"""``python -m scorers clinical``: score classification or survival predictions against hidden
labels, as the platform does.

Registered by ``scorers/cli.py``. Files (:mod:`scorers.clinical_csv` reads both):

- ``--ref``: ``case,label`` (0/1, or class indices 0 … C − 1, or the class names of the
  prediction columns) or ``case,time,event`` (event 1, censored 0); its cases are the test set.
  Or the task folder itself (or its ``dataset.json``), as the platform imports it: its
  ``"clinical"`` block says the kind, classes and columns, ``"test"`` the test cases, and the
  organizer's labels CSV holds them among other columns and subjects
  (:mod:`scorers.clinical_task`); ``--target`` picks a target where the block lists several.
- ``--pred``: ``case,probability`` or ``case,<target>_probability`` (binary), one
  ``<class>_probability`` column per class (multi-class, columns in class-index order), or
  ``case,risk`` / ``case,<target>_risk`` (survival), optionally followed by a survival curve,
  ``S@<t>`` for each t of ``--times`` (S(t), not increasing with t).

Metrics: ``--metric`` (repeatable), else every metric of the kind that the settings allow:
classification auroc, average_precision, log_loss, brier and, at ``--threshold`` (default 0.5),
sensitivity, specificity, balanced_accuracy; multi-class macro_auroc; survival c_index, uno_c
(truncated at ``--tau``; without it every event counts, as a phase without τ), td_auc with
``--times``, integrated_brier when the file holds curves at two or more ``--times``. Output
JSON:
``{"kind": …, "n_cases": n, "metrics": {name: value or null when undefined}}`` and, with td_auc,
``"td_auc_per_time": {t: AUC}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from scorers._cli_common import add_subcommand, run_to_json
from scorers._parse import capped_csv
from scorers.clinical import set_metric
from scorers.clinical_csv import CURVE_PREFIX, read_predictions, read_reference
from scorers.clinical_task import read_task
from scorers.errors import InputError
from scorers.metrics import CLASSIFICATION, SURVIVAL, metric_names
from scorers.survival import cumulative_dynamic_auc

_MAX_REFERENCE_BYTES = 64 * 1024 * 1024
_MAX_REFERENCE_ROWS = 1_000_000


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``clinical`` subcommand and its options on ``subparsers``."""
    parser = add_subcommand(
        subparsers, "clinical",
        help="classification (AUROC …) or survival (C-index …) metrics of a predictions CSV",
        description="Score a predictions CSV (case,probability or case,risk) against a labels "
                    "CSV (case,label or case,time,event).",
        pred="predictions FILE.csv",
        ref="hidden labels FILE.csv (case,label or case,time,event), or the task's FOLDER or "
            "its dataset.json",
    )
    parser.add_argument("--target", help="the target to score where the task folder's "
                                         "dataset.json lists several")
    parser.add_argument("--out", required=True, type=Path, help="result FILE.json")
    parser.add_argument("--metric", action="append", dest="metrics",
                        help="a metric to compute (repeatable; default: every one that applies)")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="probability at or above which a case is called positive "
                             "(default 0.5)")
    parser.add_argument("--tau", type=float, help="truncation time of Uno's C")
    parser.add_argument("--times", type=float, nargs="+",
                        help="evaluation times of the time-dependent AUC")


def run(args: argparse.Namespace) -> int:
    """Score, write ``args.out`` and return 0; on bad input print one line and return 1."""
    return run_to_json(args, _score)


def _header_and_cases(path: Path, *, name: str) -> tuple[list[str], list[str]]:
    """The header cells and the ``case`` column of a CSV (duplicates are found by the reader)."""
    with capped_csv(path, name=name, max_bytes=_MAX_REFERENCE_BYTES,
                    max_lines=_MAX_REFERENCE_ROWS, max_chars=4096,
                    what="CSV file") as (header, reader):
        if "case" not in header:
            raise InputError(f"{name} row 1: expected a header with a case column")
        column = header.index("case")
        cases = [row[column].strip() for row in reader
                 if any(cell.strip() for cell in row) and len(row) > column]
    return header, list(dict.fromkeys(cases))


def _score(args: argparse.Namespace) -> dict:
    if args.out.suffix.lower() != ".json":
        raise InputError(f"--out {args.out.name}: expected a .json file")
    pred_header, _ = _header_and_cases(args.pred, name=args.pred.name)
    if args.ref.is_dir() or args.ref.suffix.lower() == ".json":
        kind, predictions, truth, cases = _task_inputs(args, pred_header)
    else:
        kind, predictions, truth, cases = _file_inputs(args, pred_header)
    config = {"threshold": args.threshold, "tau": args.tau, "times": args.times}
    if kind == SURVIVAL and args.tau is None:  # no truncation, as the platform's unset τ
        config["tau"] = float(np.nextafter(np.max(truth["time"]), np.inf))
    names = args.metrics or _default_metrics(kind, multiclass="probabilities" in predictions,
                                             config=config,
                                             survival_curves="survival" in predictions)
    unknown = [name for name in names if name not in metric_names(kind)]
    if unknown:
        raise InputError(f"--metric {unknown[0]}: expected one of {', '.join(metric_names(kind))}"
                         " for these files")
    values = {}
    for name in names:
        value = float(set_metric(name, predictions, truth, config=config))
        values[name] = value if np.isfinite(value) else None
    result = {"kind": kind, "n_cases": len(cases), "metrics": values}
    if "td_auc" in names:
        auc, _ = cumulative_dynamic_auc(predictions["risk"], truth["time"], truth["event"],
                                        times=args.times)
        result["td_auc_per_time"] = {f"{t:g}": (float(a) if np.isfinite(a) else None)
                                     for t, a in zip(np.unique(args.times), auc, strict=True)}
    return result


def _task_inputs(args: argparse.Namespace, pred_header: list[str]) -> tuple:
    """Kind, predictions, labels and cases where ``--ref`` is a task folder (docs/clinical.md):
    the prediction columns are those the platform asks of the task."""
    task = read_task(args.ref, target=args.target)
    columns = task.prediction_columns(pred_header)
    curve = _curve_columns(pred_header, args) if task.kind == SURVIVAL else []
    if sorted(pred_header) != sorted(["case", *columns, *curve]):
        shown = ",".join(pred_header)[:200]
        raise InputError(f"{args.pred.name} row 1: expected the header {task.accepted_header()}"
                         f", got {shown!r}")
    read = read_predictions(args.pred, cases=list(task.cases), columns=[*columns, *curve],
                            name=args.pred.name, curve=curve)
    if task.kind == SURVIVAL:
        predictions = {"risk": read[columns[0]], **_survival(read, curve)}
    elif len(task.classes) == 2:
        predictions = {"probability": read[columns[0]]}
    else:
        predictions = {"probabilities": np.column_stack([read[c] for c in columns])}
    return task.kind, predictions, task.truth, list(task.cases)


def _file_inputs(args: argparse.Namespace, pred_header: list[str]) -> tuple:
    """Kind, predictions, labels and cases where ``--ref`` is a normalised labels CSV."""
    ref_header, cases = _header_and_cases(args.ref, name=args.ref.name)
    columns = [c for c in pred_header if c != "case"]
    extra = sorted(set(ref_header) - {"case", "label", "time", "event"})
    if extra or not ({"label"} <= set(ref_header) or {"time", "event"} <= set(ref_header)):
        raise InputError(f"{args.ref.name} row 1: expected the header case,label or "
                         f"case,time,event, got {','.join(ref_header)[:200]!r}; for an "
                         "organizer's labels CSV with other columns, pass the task's folder "
                         "(or its dataset.json) as --ref")
    survival = {"time", "event"} <= set(ref_header)
    if survival:
        curve = _curve_columns(pred_header, args)
        columns = [c for c in columns if c not in curve]
        if len(columns) != 1 or not (columns[0] == "risk" or columns[0].endswith("_risk")):
            raise InputError(f"{args.pred.name} row 1: expected the header case,risk")
        truth = read_reference(args.ref, cases=cases, columns=["time", "event"],
                               name=args.ref.name)
        read = read_predictions(args.pred, cases=cases, columns=[*columns, *curve],
                                name=args.pred.name, curve=curve)
        predictions = {"risk": read[columns[0]], **_survival(read, curve)}
    else:
        if not columns or not all(c == "probability" or c.endswith("_probability")
                                  for c in columns):
            raise InputError(f"{args.pred.name} row 1: expected the header case,probability "
                             "or case,<class>_probability,…")
        read = read_predictions(args.pred, cases=cases, columns=columns, name=args.pred.name)
        classes = [c.removesuffix("_probability") for c in columns] if len(columns) > 1 else None
        truth = _class_labels(args.ref, cases, classes)
        predictions = ({"probabilities": np.column_stack([read[c] for c in columns])}
                       if classes else {"probability": read[columns[0]]})
    return (SURVIVAL if survival else CLASSIFICATION), predictions, truth, cases


def _curve_columns(header: list[str], args: argparse.Namespace) -> list[str]:
    """The ``S@<t>`` columns of ``header`` in the order of ``--times``: one per time, or none."""
    given = [c for c in header if c.startswith(CURVE_PREFIX)]
    if not given:
        return []
    times = list(args.times or [])
    at = {}
    for name in given:
        try:
            at[float(name[len(CURVE_PREFIX):])] = name
        except ValueError:
            pass
    ordered = [at.get(float(t)) for t in times]
    if not times or None in ordered or len(given) != len(times):
        wanted = ",".join(f"{CURVE_PREFIX}{t:g}" for t in times) or "none without --times"
        raise InputError(f"{args.pred.name} row 1: survival curve columns {','.join(given)}: "
                         f"expected one per --times ({wanted})")
    return ordered


def _survival(read: dict, curve: list[str]) -> dict:
    return {"survival": np.column_stack([read[c] for c in curve])} if curve else {}


def _class_labels(path: Path, cases: list[str], classes: list[str] | None) -> dict:
    try:
        return read_reference(path, cases=cases, columns=["label"], name=path.name)
    except InputError:
        if classes is None:
            raise
    return read_reference(path, cases=cases, columns=["label"], name=path.name, classes=classes)


def _default_metrics(kind: str, *, multiclass: bool, config: dict,
                     survival_curves: bool = False) -> list[str]:
    if kind == CLASSIFICATION:
        return ["macro_auroc"] if multiclass else [
            name for name in metric_names(CLASSIFICATION) if name != "macro_auroc"]
    curves = ["integrated_brier"] if survival_curves and len(config["times"] or []) > 1 else []
    return ["c_index", "uno_c"] + (["td_auc"] if config["times"] else []) + curves
