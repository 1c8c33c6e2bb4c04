"""Compile (and cache) the numba kernels by scoring a tiny case in both surface modes.

``python -m scorers.warmup`` at image build time fills ``NUMBA_CACHE_DIR``, so that a new
worker process does not spend seconds compiling on its first case.
"""

import numpy as np

from scorers.segmentation import score_case


def main() -> None:
    mask = np.zeros((9, 9, 9), np.uint8)
    mask[2:6, 3:7, 2:5] = 1
    shifted = np.roll(mask, 1, axis=0)
    for surface in ("surfel", "voxel"):
        score_case(shifted, mask, spacing_mm=(1.0, 1.0, 2.0), labels=[1], nsd_tolerance_mm=1.0,
                   surface=surface)
        score_case(shifted[:, :, 4], mask[:, :, 4], spacing_mm=(1.0, 1.0), labels=[1],
                   nsd_tolerance_mm=1.0, surface=surface)


if __name__ == "__main__":
    main()
