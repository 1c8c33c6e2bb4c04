"""VOC decisions split per image and class (as the platform stores them at scoring time) and
put back together are the same decisions: every AP, every bootstrap weighting."""

import numpy as np
import pytest

from scorers.detection import VocMatches, match_voc
from tests.scorers.detection_fixtures import random_case


def same(a: VocMatches, b: VocMatches) -> bool:
    return (a.image_ids == b.image_ids and a.classes == b.classes
            and np.array_equal(a.positives, b.positives)
            and all(np.array_equal(x, y) for x, y in zip(a.det_image, b.det_image, strict=True))
            and all(np.array_equal(x, y) for x, y in zip(a.det_tp, b.det_tp, strict=True)))


@pytest.mark.parametrize("seed", range(12))
def test_split_per_image_and_rebuilt_gives_the_same_matches(seed):
    rng = np.random.default_rng(seed)
    ground_truth, detections = random_case(rng, n_images=7, difficult_rate=0.2, score_levels=3)
    matches = match_voc(ground_truth, detections, iou_threshold=0.5)
    items = matches.per_image()
    rng.shuffle(items)  # rows come back from the database in any order
    rebuilt = VocMatches.from_per_image(matches.image_ids, matches.classes,
                                        [(i, c, n, d.tolist()) for i, c, n, d in items])
    assert same(rebuilt, matches)
    weights = rng.integers(0, 3, size=(5, len(matches.image_ids)))
    np.testing.assert_array_equal(rebuilt.mean_average_precision(image_weights=weights),
                                  matches.mean_average_precision(image_weights=weights))


def test_only_images_with_boxes_or_detections_are_kept():
    rng = np.random.default_rng(3)
    ground_truth, detections = random_case(rng, n_images=9, max_gt=1, max_det=1)
    matches = match_voc(ground_truth, detections)
    for i, c, boxes, pairs in matches.per_image():
        assert boxes == matches.positives[i, c] and (boxes > 0 or len(pairs) > 0)
    total = sum(len(pairs) for *_, pairs in matches.per_image())
    assert total == sum(len(flags) for flags in matches.det_tp)


def test_pieces_that_do_not_fit_are_refused():
    rng = np.random.default_rng(5)
    ground_truth, detections = random_case(rng, n_images=4, min_det=2)
    matches = match_voc(ground_truth, detections)
    items = matches.per_image()
    with_detections = next(k for k, item in enumerate(items) if len(item[3]))
    del items[with_detections]  # one image's detections lost
    with pytest.raises(ValueError, match="do not fit together"):
        VocMatches.from_per_image(matches.image_ids, matches.classes, items)
