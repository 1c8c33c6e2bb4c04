"""A classification or survival task folder (docs/clinical.md) read as the offline scorer needs
it: ``dataset.json``'s ``"clinical"`` block, its test cases, and the hidden labels of those
cases from the organizer's labels CSV (other columns and other subjects' rows ignored), as the
platform's import normalises them.

- :func:`read_task` ``(path, *, target=None)`` → :class:`ClinicalTask`: ``path`` is the task
  folder or its ``dataset.json``; ``target`` picks one block where ``"clinical"`` lists several
  (a list of blocks, or ``{"targets": [...]}``), which the platform imports as one task each.

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

from scorers._parse import bounded_lines, open_capped, read_capped
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
    name = block.get("target")
    if not isinstance(name, str) or not name.isidentifier():
        raise InputError('dataset.json: "clinical.target" must be a name of letters, digits '
                         'and "_"')
    cases = _test_cases(dataset)
    if kind == SURVIVAL:
        columns = [block.get("time_column", "time"), block.get("event_column", "event")]
        classes = []
    else:
        classes = block.get("classes")
        if (not isinstance(classes, list) or len(classes) < 2
                or not all(isinstance(c, str) and c for c in classes)
                or len(set(classes)) != len(classes)):
            raise InputError('dataset.json: "clinical.classes" must list at least two distinct '
                             "class names")
        if len(classes) == 2:
            positive = block.get("positive_class")
            if positive not in classes:
                raise InputError('dataset.json: "clinical.positive_class" must be one of '
                                 f"{', '.join(classes)}")
            classes = [next(c for c in classes if c != positive), positive]
        columns = [block.get("label_column", name)]
    labels = folder / str(block.get("labels", "labelsTs/labels.csv"))
    truth = _labels(labels, columns, cases, ["time", "event"] if kind == SURVIVAL else ["label"],
                    classes or None)
    return ClinicalTask(kind=kind, target=name, classes=tuple(classes), cases=tuple(cases),
                        truth=truth)


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
    try:
        with open_capped(path, name=name, max_bytes=_MAX_LABEL_BYTES, what="labels file",
                         encoding="utf-8-sig", newline="") as stream:
            reader = csv.reader(bounded_lines(stream, name=name, max_lines=_MAX_LABEL_ROWS,
                                              max_chars=4096), strict=True)
            header = [cell.strip() for cell in next(reader, None) or []]
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
    except UnicodeDecodeError:
        raise InputError(f"{name}: is not UTF-8 text") from None
    except csv.Error as error:
        raise InputError(f"{name}: not a valid CSV file ({error})") from None
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
