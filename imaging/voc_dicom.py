"""Detection labels on DICOM: VOC boxes named after SOP Instance UIDs, placed on their slice.

Lung-PET-CT-Dx ships one PASCAL VOC XML file per annotated CT slice, named
``<SOPInstanceUID>.xml``, beside the DICOM series. :func:`index_slices` reads the headers of a
folder of series (``<root>/<subject>/…/*.dcm``) and finds, for every SOP Instance UID asked
for, its series and its place in the series, so that each box lives in a known image. Rules
(docs/dicom.md, "Detection on DICOM"):

* ``root`` holds one folder per subject (the folder's name is the subject); each holds the
  subject's series in any nesting. ``.dcm`` files (any case) are read as DICOM; hidden files,
  ``DICOMDIR`` and ``.csv``/``.json``/``.txt``/``.md``/``.xml``/``.pdf`` files are skipped;
  any other file, a symbolic link or a file directly in ``root`` is refused by its path.
* Files are grouped by SeriesInstanceUID. Only series holding a wanted UID are checked further:
  their geometry comes from :func:`imaging.series.read_series_geometry` (one series, slices
  ordered by position along the normal, uniform spacing, no gantry tilt), so the slice index
  is the index along ``slice_axis`` of the RAS volume :func:`imaging.series.read_series` makes
  (the MSD-style NIfTI of the series), for any orientation or file order.
* A SOP Instance UID in two files, or an annotated series spread over two subject folders,
  is refused.

:func:`check_boxes` checks boxes in DICOM pixel coordinates (x along a row, i.e. the column
index; y the row index; VOC's convention) against the slice: 0 ≤ xmin < xmax ≤ Columns and
0 ≤ ymin < ymax ≤ Rows; :func:`check_size` checks a VOC ``<size>`` against Columns × Rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from imaging.errors import DicomError
from imaging.series import DEFAULT_MAX_VOXELS, read_dicom, read_series_geometry

SKIPPED_SUFFIXES = (".csv", ".json", ".txt", ".md", ".xml", ".pdf")
DICOM_SUFFIX = ".dcm"


@dataclass(frozen=True)
class SliceRef:
    """Where one SOP instance lies: its ``file`` (``name`` relative to the indexed folder, for
    messages and records), ``subject`` (the folder under the root), its series and the slice's
    index along ``slice_axis`` of the series' RAS volume (``slices`` slices in all), and the
    slice's size in pixels (``rows`` × ``columns``)."""

    sop_instance_uid: str
    series_instance_uid: str
    subject: str
    file: Path
    name: str
    slice_index: int
    slice_axis: int
    slices: int
    rows: int
    columns: int

    def to_dict(self) -> dict:
        """JSON for a task's case record (no server path: ``file`` is the name under root)."""
        return {"subject": self.subject, "series_instance_uid": self.series_instance_uid,
                "sop_instance_uid": self.sop_instance_uid, "file": self.name,
                "slice_index": self.slice_index, "slice_axis": self.slice_axis,
                "slices": self.slices, "rows": self.rows, "columns": self.columns}


@dataclass(frozen=True)
class SliceIndex:
    """The located slices (SOP Instance UID → :class:`SliceRef`) and what was read."""

    slices: dict[str, SliceRef]
    series_count: int
    file_count: int
    label: str

    def locate(self, sop_instance_uid: str, *, name: str) -> SliceRef:
        """The slice of ``sop_instance_uid``; ``name`` (the label file) starts the message."""
        found = self.slices.get(sop_instance_uid)
        if found is None:
            raise DicomError(
                f"{name}: SOP Instance UID {sop_instance_uid} is in no series of {self.label}/ "
                f"({self.series_count} series, {self.file_count} DICOM files); the file must "
                "be named <SOPInstanceUID>.xml after the annotated slice")
        return found


def index_slices(
    root: Path,
    *,
    wanted: Collection[str],
    label: str = "imagesTs",
    max_voxels: int = DEFAULT_MAX_VOXELS,
) -> SliceIndex:
    """Locate the SOP instances ``wanted`` in the series under ``root`` (rules in the module
    doc); ``label`` names ``root`` in messages. UIDs not found are simply absent: ask
    :meth:`SliceIndex.locate`, which refuses them by name. Raises :class:`DicomError`."""
    root = Path(root)
    wanted = set(wanted)
    files = _dicom_files(root, label)
    by_series: dict[str, list[tuple[Path, str, str, str]]] = defaultdict(list)
    owner: dict[str, str] = {}
    for path, name, subject in files:
        ds = read_dicom(path, name, headers_only=True)
        uid = str(ds.get("SOPInstanceUID", "") or "")
        if not uid:
            raise DicomError(f"{name}: missing SOPInstanceUID")
        if uid in owner:
            raise DicomError(f"SOP Instance UID {uid} is in two files: {owner[uid]} and {name}")
        owner[uid] = name
        series = str(ds.get("SeriesInstanceUID", "") or "")
        if not series:
            raise DicomError(f"{name}: missing SeriesInstanceUID")
        by_series[series].append((path, name, subject, uid))
    located: dict[str, SliceRef] = {}
    for series, members in by_series.items():
        if not any(uid in wanted for *_, uid in members):
            continue
        subjects = sorted({subject for _, _, subject, _ in members})
        if len(subjects) > 1:
            raise DicomError(f"series {series} is in two subject folders: "
                             f"{label}/{subjects[0]} and {label}/{subjects[1]}")
        geometry = read_series_geometry([m[0] for m in members], names=[m[1] for m in members],
                                        max_voxels=max_voxels)
        file_of = {uid: (path, name) for path, name, _, uid in members}
        order = geometry.ras_sop_instance_uids
        for index, uid in enumerate(order):
            if uid in wanted:
                path, name = file_of[uid]
                located[uid] = SliceRef(
                    sop_instance_uid=uid, series_instance_uid=series, subject=subjects[0],
                    file=path, name=name, slice_index=index, slice_axis=geometry.slice_axis,
                    slices=len(order), rows=geometry.rows, columns=geometry.columns)
    return SliceIndex(slices=located, series_count=len(by_series), file_count=len(files),
                      label=label)


def _dicom_files(root: Path, label: str) -> list[tuple[Path, str, str]]:
    """(path, name relative to the root's parent, subject) of every DICOM file to read."""
    found = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink() or not entry.is_dir():
            raise DicomError(f"{label}/{entry.name}: expected one folder per subject holding "
                             "its DICOM series (imagesTs/<subject>/…/<file>.dcm)")
        for path in sorted(entry.rglob("*")):
            relative = path.relative_to(root).as_posix()
            name = f"{label}/{relative}"
            if any(part.startswith(".") for part in path.relative_to(root).parts):
                continue
            if path.is_symlink():
                raise DicomError(f"{name}: a symbolic link; store the file itself")
            if path.is_dir() or path.name == "DICOMDIR" or path.suffix.lower() in (
                    SKIPPED_SUFFIXES):
                continue
            if path.suffix.lower() != DICOM_SUFFIX:
                raise DicomError(f"{name}: not a DICOM slice (expected a .dcm file; "
                                 f"{', '.join(SKIPPED_SUFFIXES)} files are skipped)")
            found.append((path, name, entry.name))
    return found


def check_boxes(ref: SliceRef, boxes: Iterable[tuple[float, float, float, float]], *,
                name: str) -> None:
    """Refuse a box (xmin, ymin, xmax, ymax, in pixels) outside the slice: it needs
    0 ≤ xmin < xmax ≤ Columns and 0 ≤ ymin < ymax ≤ Rows. ``name`` (the label file) and the
    object's number (from 1) start the message."""
    for number, (xmin, ymin, xmax, ymax) in enumerate(boxes, start=1):
        if not (0 <= xmin < xmax <= ref.columns and 0 <= ymin < ymax <= ref.rows):
            raise DicomError(
                f"{name}: object {number}: box ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) lies "
                f"outside slice {ref.sop_instance_uid} ({ref.name}: {ref.columns} columns × "
                f"{ref.rows} rows); it needs 0 <= xmin < xmax <= {ref.columns} and "
                f"0 <= ymin < ymax <= {ref.rows}")


def check_size(ref: SliceRef, width: int, height: int, *, name: str) -> None:
    """Refuse a VOC ``<size>`` other than the slice's Columns × Rows."""
    if (width, height) != (ref.columns, ref.rows):
        raise DicomError(
            f"{name}: <size> is {width}×{height} (width×height), but slice "
            f"{ref.sop_instance_uid} ({ref.name}) is {ref.columns}×{ref.rows} "
            "(Columns×Rows); correct <size> to the slice's")
