"""Surfel measures for the neighbourhood codes of the surfel surface representation.

The surfel representation (DeepMind surface-distance, Nikolov et al. 2018) places surface points
on the *corners* of the voxel grid. The 2^n voxels around one corner (2×2 in 2D, 2×2×2 in 3D)
form a neighbourhood; its inside/outside pattern is packed into an integer *code*:

    code = sum over offsets o in {0,1}^n of inside(corner - 1 + o) << (2^n - 1 - rank(o)),

where ``rank(o)`` reads ``o`` as a binary number, most significant axis first (3D: 4·o0 + 2·o1
+ o2). This is the bit order of surface-distance's ``ENCODE_NEIGHBOURHOOD_*_KERNEL``, so codes
and measures agree with it. A corner is a surface point when its code is neither 0 nor all ones.

The measure of a code is the length (2D, mm) or area (3D, mm²) of the marching-squares /
marching-cubes surface inside that neighbourhood, with vertices at edge midpoints:

* 2D: one lone corner (inside or outside) cuts a segment of length ½·√(s0² + s1²); two corners
  sharing an axis-0 edge give a straight segment of length s1 (and vice versa); two diagonal
  corners give two lone-corner segments.
* 3D: the classic marching-cubes triangulation. It is written below once per equivalence class
  of codes (14 classes under the cube's 48 rotations/reflections and inside/outside
  complement; each class's triangles as in Lorensen & Cline's table) and carried to all 256
  codes by those symmetries. A triangle's area vector a (unit voxel) becomes
  (a0·s1·s2, a1·s0·s2, a2·s0·s1) for spacing s; the code's area is the sum of their norms.
  Tests check the 256-entry table against surface-distance's at random anisotropic spacings.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np

# One representative per class: (inside corners, triangles). A corner is its offset o as
# "o0o1o2"; a triangle vertex is an edge midpoint written with "h" for the coordinate ½.
_CLASSES_3D: tuple[tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]], ...] = (
    (("111",), (("11h", "1h1", "h11"),)),
    (("111", "110"), (("1h0", "h10", "h11"), ("1h1", "1h0", "h11"))),
    (("110", "101"), (("11h", "1h0", "h10"), ("1h1", "10h", "h01"))),
    (("100", "011"), (("h11", "01h", "0h1"), ("1h0", "10h", "h00"))),
    (("111", "110", "101"),
     (("1h0", "10h", "h01"), ("h10", "1h0", "h01"), ("h11", "h10", "h01"))),
    (("110", "101", "011"),
     (("11h", "1h0", "h10"), ("1h1", "10h", "h01"), ("h11", "01h", "0h1"))),
    (("111", "100", "011"),
     (("1h1", "0h1", "01h"), ("11h", "1h1", "01h"), ("1h0", "10h", "h00"))),
    (("111", "110", "101", "100"), (("h10", "h00", "h01"), ("h11", "h10", "h01"))),
    (("111", "110", "101", "011"),
     (("0h1", "01h", "h10"), ("h01", "0h1", "h10"), ("10h", "h01", "h10"),
      ("1h0", "10h", "h10"))),
    (("111", "110", "100", "011"),
     (("10h", "h00", "h10"), ("h10", "01h", "0h1"), ("10h", "h10", "0h1"),
      ("1h1", "10h", "0h1"))),
    (("110", "101", "100", "011"),
     (("h01", "h00", "h10"), ("1h1", "h01", "h10"), ("11h", "1h1", "h10"),
      ("h11", "01h", "0h1"))),
    (("101", "100", "011", "010"),
     (("1h0", "h00", "h01"), ("1h1", "1h0", "h01"), ("h10", "0h0", "0h1"),
      ("h11", "h10", "0h1"))),
    (("111", "100", "010", "001"),
     (("11h", "1h1", "h11"), ("1h0", "10h", "h00"), ("h10", "01h", "0h0"),
      ("h01", "00h", "0h1"))),
)


def corner_bit(offset: tuple[int, ...]) -> int:
    """Bit of the corner at ``offset`` (0/1 per axis) in a neighbourhood code (see module doc)."""
    rank = 0
    for o in offset:
        rank = 2 * rank + o
    return 1 << (2 ** len(offset) - 1 - rank)


def _code(corners: tuple[tuple[int, ...], ...]) -> int:
    return sum(corner_bit(c) for c in corners)


def _inside_corners(code: int, ndim: int) -> list[tuple[int, ...]]:
    return [c for c in itertools.product((0, 1), repeat=ndim) if code & corner_bit(c)]


def _point(text: str) -> np.ndarray:
    return np.array([0.5 if ch == "h" else float(ch) for ch in text])


def _symmetries() -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """The 48 symmetries of the cube as (axis permutation, axis flips)."""
    return [
        (perm, flips)
        for perm in itertools.permutations(range(3))
        for flips in itertools.product((0, 1), repeat=3)
    ]


def _move(point: np.ndarray, perm: tuple[int, ...], flips: tuple[int, ...]) -> np.ndarray:
    moved = np.empty(3)
    for axis in range(3):
        moved[perm[axis]] = 1.0 - point[axis] if flips[axis] else point[axis]
    return moved


def _move_back(point: np.ndarray, perm: tuple[int, ...], flips: tuple[int, ...]) -> np.ndarray:
    back = np.empty(3)
    for axis in range(3):
        back[axis] = 1.0 - point[perm[axis]] if flips[axis] else point[perm[axis]]
    return back


def _moved_code(code: int, perm: tuple[int, ...], flips: tuple[int, ...]) -> int:
    moved = (_move(np.array(c, float), perm, flips) for c in _inside_corners(code, 3))
    return _code(tuple(tuple(int(x) for x in m) for m in moved))


@cache
def _unit_area_vectors_3d() -> tuple[np.ndarray, ...]:
    """Per code, the (k, 3) area vectors of its triangles for a unit voxel."""
    classes = {
        _code(tuple(tuple(int(ch) for ch in c) for c in corners)): triangles
        for corners, triangles in _CLASSES_3D
    }
    vectors: list[np.ndarray] = []
    for code in range(256):
        found = np.zeros((0, 3))
        for perm, flips in _symmetries():
            moved = _moved_code(code, perm, flips)
            triangles = classes.get(moved, classes.get(255 - moved))
            if triangles is not None:
                found = np.array([
                    np.cross(b - a, c - a) / 2.0
                    for a, b, c in (
                        [_move_back(_point(v), perm, flips) for v in triangle]
                        for triangle in triangles
                    )
                ])
                break
        vectors.append(found)
    return tuple(vectors)


def surfel_area_table(spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """Area in mm² of the marching-cubes surface of each of the 256 codes, for voxel spacing
    ``spacing_mm`` (axis order of the array). Codes 0 and 255 have area 0."""
    s0, s1, s2 = (float(s) for s in spacing_mm)
    table = np.zeros(256)
    for code, vectors in enumerate(_unit_area_vectors_3d()):
        area = 0.0
        for a in vectors:
            area += float(np.sqrt((a[0] * s1 * s2) ** 2 + (a[1] * s0 * s2) ** 2
                                  + (a[2] * s0 * s1) ** 2))
        table[code] = area
    return table


def contour_length_table(spacing_mm: tuple[float, float]) -> np.ndarray:
    """Length in mm of the marching-squares contour of each of the 16 codes, for pixel spacing
    ``spacing_mm``. Codes 0 and 15 have length 0."""
    s0, s1 = (float(s) for s in spacing_mm)
    lone = 0.5 * float(np.sqrt(s0 * s0 + s1 * s1))
    table = np.zeros(16)
    for code in range(1, 15):
        inside = _inside_corners(code, 2)
        if len(inside) != 2:
            table[code] = lone
        elif inside[0][0] == inside[1][0]:
            table[code] = s1
        elif inside[0][1] == inside[1][1]:
            table[code] = s0
        else:
            table[code] = 2.0 * lone
    return table


def measure_table(spacing_mm: tuple[float, ...]) -> np.ndarray:
    """The code → surfel measure table for a 2D or 3D spacing (see the module docstring)."""
    if len(spacing_mm) == 2:
        return contour_length_table((spacing_mm[0], spacing_mm[1]))
    return surfel_area_table((spacing_mm[0], spacing_mm[1], spacing_mm[2]))
