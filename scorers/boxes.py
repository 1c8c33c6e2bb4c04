"""Predicted boxes: the :class:`Detections` table and its two file formats.

Box CSV
    A header naming exactly the columns ``image_id,label,score,xmin,ymin,xmax,ymax`` (any
    order), then one row per box. UTF-8 (a BOM is tolerated); blank lines are skipped but
    count toward the row cap; a line holds at most 4096 characters.
COCO results JSON
    A list of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` objects, UTF-8
    (a BOM is tolerated). ``image_id`` is the image's name; a JSON integer ``n`` names the
    image ``str(n)``. ``category_id`` is a class name, or a JSON integer ``k`` meaning the k-th
    (1-based) of the task's class names sorted in code-point order, which needs ``classes``.
    Other keys are accepted and ignored (COCO tooling writes ``id``, ``area``, ``iscrowd``,
    ``segmentation``), within the entry's bounds: each entry is at most 4096 bytes of JSON,
    with lists or objects nested at most two levels in it, and is read on its own, so keys
    that are ignored cost at most those 4 KiB to read (see ``scorers._parse``).

Both readers take ``max_rows`` and ``max_bytes``; :func:`caps_for_images` derives them from the
number of images (at most 1000 boxes per image, 1 KiB per box on average). Boxes are
``xmin < xmax``, ``ymin < ymax`` in the ground truth's pixel coordinates; numbers are finite
plain decimals (no NaN, no inf). Every problem raises :class:`InputError` naming the file and
the row or entry.
"""

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scorers._parse import (
    capped_csv,
    check_name,
    iter_json_objects,
    open_capped,
    parse_decimal,
)
from scorers.errors import InputError

CSV_COLUMNS = ("image_id", "label", "score", "xmin", "ymin", "xmax", "ymax")
DEFAULT_MAX_ROWS = 1_000_000
DEFAULT_MAX_BYTES = 256 << 20
MAX_BOXES_PER_IMAGE = 1000
MAX_BYTES_PER_BOX = 1024
MAX_CSV_LINE_CHARS = 4096
MAX_JSON_ENTRY_BYTES = 4096
_FILE_SLACK_BYTES = 64 << 10  # a header row, a BOM, whitespace around a JSON list
_COCO_ENTRY = "an object with image_id, category_id, bbox and score"


def caps_for_images(n_images: int) -> tuple[int, int]:
    """``(max_rows, max_bytes)`` for the predicted boxes of ``n_images`` images.

    ``max_rows = MAX_BOXES_PER_IMAGE × n_images`` (1000 per image: COCO AP keeps the best 100
    per image and class, VOC has no cap) and ``max_bytes = MAX_BYTES_PER_BOX × max_rows +
    64 KiB`` (1 KiB per box: a CSV row or an indented COCO entry with long ids and 17-digit
    numbers stays well below it). For 10 images: 10,000 rows, 9.8 MiB.
    """
    rows = MAX_BOXES_PER_IMAGE * max(n_images, 1)
    return rows, rows * MAX_BYTES_PER_BOX + _FILE_SLACK_BYTES


@dataclass(frozen=True)
class Detections:
    """Predicted boxes as columns, one row per box, in file order.

    ``image_ids`` and ``labels`` are object arrays of str, ``scores`` float64 of shape (n,),
    ``boxes`` float64 of shape (n, 4) holding ``xmin, ymin, xmax, ymax``. Sequences are
    converted on construction; lengths, finiteness and ``xmin < xmax``, ``ymin < ymax`` are
    checked (:class:`InputError` otherwise).
    """

    image_ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray

    def __post_init__(self) -> None:
        image_ids = _object_column(self.image_ids)
        labels = _object_column(self.labels)
        scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        n = len(image_ids)
        if not len(labels) == len(scores) == len(boxes) == n:
            raise InputError(
                f"detections: column lengths differ (image_ids {n}, labels {len(labels)}, "
                f"scores {len(scores)}, boxes {len(boxes)})"
            )
        if not (np.isfinite(scores).all() and np.isfinite(boxes).all()):
            raise InputError("detections: scores and box coordinates must be finite")
        bad = np.flatnonzero((boxes[:, 0] >= boxes[:, 2]) | (boxes[:, 1] >= boxes[:, 3]))
        if bad.size:
            raise InputError(f"detections: box {bad[0] + 1} needs xmin < xmax and ymin < ymax")
        for field, value in (("image_ids", image_ids), ("labels", labels), ("scores", scores),
                             ("boxes", boxes)):
            value.flags.writeable = False
            object.__setattr__(self, field, value)

    def __len__(self) -> int:
        return len(self.scores)


def read_box_csv(
    path: str | Path,
    *,
    name: str,
    image_ids: Collection[str] | None = None,
    classes: Collection[str] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Detections:
    """Read a box CSV (``image_id,label,score,xmin,ymin,xmax,ymax``) into :class:`Detections`.

    When given, ``image_ids`` and ``classes`` are the only accepted values of those columns.
    ``name`` names the file in error messages. At most ``max_bytes`` bytes and ``max_rows``
    rows after the header, blank ones included; lines of at most 4096 characters. The file is
    read line by line: refusing an oversized one costs at most the rows up to the cap.
    """
    check = _RowCheck(name=name, image_ids=image_ids, classes=classes)
    rows = []
    with capped_csv(Path(path), name=name, max_bytes=max_bytes, max_lines=max_rows + 1,
                    max_chars=MAX_CSV_LINE_CHARS, what="box CSV") as (header, reader):
        columns = _csv_header(header, name=name)
        for row in reader:
            if not any(field.strip() for field in row):
                continue
            where = f"{name} row {reader.line_num}"
            if len(row) != len(CSV_COLUMNS):
                raise InputError(f"{where}: expected {len(CSV_COLUMNS)} fields, "
                                 f"got {len(row)}")
            rows.append(check(_csv_row(dict(zip(columns, row, strict=True)), where=where),
                              where=where))
    return _build(rows)


def read_coco_results(
    path: str | Path,
    *,
    name: str,
    image_ids: Collection[str] | None = None,
    classes: Collection[str] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Detections:
    """Read COCO detection results (``[{"image_id", "category_id", "bbox", "score"}]``).

    ``bbox`` is ``[x, y, width, height]`` and becomes ``xmin = x, xmax = x + width`` (likewise
    for y). Integer ``category_id`` values are 1-based positions in ``sorted(classes)``;
    integer ``image_id`` values name the image ``str(image_id)``. At most ``max_bytes`` bytes
    and ``max_rows`` entries, each read on its own (at most 4096 bytes, nested at most two
    levels), so memory grows with the boxes returned, not with the size of the file.
    """
    class_order = None if classes is None else sorted(classes)
    check = _RowCheck(name=name, image_ids=image_ids, classes=classes)
    rows = []
    with open_capped(Path(path), name=name, max_bytes=max_bytes,
                     what="COCO results file") as stream:
        for where, entry in iter_json_objects(
                stream, name=name, max_bytes=max_bytes, max_items=max_rows,
                max_item_bytes=MAX_JSON_ENTRY_BYTES, what="COCO results file",
                items="detections", expected=_COCO_ENTRY):
            missing = [key for key in ("image_id", "category_id", "bbox", "score")
                       if key not in entry]
            if missing:
                raise InputError(f"{where}: missing {', '.join(missing)}")
            x, y, width, height = _json_bbox(entry["bbox"], where=where)
            rows.append(check((
                _json_image_id(entry["image_id"], where=where),
                _json_category(entry["category_id"], class_order, where=where),
                _json_number(entry["score"], where=f"{where} score"),
                x, y, x + width, y + height,
            ), where=where))
    return _build(rows)


def _object_column(values: Iterable[object]) -> np.ndarray:
    items = [str(value) for value in values]
    column = np.empty(len(items), dtype=object)
    column[:] = items
    return column


def _csv_header(header: list[str] | None, *, name: str) -> tuple[str, ...]:
    columns = tuple(field.strip() for field in header or ())
    if sorted(columns) != sorted(CSV_COLUMNS):
        raise InputError(f"{name}: header must name the columns {','.join(CSV_COLUMNS)}, "
                         f"got {','.join(columns)[:200]!r}")
    return columns


def _csv_row(fields: dict[str, str], *, where: str) -> tuple:
    return (
        check_name(fields["image_id"], where=f"{where} image_id"),
        check_name(fields["label"], where=f"{where} label"),
        *(parse_decimal(fields[column], where=f"{where} {column}") for column in CSV_COLUMNS[2:]),
    )


def _json_number(value: object, *, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where}: expected a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"{where}: number out of range")
    return number


def _json_bbox(value: object, *, where: str) -> tuple[float, float, float, float]:
    if not isinstance(value, list) or len(value) != 4:
        raise InputError(f"{where}: bbox must be a list [x, y, width, height]")
    x, y, width, height = (_json_number(v, where=f"{where} bbox") for v in value)
    if width <= 0 or height <= 0:
        raise InputError(f"{where}: bbox width and height must be positive")
    return x, y, width, height


def _json_image_id(value: object, *, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InputError(f"{where}: image_id must be the image name (string or integer)")
    return check_name(value, where=f"{where} image_id")


def _json_category(value: object, class_order: list[str] | None, *, where: str) -> str:
    if isinstance(value, str):
        return check_name(value, where=f"{where} category_id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{where}: category_id must be a class name or a 1-based class index")
    if class_order is None:
        raise InputError(f"{where}: an integer category_id needs the task's class list; "
                         "give the class name instead")
    if not 1 <= value <= len(class_order):
        raise InputError(f"{where}: category_id {value} is outside 1..{len(class_order)} "
                         f"({', '.join(class_order)})")
    return class_order[value - 1]


FILE_SUFFIXES = (".dcm", ".dicom", ".nii.gz", ".nii", ".nrrd", ".mha", ".png", ".jpg",
                 ".jpeg", ".tif", ".tiff")
"""Image file suffixes a box file's image_id may carry by mistake (the ids have none)."""


def unknown_image(image_id: str, known: Collection[str]) -> str:
    """Why ``image_id`` is refused: unknown, with a hint when it is a known id with a file
    suffix (``<SOP Instance UID>.dcm``: the ids of a DICOM task are SOP Instance UIDs without
    the suffix)."""
    message = f"unknown image {image_id!r}"
    lowered = image_id.lower()
    for suffix in FILE_SUFFIXES:
        stem = image_id[:-len(suffix)]
        if lowered.endswith(suffix) and stem in known:
            what = ("image ids are SOP Instance UIDs without .dcm" if suffix in (".dcm", ".dicom")
                    else f"image ids have no file suffix such as {suffix}")
            return f"{message}: {what}; drop the suffix ({stem!r})"
    return message


class _RowCheck:
    """Checks one parsed row against the accepted image ids and classes and the box rule."""

    def __init__(self, *, name: str, image_ids: Collection[str] | None,
                 classes: Collection[str] | None) -> None:
        self.image_ids = None if image_ids is None else frozenset(image_ids)
        self.classes = None if classes is None else frozenset(classes)
        self.class_list = "" if classes is None else ", ".join(sorted(self.classes))

    def __call__(self, row: tuple, *, where: str) -> tuple:
        image_id, label, _, xmin, ymin, xmax, ymax = row
        if self.image_ids is not None and image_id not in self.image_ids:
            raise InputError(f"{where}: {unknown_image(image_id, self.image_ids)}")
        if self.classes is not None and label not in self.classes:
            raise InputError(f"{where}: class {label!r} is not one of the task's classes "
                             f"({self.class_list})")
        if not (xmin < xmax and ymin < ymax):
            raise InputError(f"{where}: box needs xmin < xmax and ymin < ymax, got "
                             f"({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g})")
        return row


def _build(rows: list[tuple]) -> Detections:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(CSV_COLUMNS)
    return Detections(
        image_ids=columns[0],
        labels=columns[1],
        scores=columns[2],
        boxes=np.array(columns[3:], dtype=np.float64).T.reshape(-1, 4),
    )
