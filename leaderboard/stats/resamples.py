"""Bootstrap resamples of the cases of a task: drawn from a seed, or read from a table.

A resample table has one row per draw: ``task, boot, draw, case`` — resample ``boot`` of
``task`` draws ``case`` at position ``draw``. Drawing n cases with replacement for each of B
resamples, task by task, uses numpy's PCG64 generator seeded with
``SeedSequence([seed, zlib.crc32(task.encode("utf-8"))])`` and
``integers(0, n, size=(B, n))`` over the task's cases sorted by name, so a task's resamples
depend only on the seed and the task's name and cases (boots and draws are numbered from 1).
Writing that table out lets another run, or another tool, use exactly the same resamples.
"""

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from leaderboard.stats.errors import StatsInputError
from leaderboard.stats.table import check_names


def _integers(column: Sequence[object], what: str) -> np.ndarray:
    try:
        numbers = np.asarray([int(v) for v in column], dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise StatsInputError(f"samples: every {what} must be an integer") from None
    if any(isinstance(v, float) and not float(v).is_integer() for v in column):
        raise StatsInputError(f"samples: every {what} must be an integer")
    return numbers


@dataclass(frozen=True)
class ResampleTable:
    """A validated resample table (columns of equal length). Build with :meth:`from_columns`."""

    task: np.ndarray
    boot: np.ndarray
    draw: np.ndarray
    case: np.ndarray

    @classmethod
    def from_columns(
        cls, *, task: Sequence[str], boot: Sequence[int], draw: Sequence[int], case: Sequence[str]
    ) -> "ResampleTable":
        """Validate the columns: names are non-empty strings, boot and draw integers."""
        if len({len(task), len(boot), len(draw), len(case)}) != 1:
            raise StatsInputError("samples: columns task, boot, draw and case differ in length")
        return cls(
            task=check_names(task, "task"),
            boot=_integers(boot, "boot"),
            draw=_integers(draw, "draw"),
            case=check_names(case, "case"),
        )

    def records(self) -> list[dict[str, object]]:
        """Rows ``task, boot, draw, case``."""
        return [
            {"task": str(t), "boot": int(b), "draw": int(d), "case": str(c)}
            for t, b, d, c in zip(self.task, self.boot, self.draw, self.case, strict=True)
        ]

    def tasks(self) -> set[str]:
        """The tasks that have resamples."""
        return {str(t) for t in np.unique(self.task)}


@dataclass(frozen=True)
class TaskResamples:
    """The resamples of one task: ids (B,), case multiplicities (B, n) over ``cases``, and
    either the drawn case indices (B, n) or the explicit table they came from."""

    task: str
    cases: tuple[str, ...]
    boot: np.ndarray
    counts: np.ndarray
    draws: np.ndarray | None = None
    explicit: ResampleTable | None = None

    def table(self) -> ResampleTable:
        """The resamples as a table ``task, boot, draw, case`` (built on demand)."""
        if self.explicit is not None:
            return self.explicit
        n_boot, n_draws = self.draws.shape
        return ResampleTable(
            task=np.full(n_boot * n_draws, self.task),
            boot=np.repeat(self.boot, n_draws),
            draw=np.tile(np.arange(1, n_draws + 1), n_boot),
            case=np.asarray(self.cases, dtype=str)[self.draws.reshape(-1)],
        )


def _counts(
    n_boot: int, n_cases: int, boot_index: np.ndarray, case_index: np.ndarray
) -> np.ndarray:
    flat = np.bincount(boot_index * n_cases + case_index, minlength=n_boot * n_cases)
    return flat.reshape(n_boot, n_cases).astype(np.float64)


def draw_resamples(task: str, cases: Sequence[str], *, n_boot: int, seed: int) -> TaskResamples:
    """Draw ``n_boot`` resamples of a task's n cases (sorted by name, as a TaskMatrix holds
    them) with replacement, as the module docstring says."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise StatsInputError(f"number of resamples {n_boot!r}: expected a positive integer")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise StatsInputError(f"seed {seed!r}: expected a non-negative integer")
    n = len(cases)
    key = np.random.SeedSequence([seed, zlib.crc32(task.encode("utf-8"))])
    draws = np.random.Generator(np.random.PCG64(key)).integers(0, n, size=(n_boot, n))
    counts = _counts(n_boot, n, np.repeat(np.arange(n_boot), n), draws.reshape(-1))
    boot = np.arange(1, n_boot + 1)
    return TaskResamples(task=task, cases=tuple(cases), boot=boot, counts=counts, draws=draws)


def select_resamples(task: str, cases: Sequence[str], samples: ResampleTable) -> TaskResamples:
    """The resamples of ``task`` from an explicit table (rows sorted by boot, draw); counts
    refer to ``cases`` in the order given.

    Raises StatsInputError when the task has no rows, a case is not one of ``cases``, or a
    (boot, draw) pair repeats.
    """
    rows = np.flatnonzero(samples.task == task)
    if len(rows) == 0:
        raise StatsInputError(f"samples: no resamples for task {task}")
    rows = rows[np.lexsort((samples.draw[rows], samples.boot[rows]))]
    boot, draw, case = samples.boot[rows], samples.draw[rows], samples.case[rows]
    if ((boot[1:] == boot[:-1]) & (draw[1:] == draw[:-1])).any():
        raise StatsInputError(f"samples: task {task} repeats a (boot, draw) pair")
    position = {name: j for j, name in enumerate(cases)}
    unknown = [name for name in case if name not in position]
    if unknown:
        raise StatsInputError(f"samples: task {task} has no case {unknown[0]}")
    case_index = np.asarray([position[name] for name in case], dtype=np.int64)
    boot_ids, boot_index = np.unique(boot, return_inverse=True)
    table = ResampleTable(task=samples.task[rows], boot=boot, draw=draw, case=case)
    counts = _counts(len(boot_ids), len(cases), boot_index.reshape(-1), case_index)
    return TaskResamples(
        task=task, cases=tuple(cases), boot=boot_ids, counts=counts, explicit=table
    )
