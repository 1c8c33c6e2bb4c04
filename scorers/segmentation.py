"""Per-label segmentation metrics of one case: Dice, NSD, HD, HD95 and ASSD.

Definitions (docs/scorers.md has the details and the comparison with reference libraries):

* Dice = 2|P ∩ R| / (|P| + |R|) over voxels.
* NSD@τ, HD, HD95, ASSD on the ``"surfel"`` surface of DeepMind surface-distance (default; the
  NSD of the Medical Segmentation Decathlon) or on ``"voxel"`` borders as MONAI
  (:mod:`scorers.surfaces`, :mod:`scorers.surface_metrics`).
* Empty masks, as MetricsReloaded recommends: P and R both empty → Dice 1, NSD 1, HD = HD95 =
  ASSD = 0; exactly one empty → Dice 0, NSD 0, distances NaN (undefined). Never inf.

Work is proportional to the volume once (one pass over each label map finds every label's
bounding box and voxel count) plus, per label, the union bounding box of P and R with a
one-voxel margin, where one pair of distance computations serves all surface metrics.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

import numpy as np

from scorers import _kernels
from scorers import metrics as registry
from scorers._threads import both
from scorers.errors import InputError
from scorers.metrics import SEGMENTATION, LabelPair, Metric
from scorers.surfaces import SURFACES

_MAX_LABEL_SPAN = 1 << 20


def _check_array(name: str, array: object) -> np.ndarray:
    """A 2D/3D label map in native byte order: integers, booleans, or floats whose every value
    is an integer (what ``nibabel``'s ``get_fdata()`` returns for a label map)."""
    if not isinstance(array, np.ndarray):
        raise InputError(f"{name} must be a numpy array, not {type(array).__name__}")
    if array.ndim not in (2, 3):
        raise InputError(f"{name} must be 2D or 3D, not {array.ndim}D")
    if np.issubdtype(array.dtype, np.floating):
        if not (np.all(np.isfinite(array)) and np.all(array == np.round(array))):
            raise InputError(f"{name} must hold integer labels; its float values are not all "
                             "whole numbers")
        if array.size and (array.min() < np.iinfo(np.int64).min / 2
                           or array.max() > np.iinfo(np.int64).max / 2):
            raise InputError(f"{name} holds label values out of range")
        return array.astype(np.int64)
    if array.dtype != np.bool_ and not np.issubdtype(array.dtype, np.integer):
        raise InputError(f"{name} must hold integer labels, not {array.dtype}")
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array.view(np.uint8) if array.dtype == np.bool_ else array


def _fortran_ordered(array: np.ndarray) -> bool:
    return array.flags.f_contiguous and not array.flags.c_contiguous


def _check_spacing(spacing_mm: object, ndim: int) -> tuple[float, ...]:
    try:
        spacing = tuple(float(s) for s in spacing_mm)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise InputError(f"spacing_mm must be {ndim} numbers, got {spacing_mm!r}") from None
    if len(spacing) != ndim or not all(math.isfinite(s) and s > 0 for s in spacing):
        raise InputError(f"spacing_mm must be {ndim} finite positive numbers, got {spacing}")
    return spacing


def _check_labels(labels: object) -> tuple[int, ...]:
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Collection):
        raise InputError(f"labels must be a collection of integers, got {labels!r}")
    checked = []
    for label in labels:
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
            raise InputError(f"labels must be integers, got {label!r}")
        checked.append(int(label))
    if len(set(checked)) != len(checked):
        raise InputError(f"labels must be distinct, got {checked}")
    if checked and max(checked) - min(checked) >= _MAX_LABEL_SPAN:
        raise InputError(f"labels must lie within a range of {_MAX_LABEL_SPAN} values")
    return tuple(checked)


def _check_tolerances(tolerance: object, labels: tuple[int, ...]) -> dict[int, float]:
    if isinstance(tolerance, Mapping):
        missing = [label for label in labels if label not in tolerance]
        if missing:
            raise InputError(f"nsd_tolerance_mm has no tolerance for labels {missing}")
        values = {label: tolerance[label] for label in labels}
    else:
        values = dict.fromkeys(labels, tolerance)
    checked = {}
    for label, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise InputError(f"nsd_tolerance_mm for label {label} must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise InputError(f"nsd_tolerance_mm for label {label} must be finite and ≥ 0")
        checked[label] = float(value)
    return checked


def _row_words(volume: np.ndarray) -> np.ndarray | None:
    """The rows of a C-contiguous 3D array as uint64 words (for a fast all-zero test), or None
    where rows are not a whole number of aligned words."""
    row_bytes = volume.shape[2] * volume.itemsize
    if row_bytes % 8 or volume.ctypes.data % 8:
        return None
    return volume.view(np.uint8).reshape(*volume.shape[:2], row_bytes).view(np.uint64)


def label_boxes(volume: np.ndarray, labels: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box and voxel count of every label, in one pass over ``volume``.

    Returns ``boxes`` of shape (len(labels), ndim, 2) with inclusive (first, last) indices per
    axis (first > last for an absent label) and ``counts`` (len(labels),). Values of ``volume``
    that are not in ``labels`` are ignored.
    """
    lowest = min(labels)
    lut = np.full(max(labels) - lowest + 1, len(labels), np.int64)
    lut[np.array(labels) - lowest] = np.arange(len(labels))
    if volume.flags.c_contiguous:
        scanned, reverse = volume, False
    elif volume.flags.f_contiguous:
        scanned, reverse = volume.T, True
    else:
        scanned, reverse = np.ascontiguousarray(volume), False
    as_3d = scanned if scanned.ndim == 3 else scanned.reshape((1, *scanned.shape))
    words = _row_words(as_3d)
    flat_boxes, counts = _kernels.label_boxes(
        as_3d, np.zeros((1, 1, 1), np.uint64) if words is None else words, lut, lowest,
        len(labels), 0 not in labels, words is not None,
    )
    boxes = flat_boxes.reshape(len(labels), 3, 2)[:, 3 - volume.ndim :]
    if reverse:
        boxes = boxes[:, ::-1]
    return np.ascontiguousarray(boxes), counts


def _padded_mask(volume: np.ndarray, label: int, box: np.ndarray) -> np.ndarray:
    """``volume == label`` inside ``box`` as a C-ordered 0/1 uint8 array with a zero margin."""
    window = tuple(slice(first, last + 1) for first, last in box)
    padded = np.zeros(tuple(int(last - first + 3) for first, last in box), np.uint8)
    inner = padded[tuple(slice(1, -1) for _ in box)]
    np.equal(volume[window], label, out=inner.view(np.bool_))
    return padded


def _check_metrics(names: object) -> list[Metric]:
    known = {m.name: m for m in registry.metrics(SEGMENTATION)}
    if names is None:
        return list(known.values())
    if isinstance(names, (str, bytes)) or not isinstance(names, Collection):
        raise InputError(f"metrics must be a collection of metric names, got {names!r}")
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InputError(f"unknown segmentation metrics {unknown}; known: {list(known)}")
    return [known[name] for name in dict.fromkeys(names)]


def _score_label(
    pred: np.ndarray,
    ref: np.ndarray,
    label: int,
    box: np.ndarray,
    counts: tuple[int, int],
    *,
    chosen: list[Metric],
    spacing_mm: tuple[float, ...],
    tolerance_mm: float,
    surface: str,
) -> dict[str, float]:
    pair = LabelPair(_padded_mask(pred, label, box), _padded_mask(ref, label, box),
                     counts=counts, spacing_mm=spacing_mm, tolerance_mm=tolerance_mm,
                     surface=surface)
    return {m.name: float(m.compute(pair)) for m in chosen}


def score_case(
    pred: np.ndarray,
    ref: np.ndarray,
    *,
    spacing_mm: Collection[float],
    labels: Collection[int],
    nsd_tolerance_mm: float | Mapping[int, float],
    surface: str = "surfel",
    metrics: Collection[str] | None = None,
) -> dict[int, dict[str, float]]:
    """The segmentation metrics of every label of one case: Dice, NSD, HD, HD95 and ASSD (and
    any other metric registered in :mod:`scorers.metrics`), or those named in ``metrics``.

    ``pred`` and ``ref`` are integer (or bool) label maps of equal 2D/3D shape, in the same
    voxel grid; ``spacing_mm`` is the voxel size per axis in mm; ``labels`` the label values to
    score (other values are ignored); ``nsd_tolerance_mm`` the NSD tolerance τ in mm, one for
    all labels or ``{label: τ}``; ``surface`` is ``"surfel"`` (DeepMind surface-distance) or
    ``"voxel"`` (MONAI). Returns ``{label: {"dice", "nsd", "hd", "hd95", "assd"}}`` with
    distances in mm; NaN marks a distance that is undefined because exactly one mask is empty.
    Surface distances are computed only when a chosen metric needs them.
    Raises :class:`~scorers.errors.InputError` on invalid input.
    """
    pred = _check_array("prediction", pred)
    ref = _check_array("reference", ref)
    if pred.shape != ref.shape:
        raise InputError(f"prediction shape {pred.shape} does not match the reference {ref.shape}")
    spacing = _check_spacing(spacing_mm, pred.ndim)
    checked_labels = _check_labels(labels)
    tolerances = _check_tolerances(nsd_tolerance_mm, checked_labels)
    if surface not in SURFACES:
        raise InputError(f"surface must be one of {SURFACES}, got {surface!r}")
    chosen = _check_metrics(metrics)
    if not checked_labels:
        return {}
    if _fortran_ordered(pred) and _fortran_ordered(ref):
        # NIfTI data (and nibabel's arrays) are Fortran-ordered; the kernels scan C order.
        # Reversing the axes together with the spacing is the same geometry, read in C order.
        pred, ref, spacing = pred.T, ref.T, spacing[::-1]
    (pred_boxes, pred_counts), (ref_boxes, ref_counts) = both(
        lambda: label_boxes(pred, checked_labels), lambda: label_boxes(ref, checked_labels)
    )
    results: dict[int, dict[str, float]] = {}
    for slot, label in enumerate(checked_labels):
        counts = (int(pred_counts[slot]), int(ref_counts[slot]))
        if counts[0] == 0 or counts[1] == 0:
            results[label] = {m.name: m.empty_value(*counts) for m in chosen}
            continue
        box = np.stack(
            [np.minimum(pred_boxes[slot, :, 0], ref_boxes[slot, :, 0]),
             np.maximum(pred_boxes[slot, :, 1], ref_boxes[slot, :, 1])],
            axis=1,
        )
        results[label] = _score_label(
            pred, ref, label, box, counts, chosen=chosen,
            spacing_mm=spacing, tolerance_mm=tolerances[label], surface=surface,
        )
    return results
