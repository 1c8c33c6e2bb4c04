"""DICOM SEG predictions of segmentation tasks imported from DICOM (docs/dicom.md, "DICOM SEG
predictions").

Where the phase accepts them (``Phase.accepts_dicom_seg``), a case may be predicted by one SEG
file named ``<case>.dcm`` instead of its NIfTI label map. The SEG is checked against the case's
DICOM series as the task stores it (``task.cases[i]["dicom"]``: the series' geometry and UIDs)
by :func:`imaging.seg.read_seg`, its segments mapped to the task's labels by name, and decoded
into a label map on the test image's grid; from there it is scored exactly as a NIfTI
prediction is (:mod:`.segmentation`).

Sizes are bounded from the geometry before a byte is read: a case has S slices of R × C pixels
and L foreground labels, so a SEG holds at most F = S × L frames (``max_frames``), and its file
at most F × R × C bytes of pixels (FRACTIONAL, one byte a pixel; BINARY needs an eighth of
that) plus :data:`PER_FRAME_BYTES` of functional groups per frame and :data:`HEADER_BYTES`
(:func:`max_file_bytes`).
"""

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from django.conf import settings

from challenges.models import Task
from core.archives import ArchiveLimits, Member, iter_read
from core.errors import InvalidInput
from imaging.errors import DicomError
from imaging.geometry import SeriesGeometry
from imaging.seg import SeriesMismatch, read_seg
from scorers.errors import InputError
from scorers.nifti import Geometry, check_geometry

SUFFIX = ".dcm"
DEFAULT_THRESHOLD = 0.5
# A frame's functional groups (plane position, derivation image, segment identification) take
# a few hundred bytes; 4 KiB leaves room for private and optional attributes.
PER_FRAME_BYTES = 4096
HEADER_BYTES = 1 << 20


class _LabelNames(Mapping):
    """The task's label names → values, looked up by a SegmentLabel without regard to case or
    surrounding spaces ("Liver " is "liver"); iterates the names as the task spells them."""

    def __init__(self, labels: dict):
        self._names = {str(name): int(value) for value, name in labels.items()}
        self._folded = {name.strip().casefold(): value for name, value in self._names.items()}

    def __getitem__(self, key: str) -> int:
        return self._folded[str(key).strip().casefold()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def series_of(task: Task, case: str) -> SeriesGeometry | None:
    """The DICOM series of test case ``case`` as the task stores it (None: not from DICOM)."""
    entry = next((c for c in task.cases if c["name"] == case), None)
    dicom = (entry or {}).get("dicom")
    if not dicom:
        return None
    try:
        return SeriesGeometry.from_dict(dicom["geometry"])
    except (KeyError, TypeError, DicomError):
        raise RuntimeError(f"task {task.key}, case {case}: the stored DICOM series is "
                           "malformed") from None


def case_of_series(task: Task, seg: SeriesMismatch, *, excluding: str) -> str | None:
    """The test case (other than ``excluding``) whose series a mismatched SEG annotates: the
    one among the series it references, else the one of its Frame of Reference (which may hold
    several series; then none is named). The task's cases store their UIDs (public image
    metadata)."""
    by_series, by_frame = [], []
    for entry in task.cases:
        dicom = entry.get("dicom") or {}
        if entry["name"] == excluding or not dicom:
            continue
        if dicom.get("series_instance_uid") in seg.referenced_series:
            by_series.append(entry["name"])
        if seg.frame_of_reference_uid and (
                dicom.get("frame_of_reference_uid") == seg.frame_of_reference_uid):
            by_frame.append(entry["name"])
    found = by_series or by_frame
    return found[0] if len(found) == 1 else None


def max_frames(task: Task, series: SeriesGeometry) -> int:
    """One frame per slice and foreground label: the most a SEG of the case needs."""
    return len(series.sop_instance_uids) * max(1, len(task.foreground_labels))


def max_file_bytes(task: Task, case: str) -> int:
    """The most bytes a SEG of ``case`` can hold (module doc); 0 for a case not from DICOM."""
    series = series_of(task, case)
    if series is None:
        return 0
    frames = max_frames(task, series)
    return frames * (series.rows * series.columns + PER_FRAME_BYTES) + HEADER_BYTES


def check_member(task: Task, case: str, member: Member) -> None:
    """What the archive's listing tells about a SEG member: its case has a series, and it is
    not larger than a SEG of that series can be."""
    cap = max_file_bytes(task, case)
    if cap == 0:
        raise InvalidInput(f"case {case}: '{member.name}' is a DICOM SEG, but this case's test "
                           "image was not imported from a DICOM series; predict it as a NIfTI "
                           f"label map ({case}.nii.gz)")
    if member.size > cap:
        raise InvalidInput(
            f"case {case}: '{member.name}' is {member.size} bytes, more than a DICOM SEG of "
            f"this case's series can be ({cap} bytes: at most one frame per slice and label)")


def decode(path: Path, task: Task, case: str, *, threshold: float,
           expected: Geometry) -> np.ndarray:
    """The SEG at ``path`` validated against ``case``'s series and decoded into a label map on
    ``expected`` (the test image's grid): the array a NIfTI prediction of the case would give.
    Raises InvalidInput naming the case."""
    series = series_of(task, case)
    try:
        label_map = read_seg(
            path, reference=series, segment_map=_LabelNames(task.labels),
            labels=[int(v) for v in task.labels], fractional_threshold=threshold,
            max_frames=max_frames(task, series), name=f"case {case}")
    except SeriesMismatch as exc:
        other = case_of_series(task, exc, excluding=case)
        hint = (f"; that is the series of test case {other}: each case's SEG must be made on "
                "that case's own series" if other else "")
        raise InvalidInput(f"{exc}{hint}") from exc
    except DicomError as exc:
        raise InvalidInput(str(exc)) from exc
    grid = Geometry(shape=tuple(series.shape), spacing_mm=tuple(series.spacing),
                    affine=tuple(tuple(float(v) for v in row) for row in series.affine))
    try:
        check_geometry(grid, expected, name=f"case {case}")
    except InputError as exc:  # the task's own records disagree: not the participant's doing
        raise RuntimeError(f"task {task.key}: the stored DICOM series does not match the test "
                           f"image: {exc}") from exc
    return label_map.array


@contextmanager
def on_disk(data: bytearray | Path, member: Member, scratch: Path) -> Iterator[Path]:
    """A member read from the archive as a file (the DICOM reader checks its size on disk);
    removed afterwards."""
    if isinstance(data, Path):
        path = data
    else:
        scratch.mkdir(parents=True, exist_ok=True)
        path = scratch / f"{member.name}.part"
        path.write_bytes(data)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def validate(archive: Path, task: Task, members: dict[str, Member], *, threshold: float,
             limits: ArchiveLimits) -> None:
    """Validate and decode every SEG member (``members``: case → member) as scoring will,
    so a bad SEG fails the upload's checks rather than its scoring."""
    cases = {member.path: case for case, member in members.items()}
    settings.WORK_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.WORK_DIR) as tmp:
        scratch = Path(tmp)
        for member, data in iter_read(archive, list(members.values()), limits,
                                      spill_dir=scratch, spill_above=0):
            case = cases[member.path]
            with on_disk(data, member, scratch) as path:
                decode(path, task, case, threshold=threshold,
                       expected=Geometry.from_dict(task.geometry_of(case)))
