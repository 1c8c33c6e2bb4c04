"""Detection metrics: PASCAL VOC average precision (with a fast bootstrap) and COCO AP.

VOC rules, as the devkit's ``VOCevaldet.m`` and ``VOCap.m``: per class, detections are
sorted by descending score (stable, so ties keep file order); each is assigned to the
ground-truth box of its image and class with the highest IoU (the first on ties); it is a true
positive when that IoU is ``>= iou_threshold`` and the box is not difficult and not yet taken,
ignored (neither TP nor FP) when the box is difficult, and a false positive otherwise. Recall
is over non-difficult boxes; classes without one are left out of the mean.

Because a detection's assignment depends only on its own image, :func:`match_voc` decides
every TP/FP flag once; :class:`VocMatches` then recomputes AP for any image weighting (a
bootstrap resample) with array operations only.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from scorers._boxtable import BoxTable, GroupedBoxes, build_table, chunks, voc_iou
from scorers._coco import evaluate_coco_table
from scorers.boxes import Detections
from scorers.voc import AnnotatedImage

__all__ = ["VocMatches", "evaluate_coco", "evaluate_voc", "match_voc", "voc_result"]

_EPS = np.finfo(np.float64).eps
_PAIRS_PER_CHUNK = 1 << 19
# The 11 recall levels of VOC2007 as the devkit's Python port builds them (np.arange), so
# 0.3, 0.6 and 0.7 are one ulp above the decimal values; see docs/detection.md.
_VOC2007_RECALLS = np.arange(0.0, 1.1, 0.1)


@dataclass(frozen=True, eq=False)
class VocMatches:
    """The VOC TP/FP decision of every detection, ready for AP under any image weighting.

    ``image_ids``: the ground truth's image names, sorted; weights refer to this order.
    ``classes``: sorted names of the classes with at least one non-difficult box.
    ``det_image[c]`` / ``det_tp[c]``: image index and TP flag of class c's scored detections
    (those matched to difficult boxes removed), in descending score order.
    ``positives``: non-difficult box count per image and class, shape (n_images, n_classes).
    """

    image_ids: tuple[str, ...]
    classes: tuple[str, ...]
    det_image: tuple[np.ndarray, ...]
    det_tp: tuple[np.ndarray, ...]
    positives: np.ndarray

    def average_precision(
        self, *, image_weights: np.ndarray | None = None, voc2007: bool = False
    ) -> np.ndarray:
        """AP per class (in ``classes`` order) with each image counted ``image_weights`` times.

        ``image_weights``: None (each image once), shape (n_images,) or (B, n_images) of
        non-negative integers, e.g. a bootstrap resample's multiplicities: an image drawn k
        times contributes its boxes and its detections k times (copies of a detection are
        adjacent in score order). Returns shape (n_classes,) or (B, n_classes); NaN where a
        class has no weighted positive. All-point interpolation (VOC2010+) unless ``voc2007``
        (11 recall levels). Vectorized over B.
        """
        weights, single = _check_weights(image_weights, len(self.image_ids))
        columns = np.ascontiguousarray(weights.T, dtype=np.float64)
        per_class = [
            _class_ap(columns, self.det_image[c], self.det_tp[c], self.positives[:, c],
                      voc2007=voc2007)
            for c in range(len(self.classes))
        ]
        ap = np.stack(per_class, axis=1) if per_class else np.zeros((len(weights), 0))
        return ap[0] if single else ap

    def mean_average_precision(
        self, *, image_weights: np.ndarray | None = None, voc2007: bool = False
    ) -> float | np.ndarray:
        """Mean of :meth:`average_precision` over the classes that have weighted positives.

        A float for None or 1-D weights, shape (B,) for 2-D weights; NaN when no class has a
        positive.
        """
        ap = self.average_precision(image_weights=image_weights, voc2007=voc2007)
        counted = np.isfinite(ap).sum(axis=-1)
        total = np.where(np.isfinite(ap), ap, 0.0).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / counted
        return float(mean) if np.ndim(mean) == 0 else mean

    def per_image(self) -> list[tuple[int, int, int, np.ndarray]]:
        """The decisions split by image and class, for storing per image: tuples (image index,
        class index, non-difficult boxes, detections), where detections is an (m, 2) int array
        of (position in the class's score order, TP flag) of that image's scored detections of
        that class. Only pairs with a box or a detection; :meth:`from_per_image` inverts it."""
        items = []
        for c in range(len(self.classes)):
            images = self.det_image[c]
            order = np.argsort(images, kind="stable")
            starts = np.searchsorted(images[order], np.arange(len(self.image_ids) + 1))
            for i in range(len(self.image_ids)):
                rows = order[starts[i]:starts[i + 1]]
                if self.positives[i, c] or len(rows):
                    pairs = np.stack([rows, self.det_tp[c][rows].astype(np.int64)], axis=1)
                    items.append((i, c, int(self.positives[i, c]), pairs))
        return items

    @classmethod
    def from_per_image(cls, image_ids, classes, items) -> "VocMatches":
        """The matches :meth:`per_image` split into ``items`` (any order), for ``image_ids``
        and ``classes`` as they were. Raises ValueError when the items do not fit together
        (positions of a class that are not 0 … m−1 exactly once)."""
        positives = np.zeros((len(image_ids), len(classes)), np.int64)
        found: list[list] = [[] for _ in classes]
        for i, c, boxes, pairs in items:
            positives[i, c] += boxes
            pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
            found[c].append(np.column_stack([pairs, np.full(len(pairs), i)]))
        det_image, det_tp = [], []
        for c, parts in enumerate(found):
            table = np.concatenate(parts) if parts else np.zeros((0, 3), np.int64)
            table = table[np.argsort(table[:, 0], kind="stable")]
            if not np.array_equal(table[:, 0], np.arange(len(table))):
                raise ValueError(f"class {classes[c]}: detection positions do not fit together")
            det_image.append(table[:, 2].astype(np.intp))
            det_tp.append(table[:, 1] == 1)
        return cls(image_ids=tuple(image_ids), classes=tuple(classes), det_image=tuple(det_image),
                   det_tp=tuple(det_tp), positives=positives)


def match_voc(
    ground_truth: Mapping[str, AnnotatedImage],
    detections: Detections,
    *,
    iou_threshold: float = 0.5,
    plus_one: bool = True,
) -> VocMatches:
    """Assign every detection to ground truth by the VOC devkit rules (see module docstring).

    ``ground_truth`` maps image names to their boxes; every detection's image must be one of
    them. IoU uses the devkit's +1-pixel widths unless ``plus_one`` is False. A detection is a
    TP when its best IoU is ``>= iou_threshold`` (``VOCevaldet.m``; the Python port uses
    ``>``). Detections of labels without ground-truth boxes are dropped.
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    table = build_table(ground_truth, detections)
    order = np.lexsort((np.arange(len(table.det_scores)), -table.det_scores, table.det_class))
    status = _voc_status(table, order, iou_threshold=iou_threshold, plus_one=plus_one)
    positives = table.positives()
    evaluated = np.flatnonzero(positives.sum(axis=0) > 0)
    bounds = np.searchsorted(table.det_class[order], np.arange(len(table.class_names) + 1))
    sorted_image = table.det_image[order]
    det_image, det_tp = [], []
    for c in evaluated:
        rows = np.arange(bounds[c], bounds[c + 1])
        rows = rows[status[rows] >= 0]
        det_image.append(sorted_image[rows])
        det_tp.append(status[rows] == 1)
    return VocMatches(
        image_ids=table.image_names,
        classes=tuple(table.class_names[c] for c in evaluated),
        det_image=tuple(det_image),
        det_tp=tuple(det_tp),
        positives=positives[:, evaluated],
    )


def evaluate_voc(
    ground_truth: Mapping[str, AnnotatedImage],
    detections: Detections,
    *,
    iou_threshold: float = 0.5,
    voc2007: bool = False,
    plus_one: bool = True,
) -> dict:
    """PASCAL VOC AP per class and their mean: ``{"mAP": float, "per_class": {name: AP}}``.

    ``per_class`` holds the classes with at least one non-difficult box; mAP is their mean
    (NaN if there is none). See :func:`match_voc` for the matching rules and
    :meth:`VocMatches.average_precision` for the interpolation.
    """
    matches = match_voc(ground_truth, detections, iou_threshold=iou_threshold, plus_one=plus_one)
    return voc_result(matches, voc2007=voc2007)


def voc_result(matches: VocMatches, *, voc2007: bool = False) -> dict:
    """:func:`evaluate_voc`'s result from matches already decided."""
    ap = matches.average_precision(voc2007=voc2007)
    return {
        "mAP": float(ap.mean()) if len(ap) else float("nan"),
        "per_class": {name: float(value) for name, value in zip(matches.classes, ap, strict=True)},
    }


def evaluate_coco(ground_truth: Mapping[str, AnnotatedImage], detections: Detections) -> dict:
    """COCO box AP as pycocotools' COCOeval (iouType "bbox", maxDets 100, area "all").

    Returns ``{"AP": AP@[.5:.95], "AP50": AP@.5, "AP75": AP@.75}``: precision at 101 recall
    levels, averaged over the 10 IoU thresholds 0.50:0.05:0.95 and over the classes with a
    non-difficult box (NaN when there is none; pycocotools reports -1). Boxes become
    ``[xmin, ymin, xmax - xmin, ymax - ymin]`` (no +1). Images are taken in sorted-name order
    (COCO image ids ascending), which decides ties in score across images. Difficult boxes
    are COCO "ignore" boxes: a detection matched to one is neither TP nor FP.
    """
    return evaluate_coco_table(build_table(ground_truth, detections))


def _voc_status(
    table: BoxTable, order: np.ndarray, *, iou_threshold: float, plus_one: bool
) -> np.ndarray:
    """Per sorted detection: 1 TP, 0 FP, -1 assigned to a difficult box (ignored)."""
    best_iou, best_gt = _best_boxes(table, order, plus_one=plus_one)
    status = np.zeros(len(order), dtype=np.int8)
    hit_dets = np.flatnonzero(best_iou >= iou_threshold)
    hit_gt = best_gt[hit_dets]
    difficult = table.gt_difficult[hit_gt]
    status[hit_dets[difficult]] = -1
    easy_dets, easy_gt = hit_dets[~difficult], hit_gt[~difficult]
    # Detections are in score order, so the first one assigned to a box takes it.
    _, first = np.unique(easy_gt, return_index=True)
    status[easy_dets[first]] = 1
    return status


def _best_boxes(
    table: BoxTable, order: np.ndarray, *, plus_one: bool
) -> tuple[np.ndarray, np.ndarray]:
    """For each detection in ``order``: the highest IoU with a box of its class and image
    (-1 if there is none) and that box (the first on ties, as VOCevaldet.m's strict
    ``ov > ovmax``). Pairs are built in chunks so memory stays bounded."""
    n_images = len(table.image_names)
    grouped = GroupedBoxes(table.det_class[order] * n_images + table.det_image[order],
                           table.gt_class * n_images + table.gt_image)
    best_iou = np.full(len(order), -1.0)
    best_gt = np.zeros(len(order), dtype=np.int64)
    det_boxes = table.det_boxes[order]
    for start, stop in chunks(grouped.pair_counts(np.arange(len(order))), _PAIRS_PER_CHUNK):
        position, gt = grouped.pairs(np.arange(start, stop))
        if len(position) == 0:
            continue
        iou = voc_iou(det_boxes[start + position], table.gt_boxes[gt], plus_one=plus_one)
        starts = np.flatnonzero(np.r_[True, position[1:] != position[:-1]])
        best = np.maximum.reduceat(iou, starts)
        is_best = iou == np.repeat(best, np.diff(np.r_[starts, len(iou)]))
        first = np.minimum.reduceat(np.where(is_best, np.arange(len(iou)), len(iou)), starts)
        dets = start + position[starts]
        best_iou[dets] = best
        best_gt[dets] = gt[first]
    return best_iou, best_gt


def _check_weights(image_weights: np.ndarray | None, n_images: int) -> tuple[np.ndarray, bool]:
    if image_weights is None:
        return np.ones((1, n_images), dtype=np.int64), True
    weights = np.asarray(image_weights)
    single = weights.ndim == 1
    weights = np.atleast_2d(weights)
    if weights.ndim != 2 or weights.shape[1] != n_images:
        raise ValueError(f"image_weights must have shape ({n_images},) or (B, {n_images}), "
                         f"got {np.shape(image_weights)}")
    if weights.dtype.kind not in "iub":
        if weights.dtype.kind != "f" or not np.array_equal(weights, np.round(weights)):
            raise ValueError("image_weights must be whole numbers")
    if (weights < 0).any():
        raise ValueError("image_weights must be non-negative")
    return weights.astype(np.int64, copy=False), single


def _class_ap(
    columns: np.ndarray, det_image: np.ndarray, det_tp: np.ndarray, positives: np.ndarray,
    *, voc2007: bool
) -> np.ndarray:
    """AP of one class for each column of ``columns`` (n_images, B) image weights, given the
    class's non-difficult box count per image ``positives``; NaN where none is weighted in.

    Precision is only evaluated at true positives: a false positive never raises the
    interpolated precision (it lowers precision at unchanged recall), so the envelope and
    the 11-point maxima over TP positions equal those over all positions.
    """
    tp_at = np.flatnonzero(det_tp)
    scored = tp_at[-1] + 1 if len(tp_at) else 0
    holders = np.flatnonzero(positives)
    # One sparse product gives, per weighting, the detections in each run ending at a TP
    # (rows 0..n_tp-1) and the number of positives (last row); no (detections × B) array.
    counts = scipy.sparse.csr_matrix(
        (np.r_[np.ones(scored), positives[holders]],
         (np.r_[np.searchsorted(tp_at, np.arange(scored)), np.full(len(holders), len(tp_at))],
          np.r_[det_image[:scored], holders])),
        shape=(len(tp_at) + 1, len(columns)),
    )
    sums = counts @ columns
    n_pos = sums[-1].copy()
    if len(tp_at) == 0:
        return np.where(n_pos > 0, 0.0, np.nan)
    # In-place steps: these (TP × B) arrays are large, and fresh ones cost page faults.
    seen = np.cumsum(sums[:-1], axis=0, out=sums[:-1])
    tp_weight = columns[det_image[tp_at]]
    true_pos = np.cumsum(tp_weight, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = true_pos / n_pos if voc2007 else None
        precision = np.divide(true_pos, np.maximum(seen, _EPS, out=seen), out=true_pos)
        envelope = np.maximum.accumulate(precision[::-1], axis=0)[::-1]
        if voc2007:
            ap = _eleven_point(envelope, recall)
        else:
            ap = np.einsum("ij,ij->j", tp_weight, envelope) / n_pos
    return np.where(n_pos > 0, ap, np.nan)


def _eleven_point(envelope: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """Mean over the 11 recall levels t of max{precision : recall >= t} (0 if none), given the
    precision envelope (suffix maxima) and the recall at each TP.

    Recall only grows, so the maximum for level t is the envelope at the first TP with
    recall >= t; TP j serves the levels in (recall[j-1], recall[j]].
    """
    served = np.searchsorted(_VOC2007_RECALLS, recall, side="right").astype(np.float64)
    served[1:] -= served[:-1].copy()
    return np.einsum("ij,ij->j", envelope, served) / 11.0
