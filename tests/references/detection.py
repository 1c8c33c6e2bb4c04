"""Detection AP references, shared by the detection tests and ``benchmarks/_detection_cases.py``.

Both are independent of Podium's code. ``voc_reference`` is the PASCAL VOC devkit's algorithm
(``VOCevaldet.m`` and ``VOCap.m``, in the structure of the devkit's Python port ``voc_eval``:
per class, a loop over the ranked detections, each compared with its image's boxes in one
numpy expression), written here from the published rules. ``coco_reference`` runs
pycocotools' COCOeval itself on COCO dicts built from the case.
"""

import contextlib
import io
from collections.abc import Mapping

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from scorers.boxes import Detections
from scorers.voc import AnnotatedImage

# --- VOC devkit --------------------------------------------------------------------------------


def voc_reference(
    ground_truth: Mapping[str, AnnotatedImage],
    detections: Detections,
    *,
    iou_threshold: float = 0.5,
    voc2007: bool = False,
    plus_one: bool = True,
) -> dict[str, float]:
    """AP per class, as the VOC devkit computes it, for the classes with a non-difficult box.

    Detections are ranked by descending score with a stable sort (MATLAB's ``sort``); each is
    assigned to the box of its image and class with the highest IoU (the first on equal IoU):
    IoU ``>= iou_threshold`` on a difficult box is ignored, on a free box a TP that takes it,
    on a taken box an FP; below the threshold an FP. Widths are ``xmax - xmin + 1`` when
    ``plus_one`` (the devkit's inclusive pixels). AP is all-point interpolated, or the 11-point
    mean at ``np.arange(0, 1.1, 0.1)`` when ``voc2007``.
    """
    classes = sorted({box.label for image in ground_truth.values() for box in image.boxes
                      if not box.difficult})
    extra = 1.0 if plus_one else 0.0
    return {cls: _class_ap(ground_truth, detections, cls, iou_threshold, voc2007, extra)
            for cls in classes}


def _class_ap(ground_truth, detections, cls, iou_threshold, voc2007, extra):
    records, n_pos = {}, 0
    for name, image in ground_truth.items():
        boxes = [box for box in image.boxes if box.label == cls]
        n_pos += sum(not box.difficult for box in boxes)
        records[name] = {
            "bbox": np.array([[b.xmin, b.ymin, b.xmax, b.ymax] for b in boxes]).reshape(-1, 4),
            "difficult": [box.difficult for box in boxes],
            "taken": [False] * len(boxes),
        }
    rows = np.flatnonzero(detections.labels == cls)
    rows = rows[np.argsort(-detections.scores[rows], kind="stable")]
    tp, fp = np.zeros(len(rows)), np.zeros(len(rows))
    # Rows as Python floats: the same arithmetic, without numpy-scalar overhead per detection.
    for d, (name, det) in enumerate(zip(detections.image_ids[rows].tolist(),
                                        detections.boxes[rows].tolist(), strict=True)):
        record = records[name]
        if not len(record["bbox"]):
            fp[d] = 1.0
            continue
        overlaps = _iou(det, record["bbox"], extra)
        best = int(overlaps.argmax())
        if overlaps[best] < iou_threshold:
            fp[d] = 1.0
        elif record["difficult"][best]:
            continue
        elif record["taken"][best]:
            fp[d] = 1.0
        else:
            record["taken"][best] = True
            tp[d] = 1.0
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    recall = tp / float(n_pos)
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return _average_precision(recall, precision, voc2007)


def _iou(det: list[float], boxes: np.ndarray, extra: float) -> np.ndarray:
    """IoU of one detection with each of (n, 4) boxes, widths ``xmax - xmin + extra``."""
    iw = np.maximum(np.minimum(boxes[:, 2], det[2]) - np.maximum(boxes[:, 0], det[0]) + extra, 0.0)
    ih = np.maximum(np.minimum(boxes[:, 3], det[3]) - np.maximum(boxes[:, 1], det[1]) + extra, 0.0)
    intersection = iw * ih
    union = ((det[2] - det[0] + extra) * (det[3] - det[1] + extra)
             + (boxes[:, 2] - boxes[:, 0] + extra) * (boxes[:, 3] - boxes[:, 1] + extra)
             - intersection)
    return intersection / union


def _average_precision(recall: np.ndarray, precision: np.ndarray, voc2007: bool) -> float:
    if voc2007:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            above = recall >= t
            ap += (np.max(precision[above]) if above.any() else 0.0) / 11.0
        return float(ap)
    levels = np.concatenate(([0.0], recall, [1.0]))
    envelope = np.concatenate(([0.0], precision, [0.0]))
    envelope = np.maximum.accumulate(envelope[::-1])[::-1]
    steps = np.flatnonzero(levels[1:] != levels[:-1])
    return float(np.sum((levels[steps + 1] - levels[steps]) * envelope[steps + 1]))


# --- pycocotools COCOeval ----------------------------------------------------------------------


class _DifficultAsIgnore(COCOeval):
    """COCOeval that takes a ground-truth box's "ignore" flag from its "difficult" key.

    ``COCOeval._prepare`` sets "ignore" from "iscrowd"; setting it afterwards reuses
    pycocotools' own ignore mechanism (the one area ranges use) for difficult boxes.
    """

    def _prepare(self):
        super()._prepare()
        for annotations in self._gts.values():
            for annotation in annotations:
                annotation["ignore"] = annotation.get("difficult", 0)


def coco_reference(
    ground_truth: Mapping[str, AnnotatedImage], detections: Detections
) -> dict[str, float]:
    """``{"AP", "AP50", "AP75"}`` from pycocotools' COCOeval (bbox, its summarize()).

    Image ids are 1.. in sorted-name order, category ids 1.. in sorted-class order, boxes
    ``[xmin, ymin, xmax - xmin, ymax - ymin]``, difficult boxes ignored ground truth;
    detections of classes without ground truth are dropped, as Podium drops them.
    """
    names = sorted(ground_truth)
    image_id = {name: i + 1 for i, name in enumerate(names)}
    classes = sorted({box.label for image in ground_truth.values() for box in image.boxes})
    category_id = {name: k + 1 for k, name in enumerate(classes)}
    annotations = []
    for name in names:
        for box in ground_truth[name].boxes:
            w, h = box.xmax - box.xmin, box.ymax - box.ymin
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id[name],
                "category_id": category_id[box.label], "bbox": [box.xmin, box.ymin, w, h],
                "area": w * h, "iscrowd": 0, "difficult": int(box.difficult),
            })
    dataset = {
        "images": [{"id": image_id[name]} for name in names],
        "categories": [{"id": category_id[name], "name": name} for name in classes],
        "annotations": annotations,
    }
    results = [
        {"image_id": image_id[name], "category_id": category_id[label],
         "bbox": [x0, y0, x1 - x0, y1 - y0], "score": score}
        for name, label, score, (x0, y0, x1, y1) in zip(
            detections.image_ids.tolist(), detections.labels.tolist(),
            detections.scores.tolist(), detections.boxes.tolist(), strict=True)
        if label in category_id
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        truth = _coco(dataset)
        # loadRes rejects an empty list: no detections is a results set without annotations.
        predicted = truth.loadRes(results) if results else _coco({**dataset, "annotations": []})
        evaluation = _DifficultAsIgnore(truth, predicted, iouType="bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    ap, ap50, ap75 = evaluation.stats[:3]
    return {"AP": float(ap), "AP50": float(ap50), "AP75": float(ap75)}


def _coco(dataset: dict) -> COCO:
    coco = COCO()
    coco.dataset = dataset
    coco.createIndex()
    return coco
