"""Detection benchmark: Podium vs pycocotools COCOeval and the VOC devkit's algorithm.

The set is the issue's: 1,000 images of 512×512 pixels, 2 ground-truth and 10 predicted boxes
each, 4 classes (A, B, E, G as in Lung-PET-CT-Dx). Predictions are jittered ground-truth boxes
(some with the wrong class) and random boxes. All timings are medians over repeats in the same
process, inputs already in memory (file reading is not timed). The references are the ones
the tests compare Podium with, in ``tests/references/detection.py``.

Run on its own: ``python benchmarks/_detection_cases.py``.
"""

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scorers.boxes import Detections
from scorers.detection import evaluate_coco, evaluate_voc, match_voc
from scorers.voc import AnnotatedImage, Box
from tests.references.detection import coco_reference, voc_reference

CLASSES = ("A", "B", "E", "G")


def detection_benchmark() -> list[dict]:
    """Rows {"what", "podium_s", "reference", "reference_s", "ratio"} (ratio = reference /
    Podium, so > 1 means Podium is faster), measured in this call."""
    ground_truth, detections = build_case(np.random.default_rng(2026))

    def podium() -> None:
        evaluate_voc(ground_truth, detections)
        evaluate_coco(ground_truth, detections)

    def pycocotools_eval() -> None:
        coco_reference(ground_truth, detections)

    def devkit_loop() -> None:
        voc_reference(ground_truth, detections)

    podium_both = _median_seconds(podium, repeats=15)
    podium_voc = _median_seconds(lambda: evaluate_voc(ground_truth, detections), repeats=15)
    podium_coco = _median_seconds(lambda: evaluate_coco(ground_truth, detections), repeats=15)
    rows = [
        _row("detection VOC AP50 + COCO AP@[.5:.95], 1000 images", podium_both,
             "pycocotools COCOeval (COCO AP only)", _median_seconds(pycocotools_eval, repeats=3)),
        _row("detection COCO AP@[.5:.95] only", podium_coco, "pycocotools COCOeval",
             _median_seconds(pycocotools_eval, repeats=3)),
        _row("detection VOC AP50 only", podium_voc, "devkit-style Python loop",
             _median_seconds(devkit_loop, repeats=3)),
    ]
    rows.append(_bootstrap_row(ground_truth, detections))
    return rows


def build_case(
    rng: np.random.Generator, *, n_images: int = 1000, n_gt: int = 2, n_pred: int = 10,
    size: int = 512,
) -> tuple[dict[str, AnnotatedImage], Detections]:
    """The benchmark set: integer VOC boxes, predictions around the ground truth."""
    ground_truth = {}
    rows = []
    for i in range(n_images):
        name = f"1.3.6.1.4.1.14519.5.2.1.6655.2359.{100000 + i}"
        boxes = []
        for _ in range(n_gt):
            x0, y0 = rng.integers(1, size - 80, 2)
            w, h = rng.integers(10, 80, 2)
            boxes.append(Box(label=str(rng.choice(CLASSES)), xmin=float(x0), ymin=float(y0),
                             xmax=float(x0 + w), ymax=float(y0 + h)))
        ground_truth[name] = AnnotatedImage(image_id=name, width=size, height=size,
                                            boxes=tuple(boxes))
        for _ in range(n_pred):
            if rng.random() < 0.6:
                base = boxes[rng.integers(n_gt)]
                label = base.label if rng.random() < 0.8 else str(rng.choice(CLASSES))
                shift = rng.normal(0, 4, 4)
                x0, y0 = base.xmin + shift[0], base.ymin + shift[1]
                x1 = max(base.xmax + shift[2], x0 + 2)
                y1 = max(base.ymax + shift[3], y0 + 2)
            else:
                label = str(rng.choice(CLASSES))
                x0, y0 = rng.uniform(0, size - 60, 2)
                x1, y1 = x0 + rng.uniform(5, 60), y0 + rng.uniform(5, 60)
            rows.append((name, label, float(rng.random()), round(x0), round(y0), round(x1),
                         round(y1)))
    image_ids, labels, scores, *coords = zip(*rows, strict=True)
    detections = Detections(image_ids=image_ids, labels=labels, scores=scores,
                            boxes=np.array(coords, dtype=float).T)
    return ground_truth, detections


def _bootstrap_row(ground_truth: dict[str, AnnotatedImage], detections: Detections) -> dict:
    """1,000 bootstrap resamples of mAP over images: Podium's weighted AP vs re-scoring each
    resample with evaluate_voc (timed on 10 resamples, scaled to 1,000)."""
    rng = np.random.default_rng(7)
    names = sorted(ground_truth)
    n = len(names)
    draws = rng.integers(0, n, size=(1000, n))
    weights = np.zeros((1000, n), dtype=np.int64)
    np.add.at(weights, (np.repeat(np.arange(1000), n), draws.reshape(-1)), 1)

    def podium() -> None:
        match_voc(ground_truth, detections).mean_average_precision(image_weights=weights)

    def per_resample() -> None:
        for draw in draws[:10]:
            _score_resample(ground_truth, detections, by_image, [names[i] for i in draw])

    by_image: dict[str, list[int]] = {name: [] for name in names}
    for row, name in enumerate(detections.image_ids):
        by_image[name].append(row)
    return _row("detection bootstrap of VOC mAP, 1000 resamples", _median_seconds(podium, 5),
                "evaluate_voc per resample (10 timed, ×100)",
                100 * _median_seconds(per_resample, repeats=1))


def _score_resample(
    ground_truth: dict[str, AnnotatedImage], detections: Detections,
    by_image: dict[str, list[int]], drawn: list[str],
) -> float:
    """mAP of one resample built explicitly: the k-th drawn image becomes a copy "name#k"."""
    copies, rows, ids = {}, [], []
    for k, name in enumerate(drawn):
        copy = f"{name}#{k}"
        copies[copy] = AnnotatedImage(image_id=copy, width=512, height=512,
                                      boxes=ground_truth[name].boxes)
        rows.extend(by_image[name])
        ids.extend([copy] * len(by_image[name]))
    resampled = Detections(image_ids=ids, labels=detections.labels[rows],
                           scores=detections.scores[rows], boxes=detections.boxes[rows])
    return evaluate_voc(copies, resampled)["mAP"]


def _median_seconds(function: Callable[[], object], repeats: int) -> float:
    function()  # warm-up: imports, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _row(what: str, podium_s: float, reference: str, reference_s: float) -> dict:
    return {"what": what, "podium_s": podium_s, "reference": reference,
            "reference_s": reference_s, "ratio": reference_s / podium_s}


def main() -> None:
    """Print the benchmark rows as a Markdown table."""
    print("| what | Podium (s) | reference | reference (s) | ratio |")
    print("|---|---|---|---|---|")
    for row in detection_benchmark():
        print(f"| {row['what']} | {row['podium_s']:.4f} | {row['reference']} | "
              f"{row['reference_s']:.3f} | {row['ratio']:.0f}× |")


if __name__ == "__main__":
    main()
