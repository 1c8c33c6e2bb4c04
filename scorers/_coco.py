"""COCO box AP on a :class:`BoxTable`, reproducing pycocotools' COCOeval step by step.

COCOeval (bbox, area "all", maxDets 100) per class and image keeps the 100 best-scored
detections (stable sort), orders ground truth with ignored boxes last, and for every IoU
threshold t lets each detection in score order take the unmatched ground-truth box of highest
IoU >= t (the last one on ties), preferring regular boxes to ignored ones. Accumulation sorts
each class's detections by score over all images (ties: image order, then rank in the image)
and reads the interpolated precision at 101 recall levels.

The matching is sequential within an image, so it runs as one vectorized step per detection
rank (at most 100 steps), each step handling that rank's detection of every (class, image)
group and every threshold at once.
"""

import itertools

import numpy as np

from scorers._boxtable import BoxTable, GroupedBoxes, coco_iou, to_xywh

# Built exactly as pycocotools' Params.setDetParams builds them.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_LEVELS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETECTIONS = 100
MAX_AREA = 1e5**2  # the upper bound of COCOeval's area range "all"

_UNMATCHED, _MATCHED, _MATCHED_IGNORED = -1, 0, 1


def evaluate_coco_table(table: BoxTable) -> dict:
    """``{"AP", "AP50", "AP75"}`` of ``table`` as COCOeval.summarize() reports them."""
    n_images = len(table.image_names)
    gt_xywh = to_xywh(table.gt_boxes)
    det_xywh = to_xywh(table.det_boxes)
    gt_ignore = table.gt_difficult | (gt_xywh[:, 2] * gt_xywh[:, 3] > MAX_AREA)

    det_rank, det_key = _ranks(table, n_images)
    kept = np.flatnonzero(det_rank < MAX_DETECTIONS)
    # Within a group, regular boxes first, then ignored ones, each in file order.
    gt_order = np.lexsort((np.arange(len(gt_ignore)), gt_ignore))
    outcome = _match(
        det_key=det_key[kept],
        det_rank=det_rank[kept],
        det_xywh=det_xywh[kept],
        gt_key=(table.gt_class * n_images + table.gt_image)[gt_order],
        gt_xywh=gt_xywh[gt_order],
        gt_ignore=gt_ignore[gt_order],
    )
    det_area_out = det_xywh[kept, 2] * det_xywh[kept, 3] > MAX_AREA
    precision = _accumulate(table, kept, outcome, det_area_out, gt_ignore)
    return {
        "AP": _summarize(precision),
        "AP50": _summarize(precision[IOU_THRESHOLDS == 0.5]),
        "AP75": _summarize(precision[IOU_THRESHOLDS == 0.75]),
    }


def _ranks(table: BoxTable, n_images: int) -> tuple[np.ndarray, np.ndarray]:
    """Each detection's rank by score within its (class, image) group, and the group key."""
    n = len(table.det_scores)
    group = table.det_class * n_images + table.det_image
    order = np.lexsort((np.arange(n), -table.det_scores, group))
    sorted_group = group[order]
    first = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(first, np.diff(np.r_[first, n]))
    return rank, group


def _match(
    *,
    det_key: np.ndarray,
    det_rank: np.ndarray,
    det_xywh: np.ndarray,
    gt_key: np.ndarray,
    gt_xywh: np.ndarray,
    gt_ignore: np.ndarray,
) -> np.ndarray:
    """COCOeval.evaluateImg's greedy matching: per threshold and detection, -1 unmatched,
    0 matched to a regular box, 1 matched to an ignored box. Shape (T, n_detections).

    Step k pairs the rank-k detection of every group with its group's boxes, so a step holds
    at most one pair per ground-truth box."""
    thresholds = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)[:, None]
    outcome = np.full((len(thresholds), len(det_key)), _UNMATCHED, dtype=np.int8)
    if len(det_key) == 0 or len(gt_key) == 0:
        return outcome
    grouped = GroupedBoxes(det_key, gt_key)
    by_rank = np.argsort(det_rank, kind="stable")
    bounds = np.searchsorted(det_rank[by_rank], np.arange(det_rank.max() + 2))
    taken = np.zeros((len(thresholds), len(gt_key)), dtype=bool)
    for low, high in itertools.pairwise(bounds):
        position, gts = grouped.pairs(by_rank[low:high])
        if len(position) == 0:
            continue
        dets = by_rank[low:high][position]
        values = coco_iou(det_xywh[dets], gt_xywh[gts])
        starts = np.flatnonzero(np.r_[True, position[1:] != position[:-1]])
        lengths = np.diff(np.r_[starts, len(position)])
        ignored = gt_ignore[gts]
        candidate = (values >= thresholds) & ~taken[:, gts]
        best_regular = np.maximum.reduceat(np.where(candidate & ~ignored, values, -1.0), starts,
                                           axis=1)
        best_ignored = np.maximum.reduceat(np.where(candidate & ignored, values, -1.0), starts,
                                           axis=1)
        regular = best_regular >= 0
        target = np.where(regular, best_regular, best_ignored)
        chosen = (candidate & (values == np.repeat(target, lengths, axis=1))
                  & (ignored != np.repeat(regular, lengths, axis=1)))
        last = np.maximum.reduceat(np.where(chosen, np.arange(len(gts)), -1), starts, axis=1)
        t_index, s_index = np.nonzero(target >= 0)
        taken[t_index, gts[last[t_index, s_index]]] = True
        outcome[t_index, dets[starts[s_index]]] = np.where(
            regular[t_index, s_index], _MATCHED, _MATCHED_IGNORED)
    return outcome


def _accumulate(
    table: BoxTable,
    kept: np.ndarray,
    outcome: np.ndarray,
    det_area_out: np.ndarray,
    gt_ignore: np.ndarray,
) -> np.ndarray:
    """COCOeval.accumulate's precision array, shape (T, R, K); -1 for classes without a
    regular ground-truth box."""
    n_classes = len(table.class_names)
    precision = -np.ones((len(IOU_THRESHOLDS), len(RECALL_LEVELS), n_classes))
    n_regular = np.bincount(table.gt_class[~gt_ignore], minlength=n_classes)
    det_class = table.det_class[kept]
    order = np.lexsort((np.arange(len(kept)), table.det_image[kept], -table.det_scores[kept],
                        det_class))
    class_bounds = np.searchsorted(det_class[order], np.arange(n_classes + 1))
    for c in np.flatnonzero(n_regular > 0):
        rows = order[class_bounds[c]:class_bounds[c + 1]]
        result = outcome[:, rows]
        tp_sum = np.cumsum(result == _MATCHED, axis=1).astype(np.float64)
        fp_sum = np.cumsum((result == _UNMATCHED) & ~det_area_out[rows], axis=1).astype(np.float64)
        recall = tp_sum / n_regular[c]
        interpolated = tp_sum / (fp_sum + tp_sum + np.spacing(1))
        interpolated = np.maximum.accumulate(interpolated[:, ::-1], axis=1)[:, ::-1]
        for t in range(len(IOU_THRESHOLDS)):
            at = np.searchsorted(recall[t], RECALL_LEVELS, side="left")
            reached = at < len(rows)
            precision[t, :, c] = 0.0
            precision[t, reached, c] = interpolated[t, at[reached]]
    return precision


def _summarize(precision: np.ndarray) -> float:
    """COCOeval.summarize's mean over the valid entries; NaN where it prints -1."""
    valid = precision[precision > -1]
    return float(np.mean(valid)) if valid.size else float("nan")
