"""A minimal Podium algorithm: segments every test image by intensity thresholding.

The runner mounts the test images read-only at /input (MSD names, e.g. hippocampus_001.nii.gz)
and collects /output, where this writes one label map per case under the same name, on the
same voxel grid (shape and affine copied from the image). Voxels brighter than the image's
``--percentile`` percentile get label 1, all others 0; for a 4D (multi-channel) image the
first channel decides. Scratch files, if any, belong in /tmp: everything else is read-only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nibabel as nib
import numpy as np


def segment(image: np.ndarray, *, percentile: float) -> np.ndarray:
    """Label 1 where the (first channel of the) image exceeds its ``percentile``; uint8."""
    volume = image[..., 0] if image.ndim == 4 else image
    threshold = np.percentile(volume, percentile)
    return (volume > threshold).astype(np.uint8)


def run(input_dir: Path, output_dir: Path, *, percentile: float) -> list[str]:
    """Segment every ``*.nii.gz`` in ``input_dir`` into ``output_dir``; return the case names."""
    cases = []
    for path in sorted(input_dir.glob("*.nii.gz")):
        image = nib.load(path)
        labels = segment(np.asanyarray(image.dataobj), percentile=percentile)
        prediction = nib.Nifti1Image(labels, image.affine)
        prediction.header.set_xyzt_units(*image.header.get_xyzt_units())
        nib.save(prediction, output_dir / path.name)
        cases.append(path.name)
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=Path("/input"))
    parser.add_argument("--output", type=Path, default=Path("/output"))
    parser.add_argument("--percentile", type=float, default=99.0)
    args = parser.parse_args(argv)
    cases = run(args.input, args.output, percentile=args.percentile)
    print(f"segmented {len(cases)} cases")
    return 0 if cases else 1


if __name__ == "__main__":
    sys.exit(main())
