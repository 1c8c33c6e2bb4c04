"""A DICOM Segmentation object (SEG) as a label map on a converted series' voxel grid.

:func:`read_seg` validates a SEG against the :class:`~imaging.series.Volume` it must annotate
and decodes it into a :class:`LabelMap` whose array has the volume's shape and RAS voxel order.
Rules (docs/dicom.md, "SEG decoding"):

* The object is a Segmentation (Modality SEG) in the reference's FrameOfReferenceUID; its
  ReferencedSeriesSequence, when present, names the reference series; Rows/Columns, the plane
  orientation (within 1e-4) and PixelSpacing (within 1e-4 relative) are the series'.
* Resources are bounded before any pixel is read: NumberOfFrames ≤ ``max_frames`` and ≤
  slices × segments (one frame per segment and slice is all a series can hold), and equal to
  the number of per-frame functional groups; uncompressed pixel data must have the declared
  length.
* Each frame is placed on a slice by its ReferencedSOPInstanceUID (DerivationImageSequence →
  SourceImageSequence) or, without one, by its ImagePositionPatient; when both are present they
  must agree. A frame's position must be a slice's position within 0.01 mm (frames that cover
  only part of a slice, or lie between slices, are refused).
* Segments map to labels through ``segment_map``: its key is the SegmentLabel (surrounding
  spaces ignored) or ``"<scheme>:<code>"`` of the SegmentedPropertyTypeCodeSequence (e.g.
  ``"SCT:108369006"``); the SegmentLabel is tried first. Label 0 drops a segment. Without a map
  segment number n becomes label n. A segment the map does not cover is refused, naming it.
* BINARY frames are 1-bit; FRACTIONAL frames hold v ∈ [0, MaximumFractionalValue] and a pixel
  is in the segment when v / MaximumFractionalValue ≥ ``fractional_threshold`` (0.5 by default:
  exactly one half counts as inside).
* Segments mapped to the same label are united. A voxel claimed by segments of two different
  labels is an overlap: refused by default (``overlap="refuse"``, naming the segments and the
  voxel count); ``overlap="highest_label"`` gives the voxel the highest label value.

Every message starts with ``name`` (the case or file as the caller names it).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from imaging.errors import DicomError
from imaging.geometry import SeriesGeometry
from imaging.series import (
    ORIENTATION_TOLERANCE,
    POSITION_TOLERANCE_MM,
    UNCOMPRESSED,
    Volume,
    decoded_pixels,
    orientation,
    read_dicom,
    transfer_syntax,
)

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
DEFAULT_MAX_FRAMES = 100_000
OVERLAP_RULES = ("refuse", "highest_label")


class SeriesMismatch(DicomError):
    """A SEG that annotates another series than the reference: its own
    ``frame_of_reference_uid`` and ``referenced_series`` (Series Instance UIDs), so that a
    caller that knows other series can say which one it is (a SEG swapped between cases)."""

    def __init__(self, message: str, *, frame_of_reference_uid: str,
                 referenced_series: tuple[str, ...]):
        super().__init__(message)
        self.frame_of_reference_uid = frame_of_reference_uid
        self.referenced_series = referenced_series


@dataclass(frozen=True)
class Segment:
    """One segment of a SEG: its number, SegmentLabel, coded concept ``"<scheme>:<code>"`` and
    the label value it was mapped to (0: dropped)."""

    number: int
    label: str
    concept: str
    value: int

    def describe(self) -> str:
        return f"segment {self.number} '{self.label}' ({self.concept})"


@dataclass(frozen=True)
class LabelMap:
    """A decoded SEG: ``array`` (uint8, or uint16 for labels above 255) has the reference
    volume's shape and voxel order; ``segments`` says which segment went to which label;
    ``overlap_voxels`` counts voxels resolved by ``overlap="highest_label"``."""

    array: np.ndarray
    segments: tuple[Segment, ...]
    sop_instance_uid: str
    series_instance_uid: str
    overlap_voxels: int = 0

    @property
    def label_of_segment(self) -> dict[int, int]:
        return {s.number: s.value for s in self.segments}


def read_seg(
    path: Path,
    *,
    reference: Volume | SeriesGeometry,
    segment_map: Mapping[str, int] | None = None,
    labels: Collection[int] | None = None,
    fractional_threshold: float = 0.5,
    overlap: str = "refuse",
    max_frames: int = DEFAULT_MAX_FRAMES,
    name: str | None = None,
) -> LabelMap:
    """Validate the SEG at ``path`` against ``reference`` and decode it (rules in the module
    doc). ``reference`` is the converted series or just its geometry (what a task stores, so
    a prediction is checked without reading the series); ``labels`` is the task's label set,
    when mapped values must belong to it (0 always may). Raises
    :class:`~imaging.errors.DicomError`."""
    name = name or Path(path).name
    reference = reference.geometry if isinstance(reference, Volume) else reference
    if overlap not in OVERLAP_RULES:
        raise ValueError(f"overlap must be one of {OVERLAP_RULES}, got {overlap!r}")
    if not 0 < fractional_threshold <= 1:
        raise ValueError("fractional_threshold must lie in (0, 1]")
    ds = read_dicom(Path(path), name)
    _check_identity(ds, reference, name)
    segments = _segments(ds, segment_map, labels, name)
    frames = _frame_count(ds, reference, len(segments), max_frames, name)
    numbers, slices = _frame_placement(ds, reference, frames, name)
    known = {s.number for s in segments}
    unknown = sorted(set(numbers.tolist()) - known)
    if unknown:
        raise DicomError(f"{name}: frames refer to segment {unknown[0]}, which the "
                         "SegmentSequence does not describe")
    masks = _decode(ds, frames, reference, fractional_threshold, name)
    stack, overlapped = _assemble(masks, numbers, slices, segments, reference, overlap, name)
    return LabelMap(
        array=reference.to_ras(stack), segments=tuple(segments),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        series_instance_uid=str(ds.get("SeriesInstanceUID", "")), overlap_voxels=overlapped,
    )


def _check_identity(ds: Dataset, reference: SeriesGeometry, name: str) -> None:
    modality = ds.get("Modality", "")
    if modality != "SEG" or ds.get("SOPClassUID") != SEGMENTATION_STORAGE:
        raise DicomError(f"{name}: not a DICOM Segmentation (Modality {modality or 'missing'})")
    frame_of_reference = str(ds.get("FrameOfReferenceUID", ""))
    referenced = tuple(str(item.get("SeriesInstanceUID", ""))
                       for item in ds.get("ReferencedSeriesSequence", []))
    identity = {"frame_of_reference_uid": frame_of_reference, "referenced_series": referenced}
    if frame_of_reference != reference.frame_of_reference_uid:
        raise SeriesMismatch(f"{name}: FrameOfReferenceUID {frame_of_reference or '(missing)'} "
                             f"is not the image's {reference.frame_of_reference_uid}", **identity)
    if referenced and reference.series_instance_uid not in referenced:
        raise SeriesMismatch(f"{name}: references series {', '.join(referenced)}, not the "
                             f"image series {reference.series_instance_uid}", **identity)
    size = (int(ds.get("Rows", 0)), int(ds.get("Columns", 0)))
    if size != (reference.rows, reference.columns):
        raise DicomError(f"{name}: frames are {size[0]}×{size[1]} (Rows×Columns), the image "
                         f"slices {reference.rows}×{reference.columns}")


def _segments(ds: Dataset, segment_map: Mapping[str, int] | None,
              labels: Collection[int] | None, name: str) -> list[Segment]:
    items = ds.get("SegmentSequence")
    if not items:
        raise DicomError(f"{name}: no SegmentSequence (no segments described)")
    found, unmapped = [], []
    for item in items:
        number = int(item.get("SegmentNumber", 0))
        label = str(item.get("SegmentLabel", "")).strip()
        codes = item.get("SegmentedPropertyTypeCodeSequence") or [Dataset()]
        concept = f"{codes[0].get('CodingSchemeDesignator', '?')}:{codes[0].get('CodeValue', '?')}"
        if segment_map is None:
            value = number
        elif label in segment_map:
            value = segment_map[label]
        elif concept in segment_map:
            value = segment_map[concept]
        else:
            unmapped.append(Segment(number, label, concept, -1).describe())
            continue
        found.append(Segment(number, label, concept, int(value)))
    if unmapped:
        known = ", ".join(sorted(segment_map)) if segment_map else "nothing"
        raise DicomError(f"{name}: no label for {'; '.join(unmapped)}; the segment mapping "
                         f"knows {known}")
    if len({s.number for s in found}) != len(found):
        raise DicomError(f"{name}: two segments share a SegmentNumber")
    allowed = None if labels is None else {0, *labels}
    for segment in found:
        if not 0 <= segment.value <= 0xFFFF or (allowed and segment.value not in allowed):
            expected = ", ".join(str(v) for v in sorted(allowed)) if allowed else "0–65535"
            raise DicomError(f"{name}: {segment.describe()} maps to label {segment.value}, "
                             f"expected one of {expected}")
    return found


def _frame_count(ds: Dataset, reference: SeriesGeometry, segments: int, max_frames: int,
                 name: str) -> int:
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    slices = len(reference.sop_instance_uids)
    if frames > max_frames:
        raise DicomError(f"{name}: declares {frames} frames, more than the limit of "
                         f"{max_frames}")
    if frames > slices * segments:
        raise DicomError(f"{name}: declares {frames} frames; {slices} slices × {segments} "
                         f"segments = {slices * segments} is the most the series can hold")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is None or len(per_frame) != frames:
        raise DicomError(f"{name}: {0 if per_frame is None else len(per_frame)} per-frame "
                         f"functional groups for {frames} frames")
    return frames


def _first(group: Dataset | None, sequence: str) -> Dataset | None:
    items = group.get(sequence) if group is not None else None
    return items[0] if items else None


def _frame_placement(ds: Dataset, reference: SeriesGeometry, frames: int,
                     name: str) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: its segment number and the index of its slice in ``reference``."""
    geometry = reference
    shared = _first(ds, "SharedFunctionalGroupsSequence")
    _check_plane(shared, reference, f"{name}")
    shared_segment = _first(shared, "SegmentIdentificationSequence")
    index_of = {uid: k for k, uid in enumerate(geometry.sop_instance_uids)}
    numbers = np.empty(frames, dtype=np.int64)
    slices = np.empty(frames, dtype=np.int64)
    for f, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
        where = f"{name}: frame {f + 1}"
        if "PlaneOrientationSequence" in group or "PixelMeasuresSequence" in group:
            _check_plane(group, reference, where)
        segment = _first(group, "SegmentIdentificationSequence") or shared_segment
        if segment is None or "ReferencedSegmentNumber" not in segment:
            raise DicomError(f"{where} names no segment (SegmentIdentificationSequence)")
        numbers[f] = int(segment.ReferencedSegmentNumber)
        uids = [str(source.get("ReferencedSOPInstanceUID", ""))
                for derivation in group.get("DerivationImageSequence", [])
                for source in derivation.get("SourceImageSequence", [])]
        plane = _first(group, "PlanePositionSequence")
        position = None
        if plane is not None and "ImagePositionPatient" in plane:
            position = np.array([float(v) for v in plane.ImagePositionPatient])
        if uids:
            inside = [index_of[uid] for uid in uids if uid in index_of]
            if not inside:
                raise DicomError(f"{where} references SOP instance {uids[0]}, not a slice of "
                                 f"series {reference.series_instance_uid}")
            slices[f] = inside[0]
        elif position is not None:
            distance = (position - geometry.position_array[0]) @ geometry.normal
            slices[f] = min(max(round(distance / geometry.slice_spacing), 0),
                            len(index_of) - 1)
        else:
            raise DicomError(f"{where} has neither a referenced slice nor a position")
        if position is not None:
            offset = float(np.linalg.norm(position - geometry.position_array[slices[f]]))
            if offset > POSITION_TOLERANCE_MM:
                raise DicomError(f"{where} lies {offset:.2f} mm from the image slice it "
                                 f"belongs to (frames must cover whole slices of the series)")
    return numbers, slices


def _check_plane(group: Dataset | None, reference: SeriesGeometry, where: str) -> None:
    plane = _first(group, "PlaneOrientationSequence")
    if plane is not None:
        row, column = orientation(plane, where)
        found = np.concatenate([row, column])
        expected = np.concatenate([reference.row_cosines, reference.column_cosines])
        if np.max(np.abs(found - expected)) > ORIENTATION_TOLERANCE:
            raise DicomError(f"{where}: ImageOrientationPatient "
                             f"{np.round(found, 4).tolist()} is not the image's "
                             f"{np.round(expected, 4).tolist()}")
    measures = _first(group, "PixelMeasuresSequence")
    if measures is not None and "PixelSpacing" in measures:
        found = np.array([float(v) for v in measures.PixelSpacing])
        expected = np.array(reference.pixel_spacing)
        if found.shape != (2,) or np.max(np.abs(found - expected)) > 1e-4 * max(
                1.0, float(expected.max())):
            raise DicomError(f"{where}: PixelSpacing {found.tolist()} is not the image's "
                             f"{expected.tolist()}")


def _decode(ds: Dataset, frames: int, reference: SeriesGeometry, threshold: float,
            name: str) -> np.ndarray:
    """The frames as a (frames, rows, columns) bool array."""
    kind = str(ds.get("SegmentationType", ""))
    if kind not in ("BINARY", "FRACTIONAL"):
        raise DicomError(f"{name}: SegmentationType {kind or '(missing)'} is not BINARY or "
                         "FRACTIONAL")
    bits = int(ds.get("BitsAllocated", 0))
    if bits != (1 if kind == "BINARY" else 8):
        raise DicomError(f"{name}: a {kind} SEG must have BitsAllocated "
                         f"{1 if kind == 'BINARY' else 8}, not {bits}")
    if "PixelData" not in ds:
        raise DicomError(f"{name}: no pixel data (a truncated file?)")
    count = frames * reference.rows * reference.columns
    syntax = transfer_syntax(ds)
    if syntax in UNCOMPRESSED:
        data = ds.PixelData
        expected = math.ceil(count / 8) if kind == "BINARY" else count
        if len(data) < expected:
            raise DicomError(f"{name}: truncated pixel data ({len(data)} bytes, expected "
                             f"{expected} for {frames} frames)")
        raw = np.frombuffer(data, dtype=np.uint8, count=expected)
        values = np.unpackbits(raw, count=count, bitorder="little") if kind == "BINARY" else raw
    else:
        values = decoded_pixels(ds, name)
        if values.size != count:
            raise DicomError(f"{name}: decoded {values.size} pixels, expected {count}")
        values = values.astype(np.uint8, copy=False).reshape(-1)
    values = values.reshape(frames, reference.rows, reference.columns)
    if kind == "BINARY":
        # np.unpackbits gives 0/1 bytes, which are bools as they are; decoders may give 0/255.
        return values.view(bool) if syntax in UNCOMPRESSED else values != 0
    maximum = int(ds.get("MaximumFractionalValue", 0) or 0)
    if not 1 <= maximum <= 255:
        raise DicomError(f"{name}: MaximumFractionalValue {maximum} must be 1–255")
    # v / max ≥ t  ⇔  v ≥ ⌈t·max⌉ for integer v (1e-9 absorbs t·max landing on an integer).
    return values >= math.ceil(threshold * maximum - 1e-9)


def _assemble(masks: np.ndarray, numbers: np.ndarray, slices: np.ndarray,
              segments: list[Segment], reference: SeriesGeometry, overlap: str,
              name: str) -> tuple[np.ndarray, int]:
    """Write each frame's label into a (slice, row, column) stack in geometry order."""
    value_of = {s.number: s.value for s in segments}
    top = max(value_of.values(), default=0)
    shape = (len(reference.sop_instance_uids), reference.rows, reference.columns)
    stack = np.zeros(shape, dtype=np.uint8 if top <= 255 else np.uint16)
    conflict = None
    for mask, number, k in zip(masks, numbers.tolist(), slices.tolist(), strict=True):
        value = value_of[number]
        if value == 0 or not mask.any():
            continue
        plane = stack[k]
        taken = mask & (plane != 0)
        clash = taken & (plane != value) if taken.any() else None
        if clash is not None and clash.any():
            if conflict is None:
                conflict = np.zeros(shape, dtype=bool)
            conflict[k] |= clash
        np.maximum(plane, plane.dtype.type(value), out=plane, where=mask)
    overlapped = int(conflict.sum()) if conflict is not None else 0
    if overlapped and overlap == "refuse":
        involved = sorted({int(v) for v in np.unique(stack[conflict])}
                          | _lower_labels(masks, numbers, slices, value_of, conflict))
        names = "; ".join(s.describe() for s in segments if s.value in involved)
        raise DicomError(f"{name}: {overlapped} voxels belong to segments of different labels "
                         f"({names}); overlapping segments are refused")
    return stack, overlapped


def _lower_labels(masks, numbers, slices, value_of, conflict) -> set[int]:
    """Labels of segments touching a conflicting voxel (the stack keeps only the highest)."""
    found = set()
    for mask, number, k in zip(masks, numbers.tolist(), slices.tolist(), strict=True):
        if value_of[number] and conflict[k].any() and (mask & conflict[k]).any():
            found.add(value_of[number])
    return found
