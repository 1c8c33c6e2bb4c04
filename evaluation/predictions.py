"""What a segmentation predictions archive must hold, checked at upload and again before scoring.

One NIfTI file per test case, named like the test image (``liver_17.nii.gz`` or ``liver_17.nii``),
anywhere in the archive. The quick check at upload reads names and NIfTI headers only. A file
larger than any label map of its case can be (:func:`max_file_bytes`), or a file that is no
test case and larger than any prediction can be, is refused by its declared size as soon as
the archive's listing reaches it, before anything is inflated.
"""

import math
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from challenges.models import Task
from core.archives import ArchiveLimits, Member, human_size, iter_read, list_members
from scorers.errors import InputError
from scorers.nifti import Geometry, ReadLimits, check_geometry, read_geometry

NIFTI_SUFFIXES = (".nii.gz", ".nii")
# Enough of a .nii.gz to inflate its header (348 or 540 bytes), even with gzip extra fields;
# header extensions that run past it are checked when the label map is read for scoring.
HEADER_PREFIX_BYTES = 64 * 1024
# Room for a NIfTI header with extensions, and gzip's worst-case growth of incompressible data.
_HEADER_ROOM_BYTES = ReadLimits.max_header_bytes
_GZIP_GROWTH = 1.01
_LISTED = 8


@dataclass(frozen=True)
class PredictionFiles:
    members: dict[str, Member]  # case → archive member
    missing: list[str]  # cases without a prediction


def archive_limits() -> ArchiveLimits:
    return ArchiveLimits(
        max_members=settings.PODIUM_ARCHIVE_MAX_MEMBERS,
        max_total_bytes=settings.PODIUM_ARCHIVE_MAX_TOTAL_BYTES,
        max_ratio=settings.PODIUM_ARCHIVE_MAX_RATIO,
    )


def case_name(file_name: str) -> str | None:
    for suffix in NIFTI_SUFFIXES:
        if file_name.endswith(suffix) and len(file_name) > len(suffix):
            return file_name[: -len(suffix)]
    return None


def match_cases(archive: Path, task: Task, *, allow_partial: bool) -> PredictionFiles:
    """Map archive members to test cases; extra files, and missing cases unless allowed, fail.

    Sizes are checked at each member's header (:func:`max_file_bytes` for a case, the largest
    of those for a file that is no case), so an oversized member is never inflated."""
    expected = task.case_names
    known = set(expected)
    example = f"{expected[0]}.nii.gz" if expected else "<case>.nii.gz"
    largest = max((max_file_bytes(task, case) for case in expected), default=0)

    def check_size(member: Member) -> None:
        case = case_name(member.name)
        if case in known and member.size > (cap := max_file_bytes(task, case)):
            raise InputError(
                f"case {case}: '{member.name}' is {human_size(member.size)}, more than a label map "
                f"of this case's size can be ({human_size(cap)})"
            )
        if case not in known and member.size > largest:
            raise InputError(
                f"the archive holds '{member.name}' ({human_size(member.size)}), which is not a "
                f"test case (expected one NIfTI file per case, named like the test image, e.g. "
                f"{example})"
            )

    members: dict[str, Member] = {}
    extra: list[str] = []
    for member in list_members(archive, archive_limits(), check_member=check_size):
        case = case_name(member.name)
        if case not in known:
            extra.append(member.name)
        elif case in members:
            raise InputError(
                f"case {case}: the archive holds two predictions "
                f"('{members[case].name}' and '{member.name}')"
            )
        else:
            members[case] = member
    if extra:
        raise InputError(
            f"the archive holds {_count(extra, 'file')} that {'is' if len(extra) == 1 else 'are'} "
            f"not a test case: {listing(extra)} (expected one NIfTI file per case, named like "
            f"the test image, e.g. {example})"
        )
    missing = [case for case in expected if case not in members]
    if missing and not allow_partial:
        raise InputError(
            f"{_count(missing, 'test case')} {'has' if len(missing) == 1 else 'have'} no "
            f"prediction: {listing(missing)} (expected one file per case, e.g. {example})"
        )
    if not members:
        raise InputError(f"the archive holds no predictions (expected files like {example})")
    return PredictionFiles(members=members, missing=missing)


def check_headers(archive: Path, task: Task, files: PredictionFiles) -> None:
    """Read every prediction's NIfTI header and compare it with the test image's geometry.

    Only the start of each file is read (in memory): a NIfTI header is its first 348 (NIfTI-2:
    540) bytes, which the first compressed bytes of a .nii.gz hold."""
    cases = {member.path: case for case, member in files.members.items()}
    for member, head in iter_read(archive, list(files.members.values()), archive_limits(),
                                  head_bytes=HEADER_PREFIX_BYTES):
        case = cases[member.path]
        geometry = read_geometry(member.name, name=f"case {case}", content=head)
        check_geometry(geometry, Geometry.from_dict(task.geometry_of(case)), name=f"case {case}")


def max_file_bytes(task: Task, case: str) -> int:
    """The most bytes a prediction file for ``case`` can hold: its voxels as 8-byte values, a
    header with extensions, and gzip's worst-case growth. A larger file is refused before it is
    read (the worker holds each file in memory while it inflates it)."""
    voxels = math.prod(Geometry.from_dict(task.geometry_of(case)).spatial_shape)
    return int((voxels * 8 + _HEADER_ROOM_BYTES) * _GZIP_GROWTH)


def validate_upload(archive: Path, task: Task, *, allow_partial: bool) -> PredictionFiles:
    """The quick checks run at upload: names, missing and extra cases, headers."""
    files = match_cases(archive, task, allow_partial=allow_partial)
    check_headers(archive, task, files)
    return files


def _count(items: list[str], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown if len(items) <= _LISTED else f"{shown} and {len(items) - _LISTED} more"
