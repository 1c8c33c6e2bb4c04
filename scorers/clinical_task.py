"""A classification or survival task folder (docs/clinical.md) read as the offline scorer needs
it: ``dataset.json``'s ``"clinical"`` block, its test cases, and the hidden labels of those
cases from the organizer's labels CSV (other columns and other subjects' rows ignored), as the
platform's import normalises them.

- :func:`read_task` ``(path, *, target=None)`` → :class:`ClinicalTask`: ``path`` is the task
  folder or its ``dataset.json``; ``target`` picks one block where ``"clinical"`` lists several
  (a list of blocks, or ``{"targets": [...]}``), which the platform imports as one task each.
- :func:`definition` ``(block, kind)``: one target's block validated, the platform's import
  and this reader alike; :func:`label_columns` the labels CSV's columns of its target.

The labels are checked as the platform checks them (``scorers.clinical_csv.read_reference``):
every test case exactly once, times ≥ 0, events 0 or 1, class names among the classes; a
message names the labels file's own row and column.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scorers._parse import capped_csv, read_capped
from scorers.clinical_csv import read_reference
from scorers.errors import InputError
from scorers.metrics import CLASSIFICATION, SURVIVAL

_MAX_DATASET_BYTES = 64 * 1024 * 1024
_MAX_LABEL_BYTES = 256 * 1024 * 1024
_MAX_LABEL_ROWS = 2_000_000


@dataclass(frozen=True)
class ClinicalTask:
    """A task's definition and the hidden labels of its test cases, in ``cases`` order:
    ``truth`` is ``{"label": class index}`` (two classes: 1 = the positive class; more:
    ``classes`` order) or ``{"time", "event"}``."""

    kind: str
    target: str
    classes: tuple[str, ...]
    cases: tuple[str, ...]
    truth: dict[str, np.ndarray]

    def prediction_columns(self, header: list[str]) -> list[str]:
        """The prediction columns a file for this task holds, after ``case``: those of the
        platform (``probability`` or ``<target>_probability``; ``<class>_probability`` per
        class; ``risk`` or ``<target>_risk``), the spelling ``header`` uses."""
        if self.kind == SURVIVAL:
            options = ["risk", f"{self.target}_risk"]
        elif len(self.classes) == 2:
            options = ["probability", f"{self.target}_probability"]
        else:
            return [f"{name}_probability" for name in self.classes]
        return [next((name for name in options if name in header), options[0])]

    def accepted_header(self) -> str:
        if self.kind == SURVIVAL:
            return f"case,risk (or case,{self.target}_risk)"
        if len(self.classes) == 2:
            return f"case,probability (or case,{self.target}_probability)"
        return "case," + ",".join(self.prediction_columns([]))


def read_task(path: str | Path, *, target: str | None = None) -> ClinicalTask:
    """The task at ``path`` (a folder holding ``dataset.json``, or that file); raises
    InputError naming the file, row and column of what is wrong."""
    path = Path(path)
    dataset_path = path / "dataset.json" if path.is_dir() else path
    folder = dataset_path.parent
    try:
        dataset = json.loads(read_capped(dataset_path, name=dataset_path.name,
                                         max_bytes=_MAX_DATASET_BYTES, what="dataset.json"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{dataset_path.name}: not valid JSON ({error})") from None
    if not isinstance(dataset, dict):
        raise InputError(f"{dataset_path.name}: expected a JSON object")
    block = _block(dataset.get("clinical"), target)
    kind = block.get("kind") or (SURVIVAL if "time_unit" in block else CLASSIFICATION)
    if kind not in (CLASSIFICATION, SURVIVAL):
        raise InputError(f'dataset.json: "clinical.kind" {kind!r}: expected classification or '
                         "survival")
    clinical = definition(block, kind)
    cases = _test_cases(dataset)
    classes = clinical.get("classes", [])
    if len(classes) == 2:  # the positive class second: label 1
        classes = [next(c for c in classes if c != clinical["positive_class"]),
                   clinical["positive_class"]]
    labels = folder / str(block.get("labels", "labelsTs/labels.csv"))
    truth = _labels(labels, label_columns(clinical, kind), cases,
                    ["time", "event"] if kind == SURVIVAL else ["label"], classes or None)
    return ClinicalTask(kind=kind, target=clinical["target"], classes=tuple(classes),
                        cases=tuple(cases), truth=truth)


def definition(block: dict, kind: str) -> dict:
    """One target's ``"clinical"`` block of ``dataset.json`` (docs/clinical.md), validated
    and completed, as the platform's import stores it on the task: ``target``; for survival
    ``time_unit``, ``time_column`` and ``event_column``; for classification ``classes``,
    ``label_column`` and, with two classes, ``positive_class``. InputError naming the field
    otherwise."""
    target = block.get("target")
    if not isinstance(target, str) or not target.isidentifier():
        raise InputError('dataset.json: "clinical.target" must be a name of letters, digits '
                         'and "_" (it prefixes the prediction columns)')
    if kind == SURVIVAL:
        unit = block.get("time_unit")
        if not isinstance(unit, str) or not unit.strip():
            raise InputError('dataset.json: "clinical.time_unit" must name the unit of the '
                             'times, e.g. "days"')
        return {"target": target, "time_unit": unit.strip()[:40],
                "time_column": _column(block, "time_column", "time"),
                "event_column": _column(block, "event_column", "event")}
    classes = block.get("classes")
    if (not isinstance(classes, list) or len(classes) < 2
            or not all(isinstance(c, str) and c.strip() for c in classes)
            or len(set(classes)) != len(classes)):
        raise InputError('dataset.json: "clinical.classes" must list at least two distinct '
                         "class names")
    positive = block.get("positive_class")
    if len(classes) == 2 and positive not in classes:
        raise InputError('dataset.json: "clinical.positive_class" must be one of the two '
                         f"classes ({', '.join(classes)})")
    clinical = {"target": target, "classes": classes,
                "label_column": _column(block, "label_column", target)}
    if len(classes) == 2:
        clinical["positive_class"] = positive
    return clinical


def label_columns(clinical: dict, kind: str) -> list[str]:
    """The columns of the organizer's labels CSV that hold the target of ``clinical`` (a
    :func:`definition`): time and event, or the class."""
    if kind == SURVIVAL:
        return [clinical["time_column"], clinical["event_column"]]
    return [clinical["label_column"]]


def _column(block: dict, key: str, default: str) -> str:
    value = block.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f'dataset.json: "clinical.{key}" must name a column of the labels '
                         "file")
    return value.strip()


def _block(block, target: str | None) -> dict:
    several = block if isinstance(block, list) else (
        block.get("targets") if isinstance(block, dict) and "targets" in block else None)
    if several is None:
        if not isinstance(block, dict):
            raise InputError('dataset.json: no "clinical" object (the task\'s target, its '
                             "classes or time unit; docs/clinical.md)")
        if target is not None and block.get("target") != target:
            raise InputError(f"--target {target}: the task's target is {block.get('target')}")
        return block
    blocks = [b for b in several if isinstance(b, dict)] if isinstance(several, list) else []
    names = [str(b.get("target")) for b in blocks]
    if target is None:
        raise InputError(f'dataset.json: "clinical" lists {len(names)} targets '
                         f"({', '.join(names)}): choose one with --target")
    if target not in names:
        raise InputError(f"--target {target}: expected one of {', '.join(names)}")
    return blocks[names.index(target)]


def _test_cases(dataset: dict) -> list[str]:
    test = dataset.get("test")
    if not isinstance(test, list) or not test:
        raise InputError('dataset.json: "test" must list the test images')
    cases = []
    for index, entry in enumerate(test, start=1):
        relative = entry.get("image") if isinstance(entry, dict) else entry
        if not isinstance(relative, str) or not relative.strip():
            raise InputError(f"dataset.json: test entry {index} is not a file name")
        file_name = relative.replace("\\", "/").rsplit("/", 1)[-1]
        cases.append(re.sub(r"\.nii(\.gz)?$", "", file_name))
    if len(set(cases)) != len(cases):
        raise InputError("dataset.json lists a test image twice")
    return cases


def _labels(path: Path, columns: list[str], cases: list[str], normalised: list[str],
            classes: list[str] | None) -> dict[str, np.ndarray]:
    """The test cases' ``columns`` of the labels CSV at ``path``, read as ``read_reference``
    reads the platform's normalised file (``case`` and ``normalised``), messages naming
    ``path``'s own rows."""
    name, wanted, rows, source_row = path.name, set(cases), [], {}
    with capped_csv(path, name=name, max_bytes=_MAX_LABEL_BYTES, max_lines=_MAX_LABEL_ROWS,
                    max_chars=4096, what="labels file") as (header, reader):
        missing = [c for c in ["case", *columns] if c not in header]
        if missing:
            raise InputError(f"{name} row 1: no column {', '.join(missing)} (expected "
                             f"case,{','.join(columns)} among the columns)")
        at = [header.index(c) for c in ["case", *columns]]
        for row in reader:
            if not any(cell.strip() for cell in row) or len(row) <= max(at):
                continue
            if row[at[0]].strip() in wanted:
                rows.append([row[i].strip() for i in at])
                source_row[len(rows) + 1] = reader.line_num
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "labels.csv"
        with open(copy, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["case", *normalised])
            writer.writerows(rows)
        try:
            return read_reference(copy, cases=cases, columns=normalised, name=name,
                                  classes=classes)
        except InputError as error:
            def own_row(match: re.Match) -> str:
                row = source_row.get(int(match.group(1)), int(match.group(1)))
                return f"{name} row {row}"

            text = re.sub(rf"^{re.escape(name)} row (\d+)", own_row, str(error))
            text = re.sub(r"\(first in row (\d+)\)", lambda m: "(first in row "
                          f"{source_row.get(int(m.group(1)), m.group(1))})", text)
            for own, platform in zip(columns, normalised, strict=True):
                text = text.replace(f", column {platform}:", f", column {own}:")
            raise InputError(text) from None
