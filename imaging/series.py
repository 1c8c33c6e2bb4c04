"""A DICOM image series (CT/MR slices) as a volume in RAS, and its NIfTI file.

:func:`read_series` reads the single-frame slices of one series and returns a :class:`Volume`:
the voxel array in RAS voxel order (axis 0 towards the patient's Right, 1 Anterior, 2 Superior,
as the Medical Segmentation Decathlon reoriented every image) and the 4×4 voxel → RAS mm affine.
:func:`write_nifti` writes it as ``.nii.gz``. Rules (docs/dicom.md, "Series conversion"):

* All files belong to one series: the same SeriesInstanceUID, FrameOfReferenceUID,
  ImageOrientationPatient (direction cosines within 1e-4), Rows/Columns and PixelSpacing.
  Multi-frame (enhanced) images are refused; a series needs at least two slices.
* The slice normal is n = r × c (r, c: the row and column direction cosines). Slices are
  ordered by d_k = IPP_k · n, never by file order, InstanceNumber or SliceThickness; the slice
  spacing is (d_last − d_first)/(N − 1). Refused: two slices closer than
  ``POSITION_TOLERANCE_MM`` (duplicates); a gap d_{k+1} − d_k that differs from the median gap
  by more than max(``SPACING_TOLERANCE`` × that gap, ``POSITION_TOLERANCE_MM``) (non-uniform
  spacing, e.g. a missing slice); a slice whose position has a component across n of more
  than ``POSITION_TOLERANCE_MM`` relative to the first (gantry tilt / sheared stack).
* The DICOM voxel (column i, row j, slice k) lies at IPP_0 + i·Δc·r + j·Δr·c + k·s·n in LPS mm
  (Δr, Δc = PixelSpacing; s the slice spacing). RAS = diag(−1, −1, 1)·LPS; the array is then
  flipped/transposed to the closest RAS axes (nibabel's ``io_orientation``), so an oblique
  series keeps its rotation in the affine and ``aff2axcodes(affine) == ("R", "A", "S")``.
* Stored values are mapped with RescaleSlope/RescaleIntercept per slice (CT in HU). The array
  is int16 when every slope and intercept is an integer and every value fits int16, else
  float32 (exact for integers up to 2^24).
* Before any pixel is decoded: Rows × Columns × slices must not exceed ``max_voxels``. A file
  whose elements run past its end is refused as truncated (:func:`read_dicom`); pixel data of
  an uncompressed transfer syntax must have the declared length; a compressed one is decoded
  by pydicom's plugins, and one they cannot decode is refused naming the transfer syntax.

Every message starts with "series <SeriesInstanceUID>" or the file's name as the caller gave it
(``names``), never a server path.
"""

from __future__ import annotations

import math
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from nibabel.orientations import aff2axcodes
from pydicom.dataset import Dataset
from pydicom.uid import UID

from imaging.errors import DicomError
from imaging.geometry import SeriesGeometry

POSITION_TOLERANCE_MM = 0.01
SPACING_TOLERANCE = 0.01  # relative to the slice spacing
ORIENTATION_TOLERANCE = 1e-4  # on direction cosines
DEFAULT_MAX_VOXELS = 1 << 29  # 512 × 512 × 2048
UNCOMPRESSED = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}
"""Implicit and explicit VR little endian: pixel data read as it is stored."""
_DEFER = "64 KB"  # pixel data stays on disk until the checks pass
_UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass(frozen=True)
class Volume:
    """One converted series: ``array`` (x, y, z) in RAS voxel order and its ``geometry``.

    The properties read the geometry: ``affine`` maps (i, j, k, 1) to RAS mm, ``spacing`` is
    the voxel size along the array's axes (mm), ``slice_axis`` the array axis the DICOM slices
    are stacked along, ``sop_instance_uids`` the slices in increasing index along it and
    ``slice_index`` the inverse (SOP Instance UID → index); ``ornt`` is nibabel's orientation
    array from the DICOM (column, row, slice) axes to the array's.
    """

    array: np.ndarray
    geometry: SeriesGeometry = field(repr=False)

    affine = property(lambda self: self.geometry.affine)
    spacing = property(lambda self: self.geometry.spacing)
    slice_axis = property(lambda self: self.geometry.slice_axis)
    sop_instance_uids = property(lambda self: self.geometry.ras_sop_instance_uids)
    series_instance_uid = property(lambda self: self.geometry.series_instance_uid)
    frame_of_reference_uid = property(lambda self: self.geometry.frame_of_reference_uid)
    modality = property(lambda self: self.geometry.modality)
    rows = property(lambda self: self.geometry.rows)
    columns = property(lambda self: self.geometry.columns)
    ornt = property(lambda self: self.geometry.ornt)

    @property
    def slice_index(self) -> dict[str, int]:
        return {uid: i for i, uid in enumerate(self.sop_instance_uids)}


def read_dicom(path: Path, name: str, *, headers_only: bool = False) -> Dataset:
    """One DICOM file, its pixel data left on disk (or not read at all with
    ``headers_only``). Refuses a file without the DICM prefix and a truncated one: pydicom
    silently shortens a value cut off by the end of the file, so every top-level element's
    declared extent is checked against the file size."""
    try:
        size = path.stat().st_size
        with warnings.catch_warnings():
            # pydicom warns about malformed values; the checks below name what matters.
            warnings.simplefilter("ignore")
            if headers_only:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            else:
                ds = pydicom.dcmread(path, defer_size=_DEFER)
    except pydicom.errors.InvalidDicomError:
        raise DicomError(f"{name}: not a DICOM file (no DICM prefix)") from None
    except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError,
            struct.error) as error:
        raise DicomError(f"{name}: not a readable DICOM file (truncated or damaged: "
                         f"{type(error).__name__})") from None
    for tag in ds.keys():
        element = ds.get_item(tag)
        tell, length = getattr(element, "value_tell", None), getattr(element, "length", 0)
        if tell is not None and length != _UNDEFINED_LENGTH and tell + length > size:
            raise DicomError(f"{name}: truncated DICOM file ({size} bytes; "
                             f"{element.tag} needs {tell + length})")
    return ds


def _attribute(ds: Dataset, keyword: str, name: str):
    value = ds.get(keyword)
    if value is None or value == "":
        raise DicomError(f"{name}: missing {keyword}")
    return value


def _floats(ds: Dataset, keyword: str, count: int, name: str) -> np.ndarray:
    try:
        values = np.array([float(v) for v in _attribute(ds, keyword, name)], dtype=float)
    except (TypeError, ValueError):
        raise DicomError(f"{name}: {keyword} is not numeric") from None
    if values.shape != (count,) or not np.all(np.isfinite(values)):
        raise DicomError(f"{name}: {keyword} must hold {count} finite numbers")
    return values


def orientation(ds: Dataset, name: str) -> tuple[np.ndarray, np.ndarray]:
    """ImageOrientationPatient as (row cosines, column cosines), checked unit and orthogonal."""
    iop = _floats(ds, "ImageOrientationPatient", 6, name)
    row, column = iop[:3], iop[3:]
    if (abs(np.linalg.norm(row) - 1) > 1e-3 or abs(np.linalg.norm(column) - 1) > 1e-3
            or abs(row @ column) > 1e-3):
        raise DicomError(f"{name}: ImageOrientationPatient is not two orthogonal unit vectors")
    return row / np.linalg.norm(row), column / np.linalg.norm(column)


def transfer_syntax(ds: Dataset) -> UID:
    return UID(ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2")) if hasattr(
        ds, "file_meta") else UID("1.2.840.10008.1.2")


def syntax_name(uid: UID) -> str:
    return f"{uid.name} ({uid})" if uid.name != uid else str(uid)


def _check_same(values: Sequence, names: Sequence[str], what: str, series: str, same) -> None:
    for value, name in zip(values[1:], names[1:], strict=True):
        if not same(value, values[0]):
            raise DicomError(f"series {series}: {name} has {what} {_show(value)}, "
                             f"{names[0]} has {_show(values[0])}")


def _show(value) -> str:
    if isinstance(value, np.ndarray):
        return "(" + ", ".join(f"{v:g}" for v in value) + ")"
    return str(value)


def read_series(
    files: Sequence[Path],
    *,
    names: Sequence[str] | None = None,
    max_voxels: int = DEFAULT_MAX_VOXELS,
) -> Volume:
    """Read the slices of one DICOM series into a :class:`Volume` (rules in the module doc).

    ``names`` are the files' names for messages (default: each file's name); ``max_voxels``
    caps Rows × Columns × slices before any pixel is decoded. Raises :class:`DicomError`.
    """
    files, names = _named(files, names)
    datasets = [read_dicom(path, name) for path, name in zip(files, names, strict=True)]
    geometry, order = _geometry(datasets, names, max_voxels)
    stack = _decode_stack([datasets[i] for i in order], [names[i] for i in order],
                          geometry.rows, geometry.columns)
    return Volume(array=geometry.to_ras(stack), geometry=geometry)


def read_series_geometry(
    files: Sequence[Path],
    *,
    names: Sequence[str] | None = None,
    max_voxels: int = DEFAULT_MAX_VOXELS,
) -> SeriesGeometry:
    """The :class:`SeriesGeometry` of a series from its headers alone (no pixel is read), with
    every check of :func:`read_series` that needs no pixel."""
    files, names = _named(files, names)
    datasets = [read_dicom(path, name, headers_only=True)
                for path, name in zip(files, names, strict=True)]
    return _geometry(datasets, names, max_voxels)[0]


def _named(files: Sequence[Path], names: Sequence[str] | None) -> tuple[list[Path], list[str]]:
    files = [Path(f) for f in files]
    if not files:
        raise DicomError("no DICOM files given")
    names = list(names) if names is not None else [f.name for f in files]
    if len(names) != len(files):
        raise ValueError("names must name every file")
    return files, names


def _geometry(datasets: Sequence[Dataset], names: Sequence[str],
              max_voxels: int) -> tuple[SeriesGeometry, np.ndarray]:
    """The checked geometry and the slice order (indices into ``datasets``)."""
    series = str(datasets[0].get("SeriesInstanceUID", "?"))
    for ds, name in zip(datasets, names, strict=True):
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        if frames != 1:
            raise DicomError(f"{name}: multi-frame (enhanced) image with {frames} frames; only "
                             "single-frame slices are supported — export the series as "
                             "classic single-frame images")
        for keyword in ("ImagePositionPatient", "PixelSpacing", "Rows", "Columns"):
            _attribute(ds, keyword, name)
    if len(datasets) < 2:
        raise DicomError(f"series {series}: a series needs at least 2 slices, got 1")
    pairs = list(zip(datasets, names, strict=True))
    _check_same([str(_attribute(d, "SeriesInstanceUID", n)) for d, n in pairs], names,
                "SeriesInstanceUID", series, str.__eq__)
    _check_same([str(_attribute(d, "FrameOfReferenceUID", n)) for d, n in pairs], names,
                "FrameOfReferenceUID", series, str.__eq__)
    iops = [np.concatenate(orientation(d, n)) for d, n in pairs]
    _check_same(iops, names, "ImageOrientationPatient", series,
                lambda a, b: np.max(np.abs(a - b)) <= ORIENTATION_TOLERANCE)
    _check_same([(int(d.Rows), int(d.Columns)) for d in datasets], names, "Rows, Columns",
                series, tuple.__eq__)
    spacings = [_floats(d, "PixelSpacing", 2, n) for d, n in pairs]
    _check_same(spacings, names, "PixelSpacing", series,
                lambda a, b: np.max(np.abs(a - b)) <= 1e-4 * max(1.0, float(np.max(b))))
    if np.any(spacings[0] <= 0):
        raise DicomError(f"series {series}: PixelSpacing must be positive")
    rows, columns = int(datasets[0].Rows), int(datasets[0].Columns)
    if rows * columns * len(datasets) > max_voxels:
        raise DicomError(f"series {series}: {rows}×{columns}×{len(datasets)} voxels exceed the "
                         f"limit of {max_voxels}")
    row_cos, col_cos = iops[0][:3], iops[0][3:]
    positions = np.array([_floats(d, "ImagePositionPatient", 3, n) for d, n in pairs])
    order, slice_spacing = _slice_order(positions, np.cross(row_cos, col_cos), names, series)
    uids = tuple(str(_attribute(datasets[i], "SOPInstanceUID", names[i])) for i in order)
    if len(set(uids)) != len(uids):
        raise DicomError(f"series {series}: two files share a SOPInstanceUID")
    geometry = SeriesGeometry(
        series_instance_uid=series,
        frame_of_reference_uid=str(datasets[0].FrameOfReferenceUID),
        modality=str(datasets[0].get("Modality", "")), rows=rows, columns=columns,
        row_cosines=tuple(float(v) for v in row_cos),
        column_cosines=tuple(float(v) for v in col_cos),
        pixel_spacing=(float(spacings[0][0]), float(spacings[0][1])),
        slice_spacing=slice_spacing,
        positions=tuple(tuple(float(v) for v in positions[i]) for i in order),
        sop_instance_uids=uids,
    )
    return geometry, order


def _slice_order(positions: np.ndarray, normal: np.ndarray, names: Sequence[str],
                 series: str) -> tuple[np.ndarray, float]:
    distances = positions @ normal
    order = np.argsort(distances, kind="stable")
    ordered = distances[order]
    gaps = np.diff(ordered)
    close = np.flatnonzero(gaps < POSITION_TOLERANCE_MM)
    if close.size:
        a, b = order[close[0]], order[close[0] + 1]
        raise DicomError(f"series {series}: {names[a]} and {names[b]} have the same slice "
                         f"position ({ordered[close[0]]:.3f} mm along the normal); duplicate "
                         "slices are refused")
    typical = float(np.median(gaps))
    tolerance = max(SPACING_TOLERANCE * typical, POSITION_TOLERANCE_MM)
    worst = int(np.argmax(np.abs(gaps - typical)))
    if abs(gaps[worst] - typical) > tolerance:
        raise DicomError(
            f"series {series}: slice spacing is not uniform ({gaps.min():.3f}–{gaps.max():.3f} "
            f"mm, e.g. {gaps[worst]:.3f} mm between {names[order[worst]]} and "
            f"{names[order[worst + 1]]}; expected {typical:.3f} mm ± {tolerance:.3f}); a "
            "missing slice or a mixed stack?")
    spacing = float((ordered[-1] - ordered[0]) / (len(ordered) - 1))
    offsets = positions[order] - positions[order[0]]
    across = offsets - np.outer(offsets @ normal, normal)
    shift = np.linalg.norm(across, axis=1)
    if shift.max() > POSITION_TOLERANCE_MM:
        angle = math.degrees(math.atan2(shift[-1], ordered[-1] - ordered[0]))
        raise DicomError(
            f"series {series}: slice positions do not lie along the slice normal "
            f"({shift.max():.2f} mm sideways, a gantry tilt of about {angle:.1f}°); tilted "
            "stacks are refused — resample the series first")
    return order, spacing


def _decode_stack(datasets: Sequence[Dataset], names: Sequence[str], rows: int,
                  columns: int) -> np.ndarray:
    """(slice, row, column) values after RescaleSlope/Intercept: int16 or float32."""
    raw = [_pixels(ds, name, rows, columns) for ds, name in zip(datasets, names, strict=True)]
    scaling = []
    for ds, name in zip(datasets, names, strict=True):
        try:
            scaling.append((float(ds.get("RescaleSlope", 1) or 1),
                            float(ds.get("RescaleIntercept", 0) or 0)))
        except (TypeError, ValueError):
            raise DicomError(f"{name}: RescaleSlope/RescaleIntercept is not numeric") from None
    integral = all(s.is_integer() and i.is_integer() for s, i in scaling)
    if integral:
        extremes = [(int(a.min()) * s + i, int(a.max()) * s + i)
                    for a, (s, i) in zip(raw, scaling, strict=True)]
        low = min(min(e) for e in extremes)
        high = max(max(e) for e in extremes)
        dtype = np.int16 if -(1 << 15) <= low and high < (1 << 15) else np.float32
    else:
        dtype = np.float32
    stack = np.empty((len(raw), rows, columns), dtype=dtype)
    work = np.int32 if dtype == np.int16 else np.float32
    for k, (values, (slope, intercept)) in enumerate(zip(raw, scaling, strict=True)):
        if slope == 1 and intercept == 0:
            stack[k] = values
        else:
            stack[k] = values.astype(work) * work(slope) + work(intercept)
    return stack


def _pixels(ds: Dataset, name: str, rows: int, columns: int) -> np.ndarray:
    """One slice's stored values (rows × columns), checked against its declared length."""
    syntax = transfer_syntax(ds)
    if "PixelData" not in ds:
        raise DicomError(f"{name}: no pixel data (a truncated file?)")
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise DicomError(f"{name}: colour images are not supported (SamplesPerPixel "
                         f"{ds.SamplesPerPixel})")
    bits = int(ds.get("BitsAllocated", 0))
    if bits not in (8, 16, 32):
        raise DicomError(f"{name}: BitsAllocated {bits} is not supported (8, 16 or 32)")
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    stored = int(ds.get("BitsStored", bits))
    if syntax in UNCOMPRESSED and (stored == bits or not signed):
        dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
        try:
            data = ds.PixelData
        except (OSError, EOFError):
            raise DicomError(f"{name}: pixel data cannot be read (truncated file)") from None
        expected = rows * columns * dtype.itemsize
        if len(data) < expected:
            raise DicomError(f"{name}: truncated pixel data ({len(data)} bytes, expected "
                             f"{expected} for {rows}×{columns}×{bits} bits)")
        values = np.frombuffer(data, dtype=dtype, count=rows * columns).reshape(rows, columns)
        return values & np.array((1 << stored) - 1, dtype) if stored < bits else values
    values = decoded_pixels(ds, name)
    if values.shape != (rows, columns):
        raise DicomError(f"{name}: decoded pixel data has shape {values.shape}, expected "
                         f"{(rows, columns)}")
    return values


def decoded_pixels(ds: Dataset, name: str) -> np.ndarray:
    """``ds.pixel_array``, decoded by pydicom's handlers for a compressed transfer syntax; a
    syntax no installed decoder reads, or damaged data, a DicomError naming ``name`` and the
    syntax (series slices and SEG frames alike)."""
    syntax = transfer_syntax(ds)
    try:
        return ds.pixel_array
    except (NotImplementedError, RuntimeError) as error:
        raise DicomError(f"{name}: transfer syntax {syntax_name(syntax)} cannot be decoded "
                         f"here ({str(error).splitlines()[0][:200]})") from None
    except (ValueError, OSError, EOFError, TypeError, KeyError) as error:
        raise DicomError(f"{name}: pixel data in {syntax_name(syntax)} cannot be decoded "
                         f"(damaged or truncated: {type(error).__name__})") from None


def write_nifti(volume: Volume, path: Path, *, array: np.ndarray | None = None) -> Path:
    """Write ``volume`` (or ``array``, e.g. a label map on its grid) as NIfTI-1 with the
    volume's affine as both sform and qform (code 1, scanner). ``.nii.gz`` compresses."""
    data = volume.array if array is None else array
    if data.shape != volume.array.shape:
        raise DicomError(f"array shape {data.shape} does not match the volume "
                         f"{volume.array.shape}")
    if aff2axcodes(volume.affine) != ("R", "A", "S"):
        raise DicomError(f"series {volume.series_instance_uid}: affine is not RAS")
    image = nib.Nifti1Image(data, volume.affine)
    image.set_sform(volume.affine, code=1)
    image.set_qform(volume.affine, code=1)
    image.header.set_xyzt_units("mm", "sec")
    nib.save(image, str(path))
    return Path(path)
