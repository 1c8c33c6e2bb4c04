"""Task kinds as adapters: one :class:`~evaluation.kinds.base.TaskKind` per kind of task,
looked up by the task's ``kind`` (docs/extending.md, "Adding a task kind")."""

from challenges.models import Task

from .base import Row, ScoringJob, TaskKind
from .clinical import ClassificationKind, SurvivalKind
from .detection import DetectionKind
from .segmentation import SegmentationKind

KINDS: dict[str, TaskKind] = {kind.name: kind for kind in (
    SegmentationKind(), DetectionKind(), ClassificationKind(), SurvivalKind())}


def kind_of(task: Task) -> TaskKind:
    return KINDS[task.kind]


__all__ = ["KINDS", "Row", "ScoringJob", "TaskKind", "kind_of"]
