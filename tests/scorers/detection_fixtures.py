"""Shared helpers for the detection tests: random cases and VOC XML writing.

The references they are compared with (the VOC devkit, pycocotools' COCOeval) are in
``tests/references/detection.py``.
"""

from pathlib import Path

import numpy as np

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
