"""The interface every task kind implements (segmentation, detection; classification and
survival next): what the submission, validation and scoring services ask of a kind.

A kind checks an upload (the part whose cost the task bounds in the request, the rest in a
worker), splits scoring into shards of cases, scores a shard into per-case rows — the metric
values of :mod:`scorers.metrics` and whatever per-item evidence its leaderboard's bootstrap
needs, so that leaderboard refreshes read rows and never re-read uploads — and summarizes the
rows into the evaluation's aggregate. Its leaderboard half lives in :mod:`leaderboard.kinds`,
under the same name.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from challenges.models import Phase, Task

from ..models import Evaluation


@dataclass
class Row:
    """One CaseResult to write: an item (label, or class index) of a case."""

    label: int
    values: dict
    matches: dict | None = None
    missing: bool = False


@dataclass
class ScoringJob:
    """What the scoring service hands a kind for one shard.

    ``prepared``: what :meth:`TaskKind.prepare` returned for the archive (once per task);
    ``summary``: a kind that scores in one shard may leave the aggregate here while scoring,
    for :meth:`TaskKind.summarize`."""

    evaluation: Evaluation
    task: Task
    archive: Path
    scratch: Path
    cases: list[str]
    prepared: object = None
    summary: dict | None = field(default=None)


class TaskKind(ABC):
    name: str

    @abstractmethod
    def check_in_request(self, upload: Path, phase: Phase) -> bool:
        """The checks a web request may run on a received predictions upload (their cost is
        bounded by the task); True when they are all of its checks. Raises InvalidInput."""

    @abstractmethod
    def check(self, upload: Path, phase: Phase) -> None:
        """Every check of a predictions upload (in a worker). Raises InvalidInput."""

    def shards(self, task: Task, shard_cases: int) -> int:
        """Into how many shards of consecutive cases scoring is split (default: one)."""
        return 1

    def prepare(self, archive: Path, task: Task) -> object:
        """Per-archive work shared by all shards a worker scores (e.g. matching members to
        cases); passed on as ``ScoringJob.prepared``."""
        return None

    @abstractmethod
    def score(self, job: ScoringJob) -> Iterator[tuple[str, list[Row]]]:
        """Score the shard's cases: (case, rows) for each, in any order. Raises InvalidInput for
        the participant's mistakes, GroundTruthError for broken hidden labels."""

    @abstractmethod
    def summarize(self, job: ScoringJob) -> tuple[dict, str]:
        """The evaluation's aggregate and the participant's message, once every shard is
        written (the rows are in the database)."""
