import numpy as np
import pytest

from leaderboard.stats.detection import detection_bootstrap
from leaderboard.stats.errors import StatsInputError
from leaderboard.stats.resamples import ResampleTable
from leaderboard.stats.ties import rank_scores
from scorers.boxes import Detections
from scorers.detection import match_voc
from scorers.voc import AnnotatedImage, Box


def scene(seed, n_images=7):
    rng = np.random.default_rng(seed)
    truth = {}
    for i in range(n_images):
        boxes = []
        for _ in range(rng.integers(0, 3)):
            x, y = rng.integers(0, 80, size=2)
            boxes.append(
                Box(
                    label=str(rng.choice(["A", "G"])),
                    xmin=x,
                    ymin=y,
                    xmax=x + 20,
                    ymax=y + 20,
                    difficult=bool(rng.random() < 0.1),
                )
            )
        truth[f"img{i}"] = AnnotatedImage(
            image_id=f"img{i}", width=128, height=128, boxes=tuple(boxes)
        )
    return truth


def guesses(truth, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for image, annotated in truth.items():
        for box in annotated.boxes:
            if rng.random() < 0.8:
                shift = rng.integers(-6, 7, size=2)
                rows.append(
                    (
                        image,
                        box.label,
                        float(rng.random()),
                        (
                            box.xmin + shift[0],
                            box.ymin + shift[1],
                            box.xmax + shift[0],
                            box.ymax + shift[1],
                        ),
                    )
                )
        if rng.random() < 0.5:
            rows.append((image, "A", float(rng.random()), (1, 1, 30, 30)))
    return rows


def detections(rows, rename=lambda image: image):
    return Detections(
        image_ids=[rename(r[0]) for r in rows],
        labels=[r[1] for r in rows],
        scores=[r[2] for r in rows],
        boxes=[r[3] for r in rows],
    )


def samples(draws):
    rows = [(b + 1, d + 1, image) for b, boot in enumerate(draws) for d, image in enumerate(boot)]
    return ResampleTable.from_columns(
        task=["det"] * len(rows),
        boot=[r[0] for r in rows],
        draw=[r[1] for r in rows],
        case=[r[2] for r in rows],
    )


def copied_map(truth, rows, draws):
    """mAP on ground truth and detections with every drawn image copied under a new id."""
    copies = {}
    copied_rows = []
    for d, image in enumerate(draws):
        name = f"{image}#{d}"
        copies[name] = AnnotatedImage(
            image_id=name, width=128, height=128, boxes=truth[image].boxes
        )
        copied_rows += [(name, *row[1:]) for row in rows if row[0] == image]
    return match_voc(copies, detections(copied_rows)).mean_average_precision()


def test_detection_bootstrap_equals_map_recomputed_on_copied_images():
    truth = scene(1)
    algorithms = {name: guesses(truth, seed) for seed, name in enumerate(["r-cnn", "ssd", "yolo"])}
    matches = {name: match_voc(truth, detections(rows)) for name, rows in algorithms.items()}
    rng = np.random.default_rng(2)
    draws = [list(rng.choice(sorted(truth), size=len(truth))) for _ in range(5)]
    result = detection_bootstrap(matches, task="det", samples=samples(draws))
    for b, boot in enumerate(draws):
        expected = [copied_map(truth, algorithms[name], boot) for name in result.algorithms]
        np.testing.assert_allclose(result.scores[b], expected, rtol=1e-12)
        assert (
            result.ranks[b].tolist() == rank_scores(np.array(expected), larger_better=True).tolist()
        )
    full = [matches[name].mean_average_precision() for name in result.algorithms]
    np.testing.assert_allclose(result.full.score, full)
    assert result.aggregate == "mAP"


def test_seeded_image_resamples_are_shared_and_reproducible():
    truth = scene(3)
    matches = {
        name: match_voc(truth, detections(guesses(truth, seed)))
        for seed, name in enumerate(["a", "b"])
    }
    one = detection_bootstrap(matches, task="det", n_boot=40, seed=9)
    two = detection_bootstrap(matches, task="det", n_boot=40, seed=9)
    np.testing.assert_array_equal(one.scores, two.scores)
    assert len(one.samples.case) == 40 * len(truth)
    assert one.summary().p_rank.shape == (2, 2)


def test_algorithms_must_be_matched_against_the_same_images():
    truth = scene(4)
    fewer = {k: v for k, v in truth.items() if k != "img0"}
    matches = {
        "a": match_voc(truth, detections(guesses(truth, 0))),
        "b": match_voc(fewer, detections([r for r in guesses(truth, 1) if r[0] != "img0"])),
    }
    with pytest.raises(StatsInputError, match="other images"):
        detection_bootstrap(matches, task="det", n_boot=5, seed=1)
