"""Surface extraction and distance kernels against scipy and all-pairs brute force."""

import numpy as np
import pytest
from scipy import ndimage

from scorers import _kernels, surface_metrics
from scorers.surfaces import surface_distances
from tests.scorers.conftest import blob, random_pair
from tests.scorers.segmentation_bruteforce import border_voxels, nearest, surfel_points


def _padded(mask: np.ndarray) -> np.ndarray:
    return np.pad(mask.astype(np.uint8), 1)


@pytest.mark.parametrize("budget", [0, 16, 10**9])
@pytest.mark.parametrize("seed", range(12))
def test_squared_distances_equal_all_pairs_on_every_route(seed, budget):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 16, 3))
    features = rng.random(shape) < rng.uniform(0.005, 0.2)
    features.flat[rng.integers(features.size)] = True
    spacing = tuple(float(s) for s in rng.uniform(0.2, 3.0, 3))
    queries = np.flatnonzero(rng.random(shape) < 0.3)
    got = _kernels.squared_distances_at(features.view(np.uint8), queries, *spacing, budget)
    points = np.argwhere(features)
    expected = nearest(np.argwhere(np.ones(shape, bool))[queries], points, spacing) ** 2
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


def test_squared_distances_match_scipy_edt_bit_for_bit():
    rng = np.random.default_rng(5)
    features = rng.random((20, 30, 25)) < 0.01
    spacing = (0.7, 0.9, 2.5)
    queries = np.arange(features.size)
    got = _kernels.squared_distances_at(features.view(np.uint8), queries, *spacing, 64)
    expected = ndimage.distance_transform_edt(~features, sampling=spacing).ravel()
    np.testing.assert_array_equal(np.sqrt(got), expected)


@pytest.mark.parametrize("seed", range(8))
def test_surfel_codes_equal_surface_distance_correlation(surface_distance, seed):
    rng = np.random.default_rng(seed)
    mask = blob(rng, (9, 7, 11))
    kernel = surface_distance.lookup_tables.ENCODE_NEIGHBOURHOOD_3D_KERNEL
    expected = ndimage.correlate(np.pad(mask.astype(np.uint8), (0, 1)), kernel, mode="constant")
    np.testing.assert_array_equal(_kernels.surfel_codes_3d(_padded(mask)), expected)
    flat = blob(rng, (12, 10))
    kernel_2d = surface_distance.lookup_tables.ENCODE_NEIGHBOURHOOD_2D_KERNEL
    expected_2d = ndimage.correlate(np.pad(flat.astype(np.uint8), (0, 1)), kernel_2d,
                                    mode="constant")
    np.testing.assert_array_equal(_kernels.surfel_codes_2d(_padded(flat)), expected_2d)


@pytest.mark.parametrize("seed", range(8))
def test_voxel_border_is_mask_minus_its_erosion(seed):
    rng = np.random.default_rng(seed)
    mask = blob(rng, (8, 9, 10))
    expected = mask ^ ndimage.binary_erosion(mask)
    np.testing.assert_array_equal(_kernels.voxel_border(_padded(mask), True), expected)
    flat = blob(rng, (11, 6))
    got = _kernels.voxel_border(_padded(flat)[None], False)[0]
    np.testing.assert_array_equal(got, flat ^ ndimage.binary_erosion(flat))


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("seed", range(6))
def test_surfel_distances_and_measures_equal_brute_force(surface_distance, seed, ndim):
    pred, ref, spacing = random_pair(np.random.default_rng(seed), ndim, max_side=9)
    got = surface_distances(_padded(pred), _padded(ref), spacing_mm=spacing, surface="surfel")
    tables = surface_distance.lookup_tables
    points_p, areas_p = surfel_points(pred, spacing, tables)
    points_r, areas_r = surfel_points(ref, spacing, tables)
    np.testing.assert_allclose(got.pred_weights, areas_p, rtol=1e-12)
    np.testing.assert_allclose(got.ref_weights, areas_r, rtol=1e-12)
    np.testing.assert_array_equal(got.pred_to_ref, nearest(points_p, points_r, spacing))
    np.testing.assert_array_equal(got.ref_to_pred, nearest(points_r, points_p, spacing))


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("seed", range(6))
def test_voxel_distances_equal_brute_force(seed, ndim):
    pred, ref, spacing = random_pair(np.random.default_rng(100 + seed), ndim, max_side=9)
    got = surface_distances(_padded(pred), _padded(ref), spacing_mm=spacing, surface="voxel")
    points_p, points_r = border_voxels(pred), border_voxels(ref)
    np.testing.assert_array_equal(got.pred_to_ref, nearest(points_p, points_r, spacing))
    np.testing.assert_array_equal(got.ref_to_pred, nearest(points_r, points_p, spacing))
    assert np.all(got.pred_weights == 1) and got.ref_weights.size == len(points_r)


def test_weighted_percentile_equals_the_step_by_step_definition(surface_distance):
    rng = np.random.default_rng(8)
    for _ in range(200):
        size = int(rng.integers(1, 60))
        values = rng.integers(0, 8, size) * rng.choice([0.5, 0.8, 1.3])
        weights = rng.choice([0.25, 0.5, 1.0, 0.3535533905932738], size)
        expected = surface_distance.compute_robust_hausdorff(
            {"distances_gt_to_pred": np.sort(values), "surfel_areas_gt": weights[np.argsort(
                values, kind="stable")], "distances_pred_to_gt": np.array([0.0]),
             "surfel_areas_pred": np.array([1.0])}, 95)
        assert surface_metrics._weighted_percentile(values, weights, 95) == \
            surface_metrics._exact_weighted_percentile(values, weights, 95)
        if expected > 0:
            assert surface_metrics._exact_weighted_percentile(values, weights, 95) == \
                pytest.approx(expected)


def test_weighted_percentile_at_an_exact_share_of_95_percent():
    values = np.arange(20, dtype=float)[::-1].copy()
    weights = np.ones(20)
    assert surface_metrics._weighted_percentile(values, weights, 95) == 18.0
    assert surface_metrics._weighted_percentile(values, weights, 100) == 19.0
