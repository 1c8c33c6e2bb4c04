"""Builders of DICOM test data: CT-like series (pydicom), Segmentation objects (highdicom) and
hostile files. Reusable by any test; docs/dicom.md describes what the readers do with them.

Geometry is defined in patient (LPS) millimetres so tests can check a conversion without the
code under test: :func:`hu_at` gives the CT value at any LPS point and :func:`sphere_mask` a
segment, so the voxel (i, j, k) of a converted volume must hold the value at
``LPS_TO_RAS⁻¹ · affine · (i, j, k, 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    RTStructureSetStorage,
    generate_uid,
)

ORIENTATIONS = {
    # name: (row cosines r, column cosines c); the slice normal is r × c.
    "axial": ((1, 0, 0), (0, 1, 0)),
    "sagittal": ((0, 1, 0), (0, 0, -1)),
    "coronal": ((1, 0, 0), (0, 0, -1)),
    "oblique": ((math.cos(0.35), math.sin(0.35), 0), (-math.sin(0.35), math.cos(0.35), 0)),
}
HU_COEFFICIENTS = np.array([7.0, 3.0, 11.0])  # CT value = round(7x + 3y + 11z), LPS mm
INTERCEPT = -1024
TUMOR = hd.sr.CodedConcept("108369006", "SCT", "Neoplasm")
ORGAN = hd.sr.CodedConcept("10200004", "SCT", "Liver")
TISSUE = hd.sr.CodedConcept("85756007", "SCT", "Tissue")


@dataclass
class SeriesFixture:
    """A written series: ``files``/``datasets`` in acquisition order (slice k at
    ``origin + k·step·normal``, possibly with a gantry-tilt shift), ``positions`` their IPP."""

    files: list[Path]
    datasets: list[Dataset]
    row_cosines: np.ndarray
    column_cosines: np.ndarray
    pixel_spacing: tuple[float, float]
    positions: np.ndarray
    series_uid: str
    frame_uid: str
    study_uid: str
    patient_id: str
    rows: int
    columns: int

    def pixel_world(self) -> np.ndarray:
        """LPS mm of every pixel centre, indexed (slice, row, column, xyz) in file order."""
        j, i = np.meshgrid(np.arange(self.rows), np.arange(self.columns), indexing="ij")
        in_plane = (i[..., None] * self.pixel_spacing[1] * self.row_cosines
                    + j[..., None] * self.pixel_spacing[0] * self.column_cosines)
        return self.positions[:, None, None, :] + in_plane[None]


def hu_at(lps: np.ndarray) -> np.ndarray:
    """The exact (unrounded) CT value the factories store at LPS points (…, 3)."""
    return lps @ HU_COEFFICIENTS


def sphere_mask(lps: np.ndarray, centre: Sequence[float], radius: float) -> np.ndarray:
    return np.sum((lps - np.asarray(centre, float)) ** 2, axis=-1) < radius**2


def ct_series(
    folder: Path,
    *,
    shape: tuple[int, int, int] = (20, 24, 10),
    pixel_spacing: tuple[float, float] = (0.7, 0.7),
    slice_spacing: float = 2.5,
    orientation: str = "axial",
    descending: bool = False,
    tilt_mm: float = 0.0,
    drop_slice: int | None = None,
    origin: Sequence[float] = (-7.0, -8.0, -12.0),
    patient_id: str = "SUBJ-001",
    frame_uid: str | None = None,
    study_uid: str | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian,
) -> SeriesFixture:
    """Write a CT series of ``shape`` = (rows, columns, slices) into ``folder`` (one file per
    slice, ``slice_000.dcm`` …) and return it. ``descending`` lists slices against the normal
    (head first for axial), ``tilt_mm`` shifts each slice that far along the column direction
    (gantry tilt), ``drop_slice`` leaves one slice out (non-uniform spacing)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, columns, slices = shape
    row_cos, col_cos = (np.array(v, float) for v in ORIENTATIONS[orientation])
    normal = np.cross(row_cos, col_cos)
    steps = np.arange(slices)[::-1] if descending else np.arange(slices)
    positions = np.array([np.asarray(origin, float) + k * slice_spacing * normal
                          + k * tilt_mm * col_cos for k in steps])
    if drop_slice is not None:
        positions = np.delete(positions, drop_slice, axis=0)
    fixture = SeriesFixture(
        files=[], datasets=[], row_cosines=row_cos, column_cosines=col_cos,
        pixel_spacing=pixel_spacing, positions=positions, series_uid=generate_uid(),
        frame_uid=frame_uid or generate_uid(), study_uid=study_uid or generate_uid(),
        patient_id=patient_id, rows=rows, columns=columns,
    )
    world = fixture.pixel_world() if rows * columns * slices <= 4_000_000 else None
    for k, position in enumerate(positions):
        if world is not None:
            hu = np.rint(hu_at(world[k]))
        else:  # large series (benchmarks): a cheap smooth pattern
            hu = np.add.outer(np.arange(rows) % 200, np.arange(columns) % 300) - 200.0 + k
        ds = _slice_dataset(fixture, position, k, rows, columns, transfer_syntax)
        ds.PixelData = (hu - INTERCEPT).astype("<i2").tobytes()
        path = folder / f"slice_{k:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        fixture.files.append(path)
        fixture.datasets.append(ds)
    return fixture


def _slice_dataset(fixture: SeriesFixture, position, k: int, rows: int, columns: int,
                   transfer_syntax: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = fixture.study_uid
    ds.SeriesInstanceUID = fixture.series_uid
    ds.FrameOfReferenceUID = fixture.frame_uid
    ds.PatientID = fixture.patient_id
    ds.PatientName = "Anonymous^Subject"
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyDate = "20200101"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.Manufacturer = "Podium tests"
    ds.Modality = "CT"
    ds.SeriesNumber = 1
    ds.InstanceNumber = k + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in
                                  np.concatenate([fixture.row_cosines, fixture.column_cosines])]
    ds.PixelSpacing = [f"{v:g}" for v in fixture.pixel_spacing]
    ds.SliceThickness = "1.0"  # deliberately not the spacing: readers must use positions
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleSlope = 1
    ds.RescaleIntercept = INTERCEPT
    ds.RescaleType = "HU"
    return ds


@dataclass
class Segment:
    """One segment to encode: a (slice, row, column) mask in the series' file order (bool for
    a binary SEG, values in [0, 1] for a fractional one)."""

    label: str
    mask: np.ndarray
    code: hd.sr.CodedConcept = TUMOR


def seg_object(
    path: Path,
    series: SeriesFixture,
    segments: Sequence[Segment],
    *,
    fractional: bool = False,
    max_fractional_value: int = 255,
    omit_empty_frames: bool = True,
    transfer_syntax: str = ExplicitVRLittleEndian,
    **changes,
) -> Path:
    """Write a DICOM SEG over ``series`` with ``segments`` (numbered from 1) via highdicom;
    ``changes`` are attributes set on the finished object (hostile variants, e.g.
    ``FrameOfReferenceUID=...`` or ``NumberOfFrames=10**7``)."""
    pixels = np.stack([s.mask for s in segments], axis=-1)
    if fractional:
        pixels = pixels.astype(np.float32)
    else:
        pixels = pixels.astype(bool)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=n, segment_label=s.label, segmented_property_category=TISSUE,
            segmented_property_type=s.code, algorithm_type="MANUAL",
            tracking_uid=generate_uid(), tracking_id=f"segment {n}",
        )
        for n, s in enumerate(segments, start=1)
    ]
    seg = hd.seg.Segmentation(
        source_images=series.datasets, pixel_array=pixels,
        segmentation_type="FRACTIONAL" if fractional else "BINARY",
        segment_descriptions=descriptions, series_instance_uid=generate_uid(), series_number=99,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer="Podium tests",
        manufacturer_model_name="factory", software_versions="1", device_serial_number="1",
        max_fractional_value=max_fractional_value, omit_empty_frames=omit_empty_frames,
        transfer_syntax_uid=transfer_syntax,
    )
    for keyword, value in changes.items():
        setattr(seg, keyword, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(path)
    return path


def edit(path: Path, destination: Path | None = None, **changes) -> Path:
    """Rewrite a DICOM file with attributes changed (``None`` deletes one)."""
    ds = pydicom.dcmread(path)
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    destination = destination or path
    ds.save_as(destination)
    return destination


def truncated(path: Path, destination: Path, *, keep: float = 0.5) -> Path:
    """A copy of ``path`` cut to ``keep`` of its length."""
    data = path.read_bytes()
    destination.write_bytes(data[: int(len(data) * keep)])
    return destination


def not_dicom(path: Path) -> Path:
    path.write_text("subject,split\nthis is not a DICOM file\n")
    return path


def undecodable(path: Path, destination: Path) -> Path:
    """A copy of a slice whose pixel data is declared HTJ2K (lossless), which pydicom cannot
    decode without pylibjpeg-openjpeg (not installed): bytes of a codestream header only."""
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = HTJ2KLossless
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(60)])
    ds["PixelData"].VR = "OB"
    ds.save_as(destination, enforce_file_format=True)
    return destination


def rtstruct(path: Path, series: SeriesFixture) -> Path:
    """A minimal RT Structure Set header of ``series``' subject (no contours: the readers only
    need to recognise and refuse it)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTStructureSetStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "RTSTRUCT"
    ds.PatientID = series.patient_id
    ds.StudyInstanceUID = series.study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = series.frame_uid
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
