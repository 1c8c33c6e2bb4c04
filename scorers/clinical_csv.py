"""Reading clinical predictions and hidden labels from CSV files, strictly and within bounds.

- :func:`read_predictions` ``(path, *, cases, columns, name, max_bytes=None, curve=())``: a
  predictions file ``case,<columns…>`` (for example ``case,probability``,
  ``case,egfr_probability``, ``case,risk``, one ``<class>_probability`` column per class, or
  ``case,risk,S@365,S@730``: a survival curve, S(t) at each time).
- :func:`read_reference` ``(path, *, cases, columns, name, classes=None, max_bytes=None)``:
  hidden labels ``case,label`` or ``case,time,event``.

Both return ``{column: array}`` with one value per test case, in the order of ``cases``. Rules:
UTF-8 (a BOM allowed), a header naming ``case`` and each of ``columns`` exactly once and nothing
else (any order); every test case exactly once, no other case; numbers in plain decimal
notation and finite; a column named ``probability``, ``…_probability`` or ``S@…`` (a
survival probability) holds values in [0, 1], and the ``curve`` columns (in time order) do not
increase along a row; ``label`` holds 0/1 (or any class index) or, with ``classes``, one of
those names (the index in ``classes`` is returned); ``time`` ≥ 0; ``event`` 0 or 1. Blank
lines are skipped. Every message names the file (``name``), the row (the header is row 1) and
the column.

Bounded: a file larger than :func:`max_csv_bytes` of the case count is refused before a line
is read, lines are read one at a time up to 4,096 characters, and reading stops at the first
row too many, so a hostile upload costs what n honest rows would.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from scorers._parse import capped_csv, check_name, parse_decimal
from scorers.errors import InputError

MAX_LINE_CHARS = 4096
CURVE_PREFIX = "S@"
"""A column of survival probabilities: ``S@365`` holds S(365), in the task's time unit."""
_BYTES_PER_ROW = 300  # a case name of up to 256 characters and a separator
_BYTES_PER_VALUE = 40  # a 17-significant-digit number in exponent notation, and a comma
_HEADER_BYTES = 64 * 1024


def max_csv_bytes(n_cases: int, n_columns: int) -> int:
    """The size cap of a file of ``n_cases`` rows of ``n_columns`` values: 64 KiB for the header
    and slack, plus 300 bytes per case name and 40 per value. 500 cases, one column: 234 KiB."""
    return _HEADER_BYTES + max(n_cases, 1) * (_BYTES_PER_ROW + _BYTES_PER_VALUE * n_columns)


def _is_probability(column: str) -> bool:
    return column == "probability" or column.endswith("_probability") or column.startswith(
        CURVE_PREFIX)


def _rows(path: Path, *, cases: Sequence[str], columns: Sequence[str], name: str,
          max_bytes: int | None, what: str) -> Iterable[tuple[str, str, dict[str, str]]]:
    """(where, case, {column: text}) for each non-blank row, every case checked once."""
    if not columns or len(set(columns)) != len(columns) or "case" in columns:
        raise ValueError(f"columns {list(columns)!r}: expected distinct names other than 'case'")
    max_bytes = max_csv_bytes(len(cases), len(columns)) if max_bytes is None else max_bytes
    known = set(cases)
    seen: dict[str, int] = {}
    expected = ",".join(["case", *columns])
    with capped_csv(Path(path), name=name, max_bytes=max_bytes,
                    max_lines=2 * len(cases) + 101, max_chars=MAX_LINE_CHARS,
                    what=what) as (header, reader):
        if sorted(header) != sorted(["case", *columns]):
            shown = ",".join(header)[:200]
            raise InputError(f"{name} row 1: expected the header {expected}, got {shown!r}")
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            number = reader.line_num
            where = f"{name} row {number}"
            if len(row) != len(header):
                raise InputError(f"{where}: expected {len(header)} fields ({expected}), "
                                 f"got {len(row)}")
            fields = dict(zip(header, row, strict=True))
            case = check_name(fields.pop("case"), where=f"{where}, column case")
            if case not in known:
                raise InputError(f"{where}, column case: {case!r} is not a test case")
            if case in seen:
                raise InputError(f"{where}, column case: case {case!r} appears twice "
                                 f"(first in row {seen[case]})")
            seen[case] = number
            yield where, case, fields
    missing = [case for case in cases if case not in seen]
    if missing:
        more = f" (and {len(missing) - 1} other cases)" if len(missing) > 1 else ""
        raise InputError(f"{name}: no row for case {missing[0]!r}{more}")


def read_predictions(path: str | Path, *, cases: Sequence[str], columns: Sequence[str],
                     name: str, max_bytes: int | None = None,
                     curve: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """The prediction ``columns`` of every case of ``cases`` (module docstring), float64 arrays
    in the order of ``cases``. ``max_bytes`` defaults to :func:`max_csv_bytes`. ``curve``:
    columns of ``columns`` holding one survival curve, in time order — S(t) cannot increase
    with t, so a row whose value rises from one to the next is refused naming both."""
    if not set(curve) <= set(columns):
        raise ValueError(f"curve {list(curve)!r}: expected columns of {list(columns)!r}")
    position = {case: i for i, case in enumerate(cases)}
    values = {column: np.full(len(cases), np.nan) for column in columns}
    for where, case, fields in _rows(Path(path), cases=cases, columns=columns, name=name,
                                     max_bytes=max_bytes, what="predictions file"):
        for column in columns:
            number = parse_decimal(fields[column], where=f"{where}, column {column}")
            if _is_probability(column) and not 0.0 <= number <= 1.0:
                raise InputError(f"{where}, column {column}: {fields[column].strip()!r} is not "
                                 "a probability in [0, 1]")
            values[column][position[case]] = number
        for earlier, later in itertools.pairwise(curve):
            before, after = values[earlier][position[case]], values[later][position[case]]
            if after > before:
                raise InputError(f"{where}, column {later}: {fields[later].strip()!r} is larger "
                                 f"than {earlier}'s {fields[earlier].strip()!r}; a survival "
                                 "curve cannot increase with time")
    return values


def read_reference(path: str | Path, *, cases: Sequence[str], columns: Sequence[str],
                   name: str, classes: Sequence[str] | None = None,
                   max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """The hidden labels of every case: ``label`` (int64 class index; 0/1 for two classes, or
    the position of the row's class name in ``classes``), ``time`` (float64, ≥ 0) and ``event``
    (int64, 1 event, 0 censored), in the order of ``cases``."""
    unknown = set(columns) - {"label", "time", "event"}
    if unknown:
        raise ValueError(f"reference columns {sorted(unknown)}: expected label, or time and event")
    position = {case: i for i, case in enumerate(cases)}
    class_index = None if classes is None else {c: i for i, c in enumerate(classes)}
    values = {column: np.zeros(len(cases), np.float64 if column == "time" else np.int64)
              for column in columns}
    for where, case, fields in _rows(Path(path), cases=cases, columns=columns, name=name,
                                     max_bytes=max_bytes, what="labels file"):
        for column in columns:
            text, at = fields[column].strip(), f"{where}, column {column}"
            if column == "label" and class_index is not None:
                if text not in class_index:
                    raise InputError(f"{at}: expected one of the classes "
                                     f"{', '.join(class_index)}, got {text[:40]!r}")
                value = class_index[text]
            elif column == "time":
                value = parse_decimal(text, where=at)
                if value < 0:
                    raise InputError(f"{at}: a time must not be negative, got {text!r}")
            else:
                value = parse_decimal(text, where=at)
                high = 2 if column == "event" else None
                if value != int(value) or value < 0 or (high is not None and value >= high):
                    wanted = "0 (censored) or 1 (event)" if column == "event" else "a class index"
                    raise InputError(f"{at}: expected {wanted}, got {text[:40]!r}")
            values[column][position[case]] = value
    return values
