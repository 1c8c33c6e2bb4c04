"""The geometry of a DICOM series without its pixels: :class:`SeriesGeometry`.

Built by :func:`imaging.series.read_series_geometry` (or with a :class:`~imaging.series.Volume`);
JSON-safe through :meth:`SeriesGeometry.to_dict`, so a task can store it per case and check SEG
predictions (:func:`imaging.seg.read_seg`) against it without reading the series again.

Conventions (docs/dicom.md, "Series conversion"): the DICOM voxel (column i, row j, slice k)
lies at IPP_0 + i·Δc·r + j·Δr·c + k·s·n in LPS mm, with r, c the row and column direction
cosines, n = r × c, (Δr, Δc) = PixelSpacing and s the slice spacing; RAS = diag(−1, −1, 1)·LPS,
and the converted array is the DICOM stack flipped/transposed to the closest RAS axes
(nibabel's ``io_orientation``), as the Medical Segmentation Decathlon's images are.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation

from imaging.errors import DicomError

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class SeriesGeometry:
    """Everything about a series but its pixels: identity, the slice stack in LPS mm (slices
    in ascending d_k order) and, derived from it, the RAS grid of the converted volume.

    ``row_cosines`` (r) and ``column_cosines`` (c) are ImageOrientationPatient's two halves,
    ``pixel_spacing`` = (Δr between rows, Δc between columns), ``positions`` the
    ImagePositionPatient of each slice, ``sop_instance_uids`` in the same order. JSON-safe via
    :meth:`to_dict`, so a task can store it and validate SEG predictions
    (:func:`imaging.seg.read_seg`) without reading the series again.
    """

    series_instance_uid: str
    frame_of_reference_uid: str
    modality: str
    rows: int
    columns: int
    row_cosines: tuple[float, float, float]
    column_cosines: tuple[float, float, float]
    pixel_spacing: tuple[float, float]
    slice_spacing: float
    positions: tuple[tuple[float, float, float], ...]
    sop_instance_uids: tuple[str, ...]

    @cached_property
    def normal(self) -> np.ndarray:
        return np.cross(self.row_cosines, self.column_cosines)

    @cached_property
    def position_array(self) -> np.ndarray:
        return np.array(self.positions, dtype=float)

    @cached_property
    def _lps_affine(self) -> np.ndarray:
        delta_r, delta_c = self.pixel_spacing
        lps = np.eye(4)
        lps[:3, 0] = np.asarray(self.row_cosines) * delta_c
        lps[:3, 1] = np.asarray(self.column_cosines) * delta_r
        lps[:3, 2] = self.normal * self.slice_spacing
        lps[:3, 3] = self.positions[0]
        return lps

    @cached_property
    def ornt(self) -> np.ndarray:
        """nibabel orientation taking the DICOM (column, row, slice) axes to the RAS array's."""
        return io_orientation(LPS_TO_RAS @ self._lps_affine)

    @cached_property
    def affine(self) -> np.ndarray:
        """Voxel (i, j, k, 1) of the RAS array → RAS mm."""
        dicom_shape = (self.columns, self.rows, len(self.sop_instance_uids))
        return LPS_TO_RAS @ self._lps_affine @ inv_ornt_aff(self.ornt, dicom_shape)

    @property
    def shape(self) -> tuple[int, int, int]:
        dicom_shape = (self.columns, self.rows, len(self.sop_instance_uids))
        return tuple(dicom_shape[int(np.flatnonzero(self.ornt[:, 0] == axis)[0])]
                     for axis in range(3))

    @property
    def spacing(self) -> tuple[float, float, float]:
        return tuple(float(s) for s in np.linalg.norm(self.affine[:3, :3], axis=0))

    @property
    def slice_axis(self) -> int:
        """The RAS array axis along which the slices are stacked (2 for an axial series)."""
        return int(self.ornt[2, 0])

    @property
    def ras_sop_instance_uids(self) -> tuple[str, ...]:
        """The slices in increasing index along :attr:`slice_axis`."""
        return self.sop_instance_uids if self.ornt[2, 1] > 0 else self.sop_instance_uids[::-1]

    def to_ras(self, dicom_stack: np.ndarray) -> np.ndarray:
        """An array indexed (slice, row, column), slices in this geometry's order, in RAS voxel
        order (Fortran-ordered, as NIfTI stores it)."""
        return np.asfortranarray(apply_orientation(dicom_stack.transpose(2, 1, 0), self.ornt))

    def to_dict(self) -> dict:
        return {key: value for key, value in vars(self).items() if not key.startswith("_")
                and key in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict) -> SeriesGeometry:
        try:
            return cls(
                series_instance_uid=str(data["series_instance_uid"]),
                frame_of_reference_uid=str(data["frame_of_reference_uid"]),
                modality=str(data["modality"]), rows=int(data["rows"]),
                columns=int(data["columns"]),
                row_cosines=tuple(float(v) for v in data["row_cosines"]),
                column_cosines=tuple(float(v) for v in data["column_cosines"]),
                pixel_spacing=tuple(float(v) for v in data["pixel_spacing"]),
                slice_spacing=float(data["slice_spacing"]),
                positions=tuple(tuple(float(v) for v in p) for p in data["positions"]),
                sop_instance_uids=tuple(str(u) for u in data["sop_instance_uids"]),
            )
        except (KeyError, TypeError, ValueError):
            raise DicomError("series geometry is malformed") from None
