"""score_case against the reference libraries: DeepMind surface-distance (surfel) and MONAI
(voxel) on random 2D/3D cases with anisotropic spacing, and against the all-pairs brute force.
"""

import warnings

import numpy as np
import pytest

from scorers.segmentation import score_case
from tests.scorers.conftest import blob, random_pair
from tests.scorers.segmentation_bruteforce import dice, surfel_metrics, voxel_metrics

RTOL = 1e-6
pytestmark = pytest.mark.filterwarnings("ignore:Please import:DeprecationWarning")


def _surface_distance_scores(library, pred, ref, spacing, tolerance):
    distances = library.compute_surface_distances(ref, pred, spacing)
    to_pred, to_ref = library.compute_average_surface_distance(distances)
    return {
        "dice": library.compute_dice_coefficient(ref, pred),
        "nsd": library.compute_surface_dice_at_tolerance(distances, tolerance),
        "hd": library.compute_robust_hausdorff(distances, 100),
        "hd95": library.compute_robust_hausdorff(distances, 95),
        "assd": (to_pred + to_ref) / 2,
    }


def _assert_close(got: dict, expected: dict) -> None:
    for metric, value in expected.items():
        assert got[metric] == pytest.approx(float(value), rel=RTOL, abs=1e-12), metric


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("seed", range(40))
def test_surfel_mode_equals_surface_distance(surface_distance, seed, ndim):
    rng = np.random.default_rng(seed)
    pred, ref, spacing = random_pair(rng, ndim, max_side=16 if ndim == 3 else 40)
    tolerance = float(rng.uniform(0.0, 3.0))
    got = score_case(pred, ref, spacing_mm=spacing, labels=[1], nsd_tolerance_mm=tolerance)[1]
    _assert_close(got, _surface_distance_scores(surface_distance, pred, ref, spacing, tolerance))


def test_surfel_mode_equals_surface_distance_on_each_label_of_a_label_map(surface_distance):
    rng = np.random.default_rng(7)
    shape = (30, 24, 12)
    pred = blob(rng, shape).astype(np.int16) + 2 * blob(rng, shape) + 4 * blob(rng, shape)
    ref = blob(rng, shape).astype(np.int16) + 2 * blob(rng, shape) + 4 * blob(rng, shape)
    spacing = (0.8, 0.8, 2.5)
    labels = [1, 2, 3, 5, 6, 7]
    tolerances = {label: 0.5 * label for label in labels}
    got = score_case(pred, ref, spacing_mm=spacing, labels=labels, nsd_tolerance_mm=tolerances)
    for label in labels:
        expected = _surface_distance_scores(
            surface_distance, pred == label, ref == label, spacing, tolerances[label]
        )
        _assert_close(got[label], expected)


def test_surfel_mode_equals_surface_distance_at_exact_tolerance_ties(surface_distance):
    ref = np.zeros((20, 20, 20), bool)
    ref[5:12, 6:14, 4:9] = True
    pred = np.roll(ref, (1, 2, 1), axis=(0, 1, 2))
    spacing = (0.5, 1.0, 2.0)
    for tolerance in (0.5, 1.0, 2.0, float(np.sqrt(1.25))):
        got = score_case(pred, ref, spacing_mm=spacing, labels=[1], nsd_tolerance_mm=tolerance)
        expected = _surface_distance_scores(surface_distance, pred, ref, spacing, tolerance)
        assert got[1]["nsd"] == pytest.approx(expected["nsd"], rel=1e-12)


def _monai_scores(pred, ref, spacing, tolerance):
    import torch
    from monai.metrics import (
        compute_average_surface_distance,
        compute_hausdorff_distance,
        compute_surface_dice,
    )

    y_pred = torch.from_numpy(pred[None, None].astype(np.float32))
    y = torch.from_numpy(ref[None, None].astype(np.float32))
    common = {"include_background": True, "spacing": list(spacing)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "nsd": compute_surface_dice(y_pred, y, [tolerance], **common).item(),
            "hd": compute_hausdorff_distance(y_pred, y, **common).item(),
            "hd95": compute_hausdorff_distance(y_pred, y, percentile=95, **common).item(),
            "assd": compute_average_surface_distance(y_pred, y, symmetric=True,
                                                     **common).item(),
        }


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("seed", range(15))
def test_voxel_mode_equals_monai(seed, ndim):
    rng = np.random.default_rng(1000 + seed)
    pred, ref, spacing = random_pair(rng, ndim, max_side=16 if ndim == 3 else 40)
    tolerance = float(rng.uniform(0.0, 3.0))
    got = score_case(pred, ref, spacing_mm=spacing, labels=[1], nsd_tolerance_mm=tolerance,
                     surface="voxel")[1]
    _assert_close(got, _monai_scores(pred, ref, spacing, tolerance))


def test_voxel_mode_hd95_interpolates_as_monai_does_between_far_apart_distances():
    """The 95th percentile falls between a near and a far distance (a distant false positive):
    MONAI interpolates in float32 (torch.quantile), and so do we, to the last bit."""
    ref = np.zeros((40, 120, 120), np.uint8)
    ref[10:30, 20:60, 20:60] = 1
    pred = np.zeros_like(ref)
    pred[11:31, 21:61, 19:59] = 1
    pred[27:35, 111:119, 80:88] = 1
    spacing = (0.8531163922525791, 2.17515462328734, 2.286546341636882)
    got = score_case(pred, ref, spacing_mm=spacing, labels=[1], nsd_tolerance_mm=1.0,
                     surface="voxel")[1]
    assert got["hd95"] == pytest.approx(_monai_scores(pred, ref, spacing, 1.0)["hd95"],
                                        rel=1e-7)


def test_voxel_mode_hausdorff_equals_medpy():
    from medpy.metric.binary import hd

    rng = np.random.default_rng(3)
    for _ in range(5):
        pred, ref, spacing = random_pair(rng, 3)
        got = score_case(pred, ref, spacing_mm=spacing, labels=[1], nsd_tolerance_mm=1.0,
                         surface="voxel")[1]
        assert got["hd"] == pytest.approx(hd(pred, ref, voxelspacing=spacing), rel=RTOL)


@pytest.mark.parametrize("surface", ["surfel", "voxel"])
@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("seed", range(8))
def test_every_metric_equals_the_all_pairs_definition(surface_distance, seed, ndim, surface):
    rng = np.random.default_rng(2000 + seed)
    pred, ref, spacing = random_pair(rng, ndim, max_side=10)
    tolerance = float(rng.uniform(0.0, 3.0))
    got = score_case(pred.astype(np.uint8), ref.astype(np.uint8), spacing_mm=spacing,
                     labels=[1], nsd_tolerance_mm=tolerance, surface=surface)[1]
    if surface == "surfel":
        expected = surfel_metrics(pred, ref, spacing, tolerance, surface_distance.lookup_tables)
    else:
        expected = voxel_metrics(pred, ref, spacing, tolerance)
    _assert_close(got, {**expected, "dice": dice(pred, ref)})
