"""Predicted boxes: the :class:`Detections` table and its two file formats.

Box CSV
    A header naming exactly the columns ``image_id,label,score,xmin,ymin,xmax,ymax`` (any
    order), then one row per box. UTF-8 (a BOM is tolerated); blank lines are skipped.
COCO results JSON
    A list of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` objects; other
    keys are ignored. ``image_id`` is the image's name; a JSON integer ``n`` names the image
    ``str(n)``. ``category_id`` is a class name, or a JSON integer ``k`` meaning the k-th
    (1-based) of the task's class names sorted in code-point order, which needs ``classes``.

Boxes are ``xmin < xmax``, ``ymin < ymax`` in the ground truth's pixel coordinates; numbers
are finite plain decimals (no NaN, no inf). Every problem raises :class:`InputError` naming
the file and the row.
"""

import csv
import json
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scorers._parse import check_name, parse_decimal, read_capped
from scorers.errors import InputError

CSV_COLUMNS = ("image_id", "label", "score", "xmin", "ymin", "xmax", "ymax")
DEFAULT_MAX_ROWS = 1_000_000
DEFAULT_MAX_JSON_BYTES = 256 << 20


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
) -> Detections:
    """Read a box CSV (``image_id,label,score,xmin,ymin,xmax,ymax``) into :class:`Detections`.

    When given, ``image_ids`` and ``classes`` are the only accepted values of those columns.
    ``name`` names the file in error messages. At most ``max_rows`` data rows.
    """
    check = _RowCheck(name=name, image_ids=image_ids, classes=classes)
    rows = []
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.reader(stream, strict=True)
            columns = _csv_header(next(reader, None), name=name)
            for row in reader:
                if not any(field.strip() for field in row):
                    continue
                if len(rows) >= max_rows:
                    raise InputError(f"{name}: more than {max_rows} rows")
                where = f"{name} row {reader.line_num}"
                if len(row) != len(CSV_COLUMNS):
                    raise InputError(f"{where}: expected {len(CSV_COLUMNS)} fields, "
                                     f"got {len(row)}")
                rows.append(check(_csv_row(dict(zip(columns, row, strict=True)), where=where),
                                  where=where))
    except OSError as error:
        raise InputError(f"{name}: cannot be read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(f"{name}: is not UTF-8 text") from None
    except csv.Error as error:
        raise InputError(f"{name}: not a valid CSV file ({error})") from None
    return _build(rows)


def read_coco_results(
    path: str | Path,
    *,
    name: str,
    image_ids: Collection[str] | None = None,
    classes: Collection[str] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_JSON_BYTES,
) -> Detections:
    """Read COCO detection results (``[{"image_id", "category_id", "bbox", "score"}]``).

    ``bbox`` is ``[x, y, width, height]`` and becomes ``xmin = x, xmax = x + width`` (likewise
    for y). Integer ``category_id`` values are 1-based positions in ``sorted(classes)``;
    integer ``image_id`` values name the image ``str(image_id)``. At most ``max_bytes`` bytes
    and ``max_rows`` entries.
    """
    entries = _load_json_list(Path(path), name=name, max_bytes=max_bytes, max_rows=max_rows)
    class_order = None if classes is None else sorted(classes)
    check = _RowCheck(name=name, image_ids=image_ids, classes=classes)
    rows = []
    for number, entry in enumerate(entries, start=1):
        where = f"{name} entry {number}"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: expected an object with image_id, category_id, bbox "
                             "and score")
        missing = [key for key in ("image_id", "category_id", "bbox", "score") if key not in entry]
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


def _load_json_list(path: Path, *, name: str, max_bytes: int, max_rows: int) -> list:
    data = read_capped(path, name=name, max_bytes=max_bytes, what="COCO results file")
    try:
        entries = json.loads(data, parse_constant=_reject_constant)
    except InputError as error:
        raise InputError(f"{name}: {error}") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{name}: not valid JSON ({error.msg} at line {error.lineno})") from None
    except (ValueError, RecursionError):
        raise InputError(f"{name}: not valid JSON (bad encoding or nesting too deep)") from None
    if not isinstance(entries, list):
        raise InputError(f"{name}: expected a JSON list of detections, "
                         f"got {type(entries).__name__}")
    if len(entries) > max_rows:
        raise InputError(f"{name}: more than {max_rows} detections")
    return entries


def _reject_constant(constant: str) -> float:
    raise InputError(f"{constant} is not a number")


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
            raise InputError(f"{where}: unknown image {image_id!r}")
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
