"""The leaderboard half of each task kind (:mod:`evaluation.kinds` holds the scoring half, under
the same names): how a phase of that kind ranks its entrants, by which metric, and what a
snapshot's method is called. docs/extending.md, "Adding a task kind"."""

from abc import ABC, abstractmethod
from collections.abc import Sequence

from challenges.models import Phase, Task
from scorers.metrics import DETECTION, SEGMENTATION

from ..entrants import Entrant
from ..ranked import PhaseBoard
from . import clinical, detection, segmentation


class BoardKind(ABC):
    name: str

    @abstractmethod
    def rank(self, phase: Phase, entrants: Sequence[Entrant]) -> PhaseBoard:
        """The phase's entries and statistics, from stored results only (no upload is read)."""

    def ranked_metric(self, phase: Phase) -> str:
        """The metric the phase's leaderboard ranks by."""
        return phase.primary_metric

    def ranking_method(self, phase: Phase) -> str:
        """What a snapshot records as its ranking method."""
        return phase.ranking_method


class SegmentationBoard(BoardKind):
    name = SEGMENTATION

    def rank(self, phase, entrants):
        return segmentation.rank_segmentation(phase, entrants)


class DetectionBoard(BoardKind):
    name = DETECTION

    def rank(self, phase, entrants):
        return detection.rank_detection(phase, entrants)

    def ranked_metric(self, phase):
        return detection.ranked_metric(phase)

    def ranking_method(self, phase):
        return f"detection-{detection.ranked_metric(phase)}"


class ClinicalBoard(BoardKind):
    """Classification and survival: a set-level metric, bootstrapped over cases."""

    def __init__(self, name: str):
        self.name = name

    def rank(self, phase, entrants):
        return clinical.rank_clinical(phase, entrants)

    def ranked_metric(self, phase):
        return clinical.ranked_metric(phase)

    def ranking_method(self, phase):
        return f"{self.name}-{clinical.ranked_metric(phase)}"


KINDS: dict[str, BoardKind] = {kind.name: kind for kind in (
    SegmentationBoard(), DetectionBoard(), ClinicalBoard(Task.CLASSIFICATION),
    ClinicalBoard(Task.SURVIVAL))}


def board_kind(task: Task) -> BoardKind:
    return KINDS[task.kind]
