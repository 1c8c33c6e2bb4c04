"""CSV files of the command line: the long score table, resample tables, rankings, outputs.

Numbers are written so that reading them back gives the same float: integral values without a
decimal point ("3"), others in Python's shortest round-trip form, infinities as "inf"/"-inf",
and a missing value as an empty field. An empty field, "NA" or "NaN" reads as missing.
"""

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from leaderboard.stats.errors import StatsInputError
from leaderboard.stats.methods import TaskRanking
from leaderboard.stats.resamples import ResampleTable
from leaderboard.stats.table import ScoreTable

_MISSING = {"", "na", "nan"}


def _rows(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            absent = [name for name in required if name not in header]
            if absent:
                raise StatsInputError(f"{path.name}: missing column(s) {', '.join(absent)}")
            return [{name: (row[name] or "").strip() for name in required} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise StatsInputError(f"{path.name}: cannot read the CSV file ({error})") from None


def _number(text: str, *, where: str, missing_ok: bool) -> float:
    if text.lower() in _MISSING:
        if missing_ok:
            return math.nan
        raise StatsInputError(f"{where}: a number is required")
    try:
        return float(text)
    except ValueError:
        raise StatsInputError(f"{where}: {text!r} is not a number") from None


def read_score_table(path: Path) -> ScoreTable:
    """Read columns ``task, case, algorithm, value`` (other columns are ignored)."""
    rows = _rows(path, ("task", "case", "algorithm", "value"))
    values = [
        _number(row["value"], where=f"{path.name} line {i + 2}", missing_ok=True)
        for i, row in enumerate(rows)
    ]
    return ScoreTable.from_columns(
        task=[row["task"] for row in rows],
        case=[row["case"] for row in rows],
        algorithm=[row["algorithm"] for row in rows],
        value=values,
    )


def read_resample_table(path: Path) -> ResampleTable:
    """Read columns ``task, boot, draw, case``."""
    rows = _rows(path, ("task", "boot", "draw", "case"))
    return ResampleTable.from_columns(
        task=[row["task"] for row in rows],
        boot=[row["boot"] for row in rows],
        draw=[row["draw"] for row in rows],
        case=[row["case"] for row in rows],
    )


def read_rankings(path: Path) -> list[TaskRanking]:
    """Read a ranking file (``task, algorithm, score, rank``) into one TaskRanking per task."""
    rows = _rows(path, ("task", "algorithm", "score", "rank"))
    by_task: dict[str, list[tuple[str, float, float]]] = {}
    for i, row in enumerate(rows):
        where = f"{path.name} line {i + 2}"
        by_task.setdefault(row["task"], []).append(
            (
                row["algorithm"],
                _number(row["score"], where=where, missing_ok=True),
                _number(row["rank"], where=where, missing_ok=False),
            )
        )
    rankings = []
    for task, entries in sorted(by_task.items()):
        entries.sort()
        names = [name for name, _, _ in entries]
        if len(set(names)) != len(names):
            raise StatsInputError(f"{path.name}: task {task} lists an algorithm twice")
        rankings.append(
            TaskRanking(
                task=task,
                algorithms=tuple(names),
                score=np.asarray([score for _, score, _ in entries]),
                rank=np.asarray([rank for _, _, rank in entries]),
                n_cases=0,
            )
        )
    return rankings


def format_value(value: object) -> str:
    """A cell: floats as described in the module docstring, anything else via ``str``."""
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return ""
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
    return str(value)


def write_columns(path: Path, header: Sequence[str], columns: Sequence[Sequence[object]]) -> None:
    """Write equally long columns under ``header``, cells formatted by :func:`format_value`
    (integers and strings as they are)."""
    text_columns = [
        [format_value(v) for v in column]
        if np.asarray(column).dtype.kind == "f"
        else np.asarray(column).astype(str).tolist()
        for column in columns
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(zip(*text_columns, strict=True))


def write_rows(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> None:
    """Write ``rows`` under the header ``columns`` (a value a row lacks is written as 0)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([format_value(row.get(name, 0.0)) for name in columns])
