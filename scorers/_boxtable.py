"""Ground truth and detections as flat index arrays, and the box-pair geometry on them.

Everything here is vectorized: boxes are grouped by (class, image) and every detection is
paired with every ground-truth box of its group in one pass of array operations.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scorers.boxes import Detections, unknown_image
from scorers.errors import InputError
from scorers.voc import AnnotatedImage


@dataclass(frozen=True)
class BoxTable:
    """Ground truth and detections with images and classes replaced by integer indices.

    ``image_names`` are sorted; ``class_names`` are the sorted labels of the ground-truth boxes
    (difficult ones included). Detections of any other label are dropped: they can never
    match and their class is left out of every mean. Kept detections stay in file order.
    """

    image_names: tuple[str, ...]
    class_names: tuple[str, ...]
    gt_image: np.ndarray
    gt_class: np.ndarray
    gt_boxes: np.ndarray
    gt_difficult: np.ndarray
    det_image: np.ndarray
    det_class: np.ndarray
    det_scores: np.ndarray
    det_boxes: np.ndarray

    def positives(self) -> np.ndarray:
        """Count of non-difficult ground-truth boxes, shape (n_images, n_classes), int64."""
        keep = ~self.gt_difficult
        counts = np.zeros((len(self.image_names), len(self.class_names)), dtype=np.int64)
        np.add.at(counts, (self.gt_image[keep], self.gt_class[keep]), 1)
        return counts


def build_table(ground_truth: Mapping[str, AnnotatedImage], detections: Detections) -> BoxTable:
    """Index ``ground_truth`` and ``detections``; a detection on an unknown image is an error."""
    image_names = tuple(sorted(ground_truth))
    boxes = [(index, box) for index, name in enumerate(image_names)
             for box in ground_truth[name].boxes]
    class_names = tuple(sorted({box.label for _, box in boxes}))
    class_index = {name: index for index, name in enumerate(class_names)}
    gt_image = np.fromiter((index for index, _ in boxes), dtype=np.int64, count=len(boxes))
    gt_class = np.fromiter((class_index[box.label] for _, box in boxes), dtype=np.int64,
                           count=len(boxes))
    gt_boxes = np.array([(box.xmin, box.ymin, box.xmax, box.ymax) for _, box in boxes],
                        dtype=np.float64).reshape(-1, 4)
    gt_difficult = np.fromiter((box.difficult for _, box in boxes), dtype=bool,
                               count=len(boxes))

    det_image = _lookup(detections.image_ids, dict(zip(image_names, range(len(image_names)),
                                                       strict=True)), unknown="image")
    det_class = _lookup(detections.labels, class_index, unknown=None)
    kept = np.flatnonzero(det_class >= 0)
    return BoxTable(
        image_names=image_names,
        class_names=class_names,
        gt_image=gt_image,
        gt_class=gt_class,
        gt_boxes=gt_boxes,
        gt_difficult=gt_difficult,
        det_image=det_image[kept],
        det_class=det_class[kept],
        det_scores=detections.scores[kept],
        det_boxes=detections.boxes[kept],
    )


def _lookup(values: np.ndarray, index: Mapping[str, int], *, unknown: str | None) -> np.ndarray:
    """Map each string to its index; -1 for strings not in ``index`` unless ``unknown`` names
    what they are, in which case the first one is reported as an :class:`InputError`."""
    mapped = np.fromiter((index.get(value, -1) for value in values), dtype=np.int64,
                         count=len(values))
    if unknown is not None and (mapped < 0).any():
        value = str(values[np.argmax(mapped < 0)])
        raise InputError("detections: " + (unknown_image(value, index) if unknown == "image"
                                            else f"unknown {unknown} {value!r}"))
    return mapped


class GroupedBoxes:
    """Ground-truth boxes indexed by group, for pairing detections with the boxes of their
    group (same class and image).

    ``det_key`` and ``gt_key`` are any non-negative integer keys (e.g. class × n_images +
    image); they are compacted once, so sparse keys cost no memory.
    """

    def __init__(self, det_key: np.ndarray, gt_key: np.ndarray) -> None:
        keys, inverse = np.unique(np.r_[det_key, gt_key], return_inverse=True)
        inverse = inverse.reshape(-1)
        self.det_group = inverse[: len(det_key)]
        gt_group = inverse[len(det_key):]
        self.gt_order = np.argsort(gt_group, kind="stable")
        self.gt_count = np.bincount(gt_group, minlength=len(keys))
        self.gt_start = np.cumsum(self.gt_count) - self.gt_count

    def pair_counts(self, dets: np.ndarray) -> np.ndarray:
        """Number of ground-truth boxes in the group of each detection in ``dets``."""
        return self.gt_count[self.det_group[dets]]

    def pairs(self, dets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All (detection, ground truth) pairs of the detections ``dets`` (indices), ordered by
        position in ``dets``, then by ground-truth index. Returns (position in ``dets``,
        ground-truth index)."""
        groups = self.det_group[dets]
        per_det = self.gt_count[groups]
        total = int(per_det.sum())
        position = np.repeat(np.arange(len(dets)), per_det)
        offset = np.arange(total) - np.repeat(np.cumsum(per_det) - per_det, per_det)
        return position, self.gt_order[np.repeat(self.gt_start[groups], per_det) + offset]


def chunks(per_item: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Split items into consecutive (start, stop) runs of at most ``limit`` total weight (a
    single heavier item gets a run of its own); bounds the memory of pair arrays."""
    ends = np.cumsum(per_item)
    runs, start = [], 0
    while start < len(per_item):
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + limit, side="right")), start + 1)
        runs.append((start, stop))
        start = stop
    return runs


def voc_iou(det: np.ndarray, gt: np.ndarray, *, plus_one: bool) -> np.ndarray:
    """Row-wise IoU of two (n, 4) arrays of ``xmin, ymin, xmax, ymax`` boxes, VOC devkit style.

    With ``plus_one`` a box covers the pixels ``xmin..xmax`` inclusive, so widths are
    ``xmax - xmin + 1`` (VOCevaldet.m). Non-overlapping boxes have IoU 0.
    """
    extra = 1.0 if plus_one else 0.0
    inter_w = np.maximum(np.minimum(det[:, 2], gt[:, 2]) - np.maximum(det[:, 0], gt[:, 0]) + extra,
                         0.0)
    inter_h = np.maximum(np.minimum(det[:, 3], gt[:, 3]) - np.maximum(det[:, 1], gt[:, 1]) + extra,
                         0.0)
    inter = inter_w * inter_h
    union = ((det[:, 2] - det[:, 0] + extra) * (det[:, 3] - det[:, 1] + extra)
             + (gt[:, 2] - gt[:, 0] + extra) * (gt[:, 3] - gt[:, 1] + extra) - inter)
    return inter / union


def coco_iou(det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two (n, 4) arrays of ``x, y, width, height`` boxes, as pycocotools.

    The operations and their order are those of pycocotools' ``bbIou`` (maskApi.c), so the
    result is bit-identical: ``w = min(x1 + w1, x2 + w2) - max(x1, x2)``, 0 unless positive.
    """
    inter_w = np.minimum(det[:, 2] + det[:, 0], gt[:, 2] + gt[:, 0]) - np.maximum(det[:, 0],
                                                                                  gt[:, 0])
    inter_h = np.minimum(det[:, 3] + det[:, 1], gt[:, 3] + gt[:, 1]) - np.maximum(det[:, 1],
                                                                                  gt[:, 1])
    overlap = (inter_w > 0) & (inter_h > 0)
    inter = inter_w * inter_h
    union = det[:, 2] * det[:, 3] + gt[:, 2] * gt[:, 3] - inter
    return np.where(overlap, inter / np.where(overlap, union, 1.0), 0.0)


def to_xywh(boxes: np.ndarray) -> np.ndarray:
    """``xmin, ymin, xmax, ymax`` → COCO ``x, y, width, height`` (no +1)."""
    out = boxes.copy()
    out[:, 2:] -= boxes[:, :2]
    return out
