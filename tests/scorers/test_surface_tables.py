"""The surfel measure tables: geometry, symmetry, and equality with surface-distance's."""

import itertools
import math

import numpy as np
import pytest

from scorers._surfel_tables import contour_length_table, corner_bit, surfel_area_table


def _code(corners) -> int:
    return sum(corner_bit(c) for c in corners)


@pytest.mark.parametrize("seed", range(10))
def test_3d_areas_equal_surface_distance_table(surface_distance, seed):
    spacing = tuple(np.random.default_rng(seed).uniform(0.1, 6.0, 3))
    expected = surface_distance.lookup_tables.create_table_neighbour_code_to_surface_area(spacing)
    np.testing.assert_allclose(surfel_area_table(spacing), expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize("seed", range(10))
def test_2d_lengths_equal_surface_distance_table(surface_distance, seed):
    spacing = tuple(np.random.default_rng(seed).uniform(0.1, 6.0, 2))
    expected = surface_distance.lookup_tables.create_table_neighbour_code_to_contour_length(
        spacing
    )
    np.testing.assert_allclose(contour_length_table(spacing), expected, rtol=1e-14, atol=0)


def test_corner_bits_follow_surface_distance_encoding(surface_distance):
    tables = surface_distance.lookup_tables
    for offset in itertools.product((0, 1), repeat=3):
        assert corner_bit(offset) == tables.ENCODE_NEIGHBOURHOOD_3D_KERNEL[offset]
    for offset in itertools.product((0, 1), repeat=2):
        assert corner_bit(offset) == tables.ENCODE_NEIGHBOURHOOD_2D_KERNEL[offset]


def test_flat_face_and_single_corner_have_their_geometric_area():
    s = (0.7, 1.3, 2.9)
    table = surfel_area_table(s)
    for axis in range(3):
        half = [c for c in itertools.product((0, 1), repeat=3) if c[axis] == 1]
        others = [s[a] for a in range(3) if a != axis]
        assert table[_code(half)] == pytest.approx(others[0] * others[1], rel=1e-14)
    # A lone corner cuts the triangle between its three edge midpoints.
    a, b, c = (np.array(v) * 0.5 * np.array(s) for v in ((1, 0, 0), (0, 1, 0), (0, 0, 1)))
    assert table[_code([(0, 0, 0)])] == pytest.approx(np.linalg.norm(np.cross(b - a, c - a)) / 2)


def test_tables_are_blind_to_inside_outside_swap_and_empty_codes():
    area = surfel_area_table((0.5, 1.0, 3.0))
    length = contour_length_table((0.5, 3.0))
    assert area[0] == area[255] == 0 and length[0] == length[15] == 0
    np.testing.assert_array_equal(area, area[::-1])
    np.testing.assert_array_equal(length, length[::-1])
    assert length[_code([(1, 0), (1, 1)])] == 3.0
    assert length[_code([(0, 0)])] == pytest.approx(0.5 * math.hypot(0.5, 3.0))
