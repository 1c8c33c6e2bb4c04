"""The metric registry: every metric Podium computes, said once.

An entry (:class:`Metric`) holds what the rest of the platform needs to know about a metric:
its name (the key in phase settings, stored results and the API), the label and unit people
see, which direction is better, the task kinds it applies to, its value when masks are empty,
and the rule for the value an undefined or missing result counts as. A segmentation metric
also carries its function of one label's pair of masks (:class:`LabelPair`). Phase choices and
validation, scoring, stored results, aggregates, worst values, the leaderboards, the admin,
the API and the pages all read this registry, so adding a metric is one :func:`register` call
(docs/extending.md). The library stays pure: no Django here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from scorers.surface_metrics import (
    average_symmetric_surface_distance,
    hausdorff,
    normalized_surface_dice,
)
from scorers.surfaces import SurfaceDistances, surface_distances

SEGMENTATION = "segmentation"
DETECTION = "detection"
CLASSIFICATION = "classification"
SURVIVAL = "survival"
TASK_KINDS = (SEGMENTATION, DETECTION, CLASSIFICATION, SURVIVAL)

# Worst-value rules: what an undefined value (one mask empty) or a missing case counts as.
WORST_ZERO = "zero"  # 0: no overlap
WORST_DISTANCE = "distance"  # the phase's worst distance, or the case's image diagonal in mm
WORST_RULES = (WORST_ZERO, WORST_DISTANCE)


class LabelPair:
    """One label of one case, as a metric function sees it: the predicted and reference masks
    (0/1 uint8, same box with a zero margin, both non-empty), their voxel counts, the voxel
    spacing, the label's NSD tolerance and the surface representation. Surface distances are
    computed on first use and shared by every metric that asks for them."""

    def __init__(self, pred_mask: np.ndarray, ref_mask: np.ndarray, *, counts: tuple[int, int],
                 spacing_mm: tuple[float, ...], tolerance_mm: float, surface: str):
        self.pred_mask = pred_mask
        self.ref_mask = ref_mask
        self.counts = counts
        self.spacing_mm = spacing_mm
        self.tolerance_mm = tolerance_mm
        self.surface = surface

    @cached_property
    def overlap(self) -> int:
        """|P ∩ R| in voxels."""
        return int(np.count_nonzero(self.pred_mask & self.ref_mask))

    @cached_property
    def distances(self) -> SurfaceDistances:
        return surface_distances(self.pred_mask, self.ref_mask, spacing_mm=self.spacing_mm,
                                 surface=self.surface)


@dataclass(frozen=True)
class Metric:
    """One metric.

    ``name``: key in settings, results and the API. ``label``/``unit``: what people see
    (``unit`` "" for a ratio). ``larger_better``: the direction. ``kinds``: the task kinds it
    applies to. ``decimals``: places shown on pages. ``worst``: :data:`WORST_ZERO` or
    :data:`WORST_DISTANCE`. ``overall``: ranked in a challenge's overall (MSD) ranking.
    Segmentation only: ``compute`` (a :class:`LabelPair` → float), ``both_empty`` (prediction
    and reference both empty) and ``one_empty`` (exactly one empty; None = undefined, which
    counts as the worst value). A detection metric is a value of the whole test set, computed by
    :mod:`scorers.detection`; it has no per-case function. So are classification and survival
    metrics (:mod:`scorers.clinical`, :mod:`scorers.survival`; one entry point,
    ``scorers.clinical.set_metric``).
    """

    name: str
    label: str
    larger_better: bool
    kinds: tuple[str, ...]
    worst: str = WORST_ZERO
    unit: str = ""
    decimals: int = 4
    overall: bool = False
    compute: Callable[[LabelPair], float] | None = None
    both_empty: float | None = None
    one_empty: float | None = None
    description: str = ""

    def __post_init__(self):
        if not self.name.isidentifier() or len(self.name) > 40:
            raise ValueError(f"metric name {self.name!r} must be an identifier of at most 40 "
                             "characters")
        if not self.kinds or set(self.kinds) - set(TASK_KINDS):
            raise ValueError(f"metric {self.name}: kinds must be among {TASK_KINDS}")
        if self.worst not in WORST_RULES:
            raise ValueError(f"metric {self.name}: worst must be one of {WORST_RULES}")
        if SEGMENTATION in self.kinds and (self.compute is None or self.both_empty is None):
            raise ValueError(f"segmentation metric {self.name} needs compute and both_empty")

    @property
    def per_case(self) -> bool:
        """Whether the metric has a value per case (and label), as segmentation metrics do."""
        return self.compute is not None

    @property
    def heading(self) -> str:
        """The label with its unit, as tables and plots show it: "HD95 (mm)", "Dice"."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def direction(self) -> str:
        return "larger is better" if self.larger_better else "smaller is better"

    def empty_value(self, pred_count: int, ref_count: int) -> float:
        """The value when at least one mask is empty (NaN: undefined)."""
        value = self.both_empty if pred_count == 0 and ref_count == 0 else self.one_empty
        return math.nan if value is None else float(value)

    @property
    def missing_value(self) -> float | None:
        """What a case without a prediction records: the prediction is empty, so the value of
        exactly one empty mask (None: undefined, counted as the worst value)."""
        return self.one_empty

    def worst_value(self, *, worst_distance_mm: float | None, geometry: Mapping) -> float:
        """The value an undefined or missing result counts as: 0 under :data:`WORST_ZERO`; under
        :data:`WORST_DISTANCE` the phase's fixed worst distance, or else the case's image
        diagonal (no prediction inside the image can be farther off)."""
        if self.worst == WORST_ZERO:
            return 0.0
        if worst_distance_mm is not None:
            return float(worst_distance_mm)
        return image_diagonal_mm(geometry)


def image_diagonal_mm(geometry: Mapping) -> float:
    """The physical diagonal of the image, sqrt(Σ (size_i · spacing_i)²), in mm."""
    spacing = geometry["spacing_mm"]
    shape = geometry["shape"][: len(spacing)]
    return math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing, strict=True)))


_REGISTRY: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add ``metric`` (its name must be new); returns it."""
    if metric.name in _REGISTRY:
        raise ValueError(f"a metric named {metric.name!r} is already registered")
    _REGISTRY[metric.name] = metric
    return metric


def unregister(name: str) -> None:
    """Remove a metric (tests register toy metrics and remove them again)."""
    del _REGISTRY[name]


def metric(name: str) -> Metric:
    """The metric called ``name`` (KeyError if there is none)."""
    return _REGISTRY[name]


def metrics(kind: str | None = None) -> list[Metric]:
    """Registered metrics in registration order, those of task kind ``kind`` if given."""
    return [m for m in _REGISTRY.values() if kind is None or kind in m.kinds]


def metric_label(name: str) -> str:
    """The heading of metric ``name`` (:attr:`Metric.heading`), or the name itself for a metric
    no longer registered (an old snapshot's)."""
    entry = _REGISTRY.get(name)
    return entry.heading if entry else name


def metric_names(kind: str | None = None) -> list[str]:
    return [m.name for m in metrics(kind)]


def default_metric(kind: str) -> str:
    """A new phase's primary metric: the first metric registered for ``kind``."""
    return metric_names(kind)[0]


def larger_is_better(name: str) -> bool:
    return _REGISTRY[name].larger_better


def _dice(pair: LabelPair) -> float:
    return 2.0 * pair.overlap / (pair.counts[0] + pair.counts[1])


register(Metric(
    "dice", "Dice", larger_better=True, kinds=(SEGMENTATION,), overall=True,
    compute=_dice, both_empty=1.0, one_empty=0.0,
    description="2|P ∩ R| / (|P| + |R|) over voxels.",
))
register(Metric(
    "nsd", "NSD", larger_better=True, kinds=(SEGMENTATION,), overall=True,
    compute=lambda pair: normalized_surface_dice(pair.distances, tolerance_mm=pair.tolerance_mm,
                                                 surface=pair.surface),
    both_empty=1.0, one_empty=0.0,
    description="Share of both surfaces within the label's tolerance τ of the other.",
))
for _name, _label, _function, _text in (
    ("hd", "HD", lambda pair: hausdorff(pair.distances, percent=100, surface=pair.surface),
     "Hausdorff distance: the largest distance from either surface to the other (mm)."),
    ("hd95", "HD95", lambda pair: hausdorff(pair.distances, percent=95, surface=pair.surface),
     "The larger of the two directed 95th percentiles of surface distances (mm)."),
    ("assd", "ASSD",
     lambda pair: average_symmetric_surface_distance(pair.distances, surface=pair.surface),
     "Average symmetric surface distance (mm; docs/scorers.md per surface)."),
):
    register(Metric(
        _name, _label, larger_better=False, kinds=(SEGMENTATION,), worst=WORST_DISTANCE,
        unit="mm", decimals=2, compute=_function, both_empty=0.0, one_empty=None,
        description=_text,
    ))
for _name, _label, _text in (
    ("mAP", "mAP", "PASCAL VOC mean average precision at the phase's IoU threshold."),
    ("AP", "AP", "COCO AP averaged over IoU 0.50:0.95."),
    ("AP50", "AP50", "COCO AP at IoU 0.50."),
    ("AP75", "AP75", "COCO AP at IoU 0.75."),
):
    register(Metric(_name, _label, larger_better=True, kinds=(DETECTION,), description=_text))

# Classification and survival: values of the whole test set (scorers.clinical.set_metric).
for _name, _label, _larger, _decimals, _text in (
    ("auroc", "AUROC", True, 4,
     "Area under the ROC curve: P(a positive case scores above a negative one), ties ½."),
    ("average_precision", "AP", True, 4,
     "Average precision: Σ (R_k − R_{k−1}) P_k over the distinct scores, as scikit-learn."),
    ("balanced_accuracy", "Balanced accuracy", True, 4,
     "(Sensitivity + specificity) / 2, positive when the probability ≥ the phase's threshold."),
    ("sensitivity", "Sensitivity", True, 4,
     "TP / (TP + FN), positive when the probability ≥ the phase's threshold."),
    ("specificity", "Specificity", True, 4,
     "TN / (TN + FP), positive when the probability ≥ the phase's threshold."),
    ("log_loss", "Log loss", False, 4,
     "Mean −log of the probability given to the true class (clipped to [1e-15, 1 − 1e-15])."),
    ("brier", "Brier score", False, 4, "Mean squared difference of probability and label."),
    ("macro_auroc", "Macro AUROC", True, 4,
     "Mean over the classes of the one-vs-rest AUROC."),
):
    register(Metric(_name, _label, larger_better=_larger, kinds=(CLASSIFICATION,),
                    decimals=_decimals, description=_text))
for _name, _label, _larger, _text in (
    ("c_index", "C-index", True,
     "Harrell's concordance: share of comparable pairs whose higher risk fails first, ties ½."),
    ("uno_c", "Uno's C", True,
     "Concordance up to τ with inverse-probability-of-censoring weights (Uno et al. 2011)."),
    ("td_auc", "Mean time-dependent AUC", True,
     "Cumulative/dynamic AUC at the phase's times, averaged over the Kaplan–Meier drops."),
    ("integrated_brier", "Integrated Brier score", False,
     "Brier score of the predicted survival curves (IPCW), integrated over the phase's times."),
):
    register(Metric(_name, _label, larger_better=_larger, kinds=(SURVIVAL,), decimals=4,
                    description=_text))
