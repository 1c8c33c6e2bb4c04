"""The long input table (task, case, algorithm, value) and the algorithm × case matrix per task.

A table is hostile input until :meth:`ScoreTable.from_columns` has validated it: names are
non-empty strings without control characters, values are finite numbers or missing (``None`` or
NaN). :func:`task_matrices` then builds, per task, the complete algorithm × case grid; as in
challengeR's ``as.challenge`` (1.0.5), an (algorithm, case) pair that a task lacks is added as
missing and a pair that appears twice is an error.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from leaderboard.stats.errors import StatsInputError

NaRule = float | Literal["worst", "drop"]
"""How a missing value is treated: replaced by a number (e.g. 0 for Dice, the phase's worst
distance for HD95), ``"worst"`` (worse than every observed value, see docs/ranking.md), or
``"drop"`` (removed, with a :class:`~leaderboard.stats.errors.DroppedCasesWarning`)."""

_MAX_NAMED = 5


def check_na_rule(na: NaRule) -> NaRule:
    """Return ``na`` if it is a valid missing-value rule, else raise StatsInputError."""
    if na in ("worst", "drop"):
        return na
    if isinstance(na, bool) or not isinstance(na, int | float) or not np.isfinite(na):
        raise StatsInputError(
            f"missing-value rule {na!r}: expected a finite number, 'worst' or 'drop'"
        )
    return float(na)


def check_names(column: Sequence[object], what: str) -> np.ndarray:
    """Validate a column of names (non-empty printable strings) → numpy string array."""
    names = list(column)
    try:  # each distinct name once (a long table repeats them), first occurrences in order
        distinct = list(dict.fromkeys(names))
    except TypeError:  # an unhashable entry: reported below as not a string
        distinct = names
    for name in distinct:
        if not isinstance(name, str) or not name:
            raise StatsInputError(f"{what} {name!r}: expected a non-empty string")
        if not name.isprintable():
            raise StatsInputError(f"{what} {name!r}: control characters are not allowed")
    return np.asarray(names, dtype=str) if names else np.empty(0, dtype=str)


def _values(column: Sequence[object]) -> np.ndarray:
    try:
        values = np.asarray([np.nan if v is None else v for v in column], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise StatsInputError(f"values must be numbers or missing: {error}") from None
    if np.isinf(values).any():
        raise StatsInputError("values must be finite numbers or missing; found an infinite value")
    return values


@dataclass(frozen=True)
class ScoreTable:
    """A validated long table: one row per (task, case, algorithm) with its value (NaN = missing).

    Build it with :meth:`from_columns` or :meth:`from_records`; the constructor does not validate.
    """

    task: np.ndarray
    case: np.ndarray
    algorithm: np.ndarray
    value: np.ndarray

    @classmethod
    def from_columns(
        cls,
        *,
        task: Sequence[str],
        case: Sequence[str],
        algorithm: Sequence[str],
        value: Sequence[float | None],
    ) -> "ScoreTable":
        """Validate four equally long columns; ``None`` or NaN in ``value`` means missing."""
        lengths = {len(task), len(case), len(algorithm), len(value)}
        if len(lengths) != 1:
            raise StatsInputError("columns task, case, algorithm and value differ in length")
        return cls(
            task=check_names(task, "task"),
            case=check_names(case, "case"),
            algorithm=check_names(algorithm, "algorithm"),
            value=_values(value),
        )

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, object]]) -> "ScoreTable":
        """Validate rows given as mappings with keys ``task, case, algorithm, value``."""
        rows = list(records)
        try:
            columns = {key: [row[key] for row in rows] for key in ("task", "case", "algorithm")}
            values = [row["value"] for row in rows]
        except KeyError as error:
            raise StatsInputError(f"a row lacks the column {error.args[0]!r}") from None
        return cls.from_columns(**columns, value=values)


@dataclass(frozen=True)
class TaskMatrix:
    """The complete algorithm × case grid of one task.

    ``algorithms`` and ``cases`` are sorted (so results never depend on row order); ``values``
    has shape (K algorithms, n cases) with NaN where a value is missing; ``n_added`` counts the
    (algorithm, case) pairs that were absent from the table and added as missing.
    """

    task: str
    algorithms: tuple[str, ...]
    cases: tuple[str, ...]
    values: np.ndarray
    n_added: int = 0


def _factorize(names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    levels, codes = np.unique(names, return_inverse=True)
    return levels, codes.reshape(-1)


def _task_matrix(
    task: str, case: np.ndarray, algorithm: np.ndarray, value: np.ndarray
) -> TaskMatrix:
    cases, case_code = _factorize(case)
    algorithms, algorithm_code = _factorize(algorithm)
    cell = algorithm_code * len(cases) + case_code
    counts = np.bincount(cell, minlength=len(algorithms) * len(cases))
    if (counts > 1).any():
        repeated = np.flatnonzero(counts > 1)[:_MAX_NAMED]
        named = ", ".join(
            f"case {cases[c % len(cases)]} for algorithm {algorithms[c // len(cases)]}"
            for c in repeated
        )
        raise StatsInputError(f"task {task}: duplicate rows ({named}); each pair must appear once")
    grid = np.full(len(algorithms) * len(cases), np.nan)
    grid[cell] = value
    return TaskMatrix(
        task=task,
        algorithms=tuple(str(a) for a in algorithms),
        cases=tuple(str(c) for c in cases),
        values=grid.reshape(len(algorithms), len(cases)),
        n_added=int((counts == 0).sum()),
    )


def task_matrices(table: ScoreTable) -> dict[str, TaskMatrix]:
    """Split ``table`` by task (sorted by name) into complete algorithm × case matrices.

    Per task, the algorithms and cases are those named in that task's rows; a missing
    (algorithm, case) pair is added as missing (counted in ``n_added``); a duplicate pair raises
    StatsInputError. An empty table raises too.
    """
    if len(table.value) == 0:
        raise StatsInputError("the table has no rows")
    tasks, task_code = _factorize(table.task)
    return {
        str(task): _task_matrix(
            str(task),
            table.case[task_code == t],
            table.algorithm[task_code == t],
            table.value[task_code == t],
        )
        for t, task in enumerate(tasks)
    }
