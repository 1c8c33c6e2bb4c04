"""``python -m scorers segmentation``: score a folder of NIfTI label maps against references.

Cases are the ``.nii``/``.nii.gz`` files of ``--ref``, named by their file name without the
extension; each prediction in ``--pred`` must have the same name, the reference's geometry and
only the task's labels. Output (``--out``): JSON with per-case, per-label rows, per-label
aggregates, the settings used and the missing/extra cases; or CSV with one row per case and
label plus ``mean``/``median`` rows. Undefined distances (exactly one mask empty) are JSON
``null`` / an empty CSV field and are left out of the aggregates (counted as ``n_undefined``).

With ``--config`` (a phase's exported configuration, :mod:`scorers.cli_config`) the phase's
settings and rules apply instead: its labels, metrics, tolerances and surface; its test cases
(a prediction for another case is refused, a missing one too unless the phase accepts partial
submissions; then it is a ``missing`` row); and its aggregate (JSON ``"aggregate"``, CSV
``aggregate`` rows), worst values counted, equal to the leaderboard's. ``--ranking-input``
then writes the table the leaderboard ranks (``task, case, algorithm, value``), for
``podium-rank``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from scorers._cli_common import add_subcommand
from scorers.cli_config import (
    missing_row,
    phase_aggregate,
    ranking_values,
    read_phase_config,
    recorded,
)
from scorers.errors import InputError
from scorers.metrics import SEGMENTATION, metric_names
from scorers.nifti import read_label_map
from scorers.segmentation import score_case

_SUFFIXES = (".nii.gz", ".nii")
_DEFAULT_TOLERANCE_MM = 1.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``segmentation`` subcommand and its options on ``subparsers``."""
    parser = add_subcommand(
        subparsers, "segmentation",
        help="Dice, NSD, HD, HD95 and ASSD of NIfTI label maps against references",
        description="Score every prediction in --pred against the reference of the same name "
                    "in --ref (.nii or .nii.gz label maps).",
        pred="folder of predicted label maps", ref="folder of reference label maps",
    )
    parser.add_argument("--dataset-json", type=Path,
                        help="MSD dataset.json whose 'labels' give the labels and their names")
    parser.add_argument("--labels", type=int, nargs="+",
                        help="label values to score (default: the non-zero labels of "
                             "--dataset-json)")
    parser.add_argument("--tolerance", nargs="+",
                        help="NSD tolerance in mm: one value for all labels, or LABEL=MM for "
                             f"each label (default {_DEFAULT_TOLERANCE_MM})")
    parser.add_argument("--surface", choices=("surfel", "voxel"),
                        help="surface representation: surfel (DeepMind surface-distance, "
                             "default) or voxel (border voxels, as MONAI)")
    parser.add_argument("--config", type=Path,
                        help="a phase's config.json (its Evaluation page): score with its "
                             "settings, cases and worst values, as its leaderboard does")
    parser.add_argument("--ranking-input", type=Path, metavar="FILE.csv",
                        help="with --config: also write the per-case values the leaderboard "
                             "ranks (task, case, algorithm, value), for podium-rank")
    parser.add_argument("--algorithm",
                        help="the algorithm's name in --ranking-input (default: the --pred "
                             "folder's name)")
    parser.add_argument("--out", required=True, type=Path, help="result FILE.json or FILE.csv")


def run(args: argparse.Namespace) -> int:
    """Score, write ``args.out`` and return 0; on bad input print one line and return 1."""
    try:
        result = _score(args)
        _write(args.out, result)
        if args.ranking_input is not None:
            _write_ranking_input(args, result)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        name = Path(error.filename).name if error.filename else args.out.name
        print(f"error: cannot write {name} ({error.strerror})", file=sys.stderr)
        return 1
    return 0


def _score(args: argparse.Namespace) -> dict:
    if args.out.suffix.lower() not in (".json", ".csv"):
        raise InputError(f"--out {args.out.name}: expected a .json or .csv file")
    if args.config is not None:
        return _score_phase(args)
    if args.ranking_input is not None:
        raise InputError("--ranking-input needs --config (the phase's ranked metric and rules)")
    labels = _labels(args.labels, args.dataset_json)
    tolerances = _tolerances(args.tolerance or [str(_DEFAULT_TOLERANCE_MM)], labels)
    surface = args.surface or "surfel"
    references = _cases(args.ref, "--ref")
    predictions = _cases(args.pred, "--pred")
    if not references:
        raise InputError(f"--ref {args.ref.name}: no .nii or .nii.gz files")
    missing = sorted(set(references) - set(predictions))
    extra = sorted(set(predictions) - set(references))
    for what, names in (("missing from --pred", missing), ("not in --ref", extra)):
        if names:
            print(f"warning: {len(names)} cases {what}: {', '.join(names)}", file=sys.stderr)
    rows = []
    scored = [name for name in sorted(references) if name in predictions]
    for name in _progress(scored):
        ref, geometry = read_label_map(references[name], name=f"case {name}", labels=labels)
        pred, _ = read_label_map(predictions[name], name=f"case {name}", labels=labels,
                                 expected=geometry)
        scores = score_case(pred, ref, spacing_mm=geometry.spacing_mm, labels=tuple(labels),
                            nsd_tolerance_mm=tolerances, surface=surface)
        rows.extend({"case": name, "label": label, **scores[label]} for label in labels)
    return {
        "settings": {
            "surface": surface,
            "labels": {str(label): label_name for label, label_name in labels.items()},
            "nsd_tolerance_mm": {str(label): tolerances[label] for label in labels},
        },
        "cases": rows,
        "aggregates": _aggregates(rows, labels, metric_names(SEGMENTATION)),
        "missing_cases": missing,
        "extra_cases": extra,
    }


def _score_phase(args: argparse.Namespace) -> dict:
    """Score as the phase of ``--config`` does (see the module's docstring)."""
    given = [option for option, value in (("--labels", args.labels),
                                          ("--dataset-json", args.dataset_json),
                                          ("--tolerance", args.tolerance),
                                          ("--surface", args.surface)) if value is not None]
    if given:
        raise InputError(f"--config sets the labels, tolerances and surface; leave out "
                         f"{', '.join(given)}")
    phase = read_phase_config(args.config, SEGMENTATION)
    references = _cases(args.ref, "--ref")
    predictions = _cases(args.pred, "--pred")
    absent = [case for case in phase.cases if case not in references]
    if absent:
        raise InputError(f"--ref {args.ref.name}: no reference for {len(absent)} of the "
                         f"phase's cases: {_listed(absent)}")
    extra = sorted(set(predictions) - set(phase.cases))
    if extra:
        raise InputError(f"--pred {args.pred.name}: {len(extra)} files are not a test case of "
                         f"the phase: {_listed(extra)} (the platform refuses such a submission)")
    missing = [case for case in phase.cases if case not in predictions]
    segs = [case for case in missing if (args.pred / f"{case}.dcm").is_file()]
    if segs and phase.accepts_dicom_seg:
        raise InputError(f"--pred {args.pred.name}: {len(segs)} test cases are predicted by a "
                         f"DICOM SEG: {_listed([f'{case}.dcm' for case in segs])}; podium-score "
                         "reads NIfTI label maps only (a SEG is decoded on the case's DICOM "
                         "series, which the platform holds): give <case>.nii.gz, or submit the "
                         "SEG to the phase")
    if missing and not phase.allow_partial:
        raise InputError(f"--pred {args.pred.name}: {len(missing)} test cases have no "
                         f"prediction: {_listed(missing)} (the phase refuses partial "
                         "submissions)")
    labels = tuple(phase.labels)
    rows = []
    for name in _progress([case for case in phase.cases if case in predictions]):
        ref, geometry = read_label_map(references[name], name=f"reference {name}",
                                       labels=phase.allowed)
        pred, _ = read_label_map(predictions[name], name=f"case {name}", labels=phase.allowed,
                                 expected=geometry)
        scores = score_case(pred, ref, spacing_mm=geometry.spacing_mm, labels=labels,
                            nsd_tolerance_mm=phase.tolerances, surface=phase.surface,
                            metrics=phase.metrics)
        rows.extend({"case": name, "label": label, "missing": False,
                     **{m: recorded(scores[label][m]) for m in phase.metrics}}
                    for label in labels)
    rows.extend({"case": name, "label": label, "missing": True, **missing_row(phase)}
                for name in missing for label in labels)
    if missing:
        print(f"warning: {len(missing)} cases without a prediction count as the worst value: "
              f"{_listed(missing)}", file=sys.stderr)
    return {
        "settings": {
            "config": args.config.name,
            "task": phase.task,
            "surface": phase.surface,
            "labels": {str(label): label_name for label, label_name in phase.labels.items()},
            "nsd_tolerance_mm": {str(label): phase.tolerances[label] for label in labels},
            "worst_distance_mm": phase.worst_distance_mm,
        },
        "cases": rows,
        "aggregates": _aggregates(rows, phase.labels, phase.metrics),
        "aggregate": phase_aggregate(rows, phase),
        "ranked_metric": phase.ranked_metric,
        "ranking_values": ranking_values(rows, phase),
        "missing_cases": missing,
        "extra_cases": [],
    }


def _progress(cases: list[str]):
    return tqdm(cases, unit="case", file=sys.stderr, disable=not sys.stderr.isatty())


def _listed(names: list[str], shown: int = 8) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _write_ranking_input(args: argparse.Namespace, result: dict) -> None:
    """The leaderboard's ranking input for this one algorithm: ``task, case, algorithm,
    value`` in the phase's case order, values in Python's round-trip form."""
    algorithm = args.algorithm or args.pred.resolve().name
    task = result["settings"]["task"]
    with args.ranking_input.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["task", "case", "algorithm", "value"])
        for case, value in result["ranking_values"].items():
            writer.writerow([task, case, algorithm, repr(value)])


def _labels(values: list[int] | None, dataset_json: Path | None) -> dict[int, str]:
    names = _dataset_labels(dataset_json) if dataset_json is not None else {}
    if values is None:
        values = [label for label in names if label != 0]
    if not values:
        raise InputError("give the labels to score with --labels or --dataset-json")
    if len(set(values)) != len(values) or min(values) < 0:
        raise InputError("--labels must be distinct non-negative integers")
    return {label: names.get(label, "") for label in values}


def _dataset_labels(path: Path) -> dict[int, str]:
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))["labels"]
        return {int(key): str(value) for key, value in labels.items()}
    except (OSError, UnicodeDecodeError):
        raise InputError(f"--dataset-json {path.name}: cannot be read") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError(
            f"--dataset-json {path.name}: expected an MSD dataset.json with a 'labels' object "
            'such as {"0": "background", "1": "liver"}'
        ) from None


def _tolerances(values: list[str], labels: dict[int, str]) -> dict[int, float]:
    try:
        if len(values) == 1 and "=" not in values[0]:
            tolerances = dict.fromkeys(labels, float(values[0]))
        else:
            pairs = (value.split("=", 1) for value in values)
            tolerances = {int(label): float(mm) for label, mm in pairs}
    except ValueError:
        raise InputError(
            "--tolerance expects MM or LABEL=MM values, e.g. 1.0 or 1=2 2=1.5"
        ) from None
    missing = [label for label in labels if label not in tolerances]
    if missing:
        raise InputError(f"--tolerance gives no tolerance for labels {missing}")
    if not all(math.isfinite(mm) and mm >= 0 for mm in tolerances.values()):
        raise InputError("--tolerance values must be finite and ≥ 0")
    return {label: tolerances[label] for label in labels}


def _cases(folder: Path, option: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise InputError(f"{option} {folder.name}: not a folder")
    cases: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        suffix = next((s for s in _SUFFIXES if path.name.lower().endswith(s)), None)
        if suffix is None or not path.is_file():
            continue
        name = path.name[: -len(suffix)]
        if name in cases:
            raise InputError(f"{option}: case {name} appears twice (.nii and .nii.gz)")
        cases[name] = path
    return cases


def _aggregates(rows: list[dict], labels: dict[int, str], metrics: list[str]
                ) -> dict[str, dict]:
    """Per label and metric: mean and median of the defined values of scored cases."""
    summary: dict[str, dict] = {}
    for label in labels:
        per_metric = {}
        for metric in metrics:
            values = np.array([row[metric] for row in rows
                               if row["label"] == label and not row.get("missing")], float)
            defined = values[~np.isnan(values)]
            per_metric[metric] = {
                "mean": float(defined.mean()) if defined.size else None,
                "median": float(np.median(defined)) if defined.size else None,
                "n": int(defined.size),
                "n_undefined": int(values.size - defined.size),
            }
        summary[str(label)] = per_metric
    return summary


def _json_safe(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def _write(out: Path, result: dict) -> None:
    if out.suffix.lower() == ".json":
        out.write_text(json.dumps(_json_safe(result), indent=2, allow_nan=False) + "\n")
        return
    names = list(next(iter(result["aggregates"].values())))
    with out.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["kind", "case", "label", *names])
        for row in result["cases"]:
            writer.writerow(["missing" if row.get("missing") else "case", row["case"],
                             row["label"], *(_csv_number(row[metric]) for metric in names)])
        for statistic in ("mean", "median"):
            for label, metrics in result["aggregates"].items():
                writer.writerow([statistic, "", label,
                                 *(_csv_number(metrics[m][statistic]) for m in names)])
        for label, metrics in result.get("aggregate", {}).items():
            writer.writerow(["aggregate", "", label, *(_csv_number(metrics[m]) for m in names)])


def _csv_number(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else repr(float(value))
