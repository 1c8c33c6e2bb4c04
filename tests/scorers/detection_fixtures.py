"""Shared helpers for the detection tests: random cases, VOC XML writing, and the references.

The references are independent of Podium's code: pycocotools' COCOeval run on COCO dicts
built from the case, and a plain per-detection loop written from the VOC devkit's published
rules (VOCevaldet.m, VOCap.m and the devkit's Python port's voc_ap).
"""

import contextlib
import io
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from scorers.boxes import Detections
from scorers.voc import AnnotatedImage, Box


def random_case(
    rng: np.random.Generator,
    *,
    n_images: int = 6,
    classes: tuple[str, ...] = ("A", "B", "E", "G"),
    max_gt: int = 4,
    max_det: int = 8,
    min_det: int = 0,
    difficult_rate: float = 0.0,
    integer: bool = True,
    score_levels: int | None = None,
    size: int = 64,
) -> tuple[dict[str, AnnotatedImage], Detections]:
    """Random ground truth and detections: detections are jittered copies of ground-truth
    boxes (some duplicated, some with the wrong class) plus random boxes; some images have no
    boxes or no detections. ``score_levels`` rounds scores to force ties."""
    ground_truth = {}
    rows = []
    for i in range(n_images):
        name = f"img{i:03d}"
        boxes = [_random_box(rng, classes, size, integer, difficult_rate)
                 for _ in range(rng.integers(0, max_gt + 1))]
        ground_truth[name] = AnnotatedImage(image_id=name, width=size, height=size,
                                            boxes=tuple(boxes))
        for _ in range(rng.integers(min_det, max_det + 1)):
            if boxes and rng.random() < 0.7:
                base = boxes[rng.integers(len(boxes))]
                label = base.label if rng.random() < 0.85 else str(rng.choice(classes))
                coords = _jitter(rng, base, size, integer)
            else:
                label = str(rng.choice(classes))
                coords = _coords(rng, size, integer)
            score = rng.random()
            if score_levels:
                score = np.round(score * score_levels) / score_levels
            rows.append((name, label, score, *coords))
    return ground_truth, detections_from_rows(rows)


def detections_from_rows(rows: list[tuple]) -> Detections:
    """Detections from (image_id, label, score, xmin, ymin, xmax, ymax) tuples."""
    if not rows:
        return Detections(image_ids=[], labels=[], scores=[], boxes=np.zeros((0, 4)))
    image_ids, labels, scores, *coords = zip(*rows, strict=True)
    return Detections(image_ids=list(image_ids), labels=list(labels), scores=list(scores),
                      boxes=np.array(coords, dtype=float).T)


def _coords(rng, size, integer):
    x = np.sort(rng.uniform(0, size, 2))
    y = np.sort(rng.uniform(0, size, 2))
    if integer:
        x, y = np.floor(x), np.floor(y)
        x[1], y[1] = max(x[1], x[0] + 1), max(y[1], y[0] + 1)
    return float(x[0]), float(y[0]), float(x[1]), float(y[1])


def _random_box(rng, classes, size, integer, difficult_rate):
    x0, y0, x1, y1 = _coords(rng, size, integer)
    return Box(label=str(rng.choice(classes)), xmin=x0, ymin=y0, xmax=x1, ymax=y1,
               difficult=bool(rng.random() < difficult_rate))


def _jitter(rng, box, size, integer):
    scale = max(box.xmax - box.xmin, box.ymax - box.ymin) * 0.25
    coords = np.array([box.xmin, box.ymin, box.xmax, box.ymax]) + rng.normal(0, scale, 4)
    if integer:
        coords = np.round(coords)
    coords = np.clip(coords, 0, size)
    x0, x1 = sorted(coords[[0, 2]])
    y0, y1 = sorted(coords[[1, 3]])
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def write_voc_xml(folder: Path, image: AnnotatedImage, *, difficult_tag: str = "difficult") -> Path:
    """Write ``image`` as a VOC XML file named after its image id."""
    objects = "".join(
        f"<object><name>{box.label}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<{difficult_tag}>{int(box.difficult)}</{difficult_tag}><bndbox>"
        f"<xmin>{box.xmin:g}</xmin><ymin>{box.ymin:g}</ymin><xmax>{box.xmax:g}</xmax>"
        f"<ymax>{box.ymax:g}</ymax></bndbox></object>"
        for box in image.boxes
    )
    path = folder / f"{image.image_id}.xml"
    path.write_text(
        '<annotation verified="no"><folder>Unknow</folder><filename>Unknow</filename>'
        f"<size><width>{image.width}</width><height>{image.height}</height><depth>1</depth>"
        f"</size><segmented>0</segmented>{objects}</annotation>"
    )
    return path


# --- pycocotools reference -------------------------------------------------------------------

class _DifficultAsIgnore(COCOeval):
    """COCOeval whose ground-truth "ignore" flag comes from a "difficult" key.

    COCOeval._prepare overwrites "ignore" with "iscrowd"; this restores pycocotools' own
    ignore mechanism (the one area ranges use) for difficult boxes, nothing else.
    """

    def _prepare(self):
        super()._prepare()
        for annotations in self._gts.values():
            for annotation in annotations:
                annotation["ignore"] = annotation.get("difficult", 0)


def coco_reference(ground_truth: dict[str, AnnotatedImage], detections: Detections) -> dict:
    """AP, AP50, AP75 from pycocotools COCOeval (bbox), images ids 1.. in sorted-name order,
    category ids 1.. in sorted-class order, difficult boxes as ignored ground truth."""
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
        {"image_id": image_id[str(i)], "category_id": category_id[str(label)],
         "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
         "score": float(s)}
        for i, label, s, b in zip(detections.image_ids, detections.labels, detections.scores,
                                  detections.boxes, strict=True)
        if label in category_id
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = dataset
        truth.createIndex()
        predicted = truth.loadRes(results) if results else COCO()
        if not results:
            predicted.dataset = {"images": dataset["images"], "categories":
                                 dataset["categories"], "annotations": []}
            predicted.createIndex()
        evaluation = _DifficultAsIgnore(truth, predicted, iouType="bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return {"AP": evaluation.stats[0], "AP50": evaluation.stats[1], "AP75": evaluation.stats[2]}


# --- VOC devkit reference --------------------------------------------------------------------

def voc_reference(
    ground_truth: dict[str, AnnotatedImage],
    detections: Detections,
    *,
    iou_threshold: float = 0.5,
    voc2007: bool = False,
    plus_one: bool = True,
) -> dict[str, float]:
    """AP per class by a direct loop over detections, as VOCevaldet.m does it."""
    extra = 1.0 if plus_one else 0.0
    classes = sorted({box.label for image in ground_truth.values() for box in image.boxes
                      if not box.difficult})
    result = {}
    for cls in classes:
        boxes = {name: [b for b in image.boxes if b.label == cls]
                 for name, image in ground_truth.items()}
        taken = {name: [False] * len(found) for name, found in boxes.items()}
        n_pos = sum(not b.difficult for found in boxes.values() for b in found)
        mine = [(float(s), i, str(n), b) for i, (n, label, s, b) in enumerate(
            zip(detections.image_ids, detections.labels, detections.scores, detections.boxes,
                strict=True)) if label == cls]
        mine.sort(key=lambda row: (-row[0], row[1]))  # stable descending score, like MATLAB
        tp, fp = [], []
        for _, _, name, det in mine:
            best, best_j = -np.inf, -1
            for j, gt in enumerate(boxes[name]):
                iw = min(det[2], gt.xmax) - max(det[0], gt.xmin) + extra
                ih = min(det[3], gt.ymax) - max(det[1], gt.ymin) + extra
                if iw > 0 and ih > 0:
                    union = ((det[2] - det[0] + extra) * (det[3] - det[1] + extra)
                             + (gt.xmax - gt.xmin + extra) * (gt.ymax - gt.ymin + extra)
                             - iw * ih)
                    overlap = iw * ih / union
                    if overlap > best:
                        best, best_j = overlap, j
            if best >= iou_threshold:
                if boxes[name][best_j].difficult:
                    tp.append(0.0)
                    fp.append(0.0)
                elif not taken[name][best_j]:
                    taken[name][best_j] = True
                    tp.append(1.0)
                    fp.append(0.0)
                else:
                    tp.append(0.0)
                    fp.append(1.0)
            else:
                tp.append(0.0)
                fp.append(1.0)
        tp_cum, fp_cum = np.cumsum(tp), np.cumsum(fp)
        recall = tp_cum / float(n_pos)
        precision = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
        result[cls] = _voc_ap(recall, precision, voc2007)
    return result


def _voc_ap(recall, precision, voc2007):
    if voc2007:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = np.max(precision[recall >= t]) if np.sum(recall >= t) else 0.0
            ap += p / 11.0
        return ap
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    change = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[change + 1] - mrec[change]) * mpre[change + 1]))
