"""Importing a classification or survival task (docs/clinical.md).

The folder is MSD-shaped: ``dataset.json`` lists the test images (``"test"``, NIfTI files in
``imagesTs/``, as for segmentation, so algorithm containers read the same ``/input``) and holds
a ``"clinical"`` block::

    "clinical": {"kind": "classification", "target": "egfr",
                 "classes": ["wildtype", "mutant"], "positive_class": "mutant",
                 "labels": "labelsTs/labels.csv"}
    "clinical": {"kind": "survival", "target": "overall_survival", "time_unit": "days",
                 "time_column": "time", "event_column": "event"}

The labels CSV has a ``case`` column and the target's columns (the class name in the column
named by ``label_column``, default the target; or the time and the event indicator, 1 = event,
0 = censored); rows of cases that are not test cases (training subjects) are ignored. The
test cases' labels are written to a normalised CSV (``case,label`` or ``case,time,event``),
the file stored as the ground-truth version and scored against, content-hashed like the
label maps of a segmentation task.
"""

import csv
from collections.abc import Callable
from pathlib import Path

from challenges.models import Phase, Task
from core.errors import InvalidInput, from_scorers
from scorers.clinical_task import definition, label_columns
from scorers.nifti import ReadLimits, read_geometry

from ..kinds.clinical import read_truth, truth_columns
from ..kinds.segmentation import case_name, listing

DEFAULT_LABELS = "labelsTs/labels.csv"
MAX_LABELS_BYTES = 256 * 1024 * 1024


def clinical_kind(dataset: dict) -> str | None:
    """The kind a ``"clinical"`` block names (survival when it has a time unit, else
    classification); None without a block."""
    block = dataset.get("clinical")
    several = block if isinstance(block, list) else (
        block.get("targets") if isinstance(block, dict) else None)
    if several is not None:
        raise InvalidInput(several_targets(several))
    if not isinstance(block, dict):
        return None
    return block.get("kind") or (Task.SURVIVAL if "time_unit" in block else Task.CLASSIFICATION)


def several_targets(blocks) -> str:
    """The refusal of a ``"clinical"`` block that lists several targets, saying how to split
    the folder: a task predicts one target (its phases rank one metric of it), and one labels
    CSV with a column per target serves every task (docs/clinical.md, "Several targets")."""
    names = [str(b.get("target", "?"))[:40] if isinstance(b, dict) else "?"
             for b in (blocks if isinstance(blocks, list) else [])]
    listed = f" ({', '.join(names[:10])})" if names else ""
    return (f'dataset.json: "clinical" lists {len(names) or "several"} targets{listed}, but a '
            "task predicts one: make a task folder per target, each with the same imagesTs/ "
            "and labels CSV and a dataset.json whose \"clinical\" object names that target "
            "(its kind, classes or time and event columns), and import each folder "
            '(docs/clinical.md, "Several targets")')


def default_primary_metric(task: Task) -> str:
    """The primary metric of a task's first phase (``Phase.default_primary_metric``, as the
    console's new phase): the kind's default, or for a classification target of more than
    two classes the one-vs-rest macro AUROC."""
    return Phase(task=task).default_primary_metric()


def clinical_definition(folder: Path, dataset: dict, kind: str, scratch: Path,
                        progress: Callable[[str], None]) -> tuple[dict, dict, dict]:
    """The task's definition, its label files by case (the one normalised CSV) and its test
    images by case; raises InvalidInput naming what is wrong in which file or row."""
    from .importing import _common_fields, _inside  # the importer imports this module

    clinical = _block(dataset, kind)
    cases, images = _test_images(folder, dataset, _inside, progress)
    labels_path = _inside(folder, dataset["clinical"].get("labels", DEFAULT_LABELS))
    if not labels_path.is_file():
        raise InvalidInput(f"the clinical labels file {labels_path.name} is missing")
    columns = label_columns(clinical, kind)
    rows = _read_labels(labels_path, columns, [case["name"] for case in cases])
    normalised = scratch / "labels.csv"
    with open(normalised, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["case", *truth_columns_for(kind)])
        for case in cases:
            writer.writerow([case["name"], *rows[case["name"]]])
    classes = clinical.get("classes", [])
    definition = {**_common_fields(folder, dataset), "kind": kind, "clinical": clinical,
                  "labels": {str(i): name for i, name in enumerate(classes)}, "cases": cases}
    read_truth(normalised, Task(kind=kind, clinical=clinical, cases=cases),
               name=labels_path.name)  # every value checked as scoring reads it
    return definition, {case["name"]: normalised for case in cases}, images


def truth_columns_for(kind: str) -> list[str]:
    return truth_columns(Task(kind=kind))


def _block(dataset: dict, kind: str) -> dict:
    """The task's ``clinical`` definition, validated (:func:`scorers.clinical_task.definition`,
    which the offline scorer reads a task folder with)."""
    clinical_kind(dataset)  # refuses a block of several targets
    block = dataset.get("clinical")
    if not isinstance(block, dict):
        raise InvalidInput(f'dataset.json: a {kind} task needs a "clinical" object naming its '
                           "target (docs/clinical.md)")
    with from_scorers():
        return definition(block, kind)


def _test_images(folder: Path, dataset: dict, inside, progress) -> tuple[list[dict], dict]:
    """The test cases (name, image, geometry) from ``dataset.json``'s ``"test"`` list."""
    test = dataset.get("test")
    if not isinstance(test, list) or not test:
        raise InvalidInput('dataset.json: "test" must list the test images')
    cases, images, limits = [], {}, ReadLimits()
    for index, entry in enumerate(test, start=1):
        relative = entry.get("image") if isinstance(entry, dict) else entry
        if not isinstance(relative, str):
            raise InvalidInput(f"dataset.json: test entry {index} is not a file name")
        image_path = inside(folder, relative)
        case = case_name(image_path.name)
        if case is None:
            raise InvalidInput(f"dataset.json: test image '{relative}' is not a NIfTI file")
        if not image_path.is_file():
            raise InvalidInput(f"test image {image_path.name} listed in dataset.json is missing")
        if case in images:
            raise InvalidInput("dataset.json lists a test image twice")
        geometry = read_geometry(image_path, name=f"test image {case}", limits=limits)
        cases.append({"name": case, "image": f"imagesTs/{image_path.name}",
                      "geometry": geometry.to_dict()})
        images[case] = image_path
        progress(f"checked test image {case} ({index}/{len(test)})")
    return cases, images


def _read_labels(path: Path, columns: list[str], cases: list[str]) -> dict[str, list[str]]:
    """The ``columns`` of each test case's row of the labels CSV (other rows ignored); every
    test case exactly once."""
    if path.stat().st_size > MAX_LABELS_BYTES:
        raise InvalidInput(f"{path.name} is implausibly large")
    wanted = set(cases)
    found: dict[str, list[str]] = {}
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = [cell.strip() for cell in next(reader, [])]
            missing = [name for name in ["case", *columns] if name not in header]
            if missing:
                raise InvalidInput(f"{path.name}: the header has no column {', '.join(missing)} "
                                   f"(expected case,{','.join(columns)})")
            at = [header.index(name) for name in ["case", *columns]]
            for row_number, row in enumerate(reader, start=2):
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) < len(header):
                    raise InvalidInput(f"{path.name} row {row_number}: {len(row)} columns, "
                                       f"the header has {len(header)}")
                case, *values = (row[i].strip() for i in at)
                if case not in wanted:
                    continue
                if case in found:
                    raise InvalidInput(f"{path.name} row {row_number}: case {case} appears twice")
                found[case] = values
    except UnicodeDecodeError:
        raise InvalidInput(f"{path.name} is not UTF-8 text") from None
    absent = [case for case in cases if case not in found]
    if absent:
        raise InvalidInput(f"{path.name} has no row for {len(absent)} test case(s): "
                           f"{listing(absent)}")
    return found
