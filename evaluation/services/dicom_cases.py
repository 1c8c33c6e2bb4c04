"""What a task keeps per case of a DICOM series: ``Task.cases[i]["dicom"]``.

A task converted from a DICOM collection (:mod:`.dicom_import`, :mod:`imaging.collection`) has,
beside each test image ``imagesTs/<case>.nii.gz``, a sidecar ``imagesTs/<case>.dicom.json``
that the importer (:func:`.importing.import_task`) reads with :func:`dicom_case`. The entry is
what a DICOM SEG prediction is validated against without reading the series again (the
contract the SEG prediction kind relies on):

* ``geometry``: :meth:`imaging.geometry.SeriesGeometry.to_dict` (rebuild it with
  ``SeriesGeometry.from_dict``);
* ``series_instance_uid``, ``frame_of_reference_uid``: the series' identity;
* ``sop_instance_uids``: the slices' SOP Instance UIDs in the NIfTI array's order (index k is
  slice k along the geometry's ``slice_axis``).

The sidecar is checked against the image it sits beside (same grid, same affine within
1e-3 mm), so a hand-edited or stale one is refused by the case's name.
"""

import json
from pathlib import Path

import numpy as np

from core.errors import InvalidInput
from imaging.collection import SIDECAR_SUFFIX
from imaging.errors import DicomError
from imaging.geometry import SeriesGeometry

SIDECAR_MAX_BYTES = 16 * 1024 * 1024
"""A series of 2,048 slices needs about 0.5 MiB (positions and SOP Instance UIDs)."""
AFFINE_TOLERANCE_MM = 1e-3  # the NIfTI header stores the affine as float32
KEYS = ("geometry", "series_instance_uid", "frame_of_reference_uid", "sop_instance_uids")


def dicom_case(image_path: Path, case: str, image_geometry) -> dict:
    """``{"dicom": {...}}`` for the case whose test image is ``image_path`` when a sidecar
    lies beside it, else ``{}`` (a task not made from DICOM). ``image_geometry``: the image's
    :class:`scorers.nifti.Geometry`. Raises InvalidInput naming the case."""
    path = image_path.parent / f"{case}{SIDECAR_SUFFIX}"
    if not path.is_file() or path.is_symlink():
        return {}
    shown = f"imagesTs/{path.name}"
    if path.stat().st_size > SIDECAR_MAX_BYTES:
        raise InvalidInput(f"{shown}: larger than {SIDECAR_MAX_BYTES // 1024**2} MiB")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput(f"{shown}: not valid JSON") from None
    if not isinstance(data, dict) or set(KEYS) - set(data):
        raise InvalidInput(f"{shown}: expected a JSON object with {', '.join(KEYS)}")
    try:
        geometry = SeriesGeometry.from_dict(data["geometry"])
    except DicomError as exc:
        raise InvalidInput(f"{shown}: {exc}") from None
    expected = {"series_instance_uid": geometry.series_instance_uid,
                "frame_of_reference_uid": geometry.frame_of_reference_uid,
                "sop_instance_uids": list(geometry.ras_sop_instance_uids)}
    for key, value in expected.items():
        if data[key] != value:
            raise InvalidInput(f"{shown}: {key} does not agree with its geometry")
    if tuple(image_geometry.shape) != tuple(geometry.shape) or not np.allclose(
            np.asarray(image_geometry.affine, float), geometry.affine,
            rtol=0, atol=AFFINE_TOLERANCE_MM):
        raise InvalidInput(f"{shown}: the series geometry is not the grid of test image {case} "
                           f"(shape {tuple(geometry.shape)} vs {tuple(image_geometry.shape)})")
    return {"dicom": {"geometry": geometry.to_dict(), **expected}}
