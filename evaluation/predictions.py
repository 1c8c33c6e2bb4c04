"""What a segmentation predictions archive must hold, checked at upload and again before scoring.

One NIfTI file per test case, named like the test image (``liver_17.nii.gz`` or ``liver_17.nii``),
anywhere in the archive. The quick check at upload reads names and NIfTI headers only.
"""

import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from challenges.models import Task
from scorers.errors import InputError
from scorers.nifti import Geometry, check_geometry, read_geometry

from .archives import ArchiveLimits, Member, extract, list_members

NIFTI_SUFFIXES = (".nii.gz", ".nii")
# Enough of a .nii.gz to inflate its header (348 or 540 bytes), even with gzip extra fields.
HEADER_PREFIX_BYTES = 64 * 1024
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
    """Map archive members to test cases; extra files, and missing cases unless allowed, fail."""
    expected = task.case_names
    known = set(expected)
    members: dict[str, Member] = {}
    extra: list[str] = []
    for member in list_members(archive, archive_limits()):
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
    example = f"{expected[0]}.nii.gz" if expected else "<case>.nii.gz"
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

    Only the start of each file is extracted: a NIfTI header is its first 348 (NIfTI-2: 540)
    bytes, which the first compressed bytes of a .nii.gz hold."""
    with tempfile.TemporaryDirectory(dir=_scratch()) as tmp:
        paths = extract(archive, list(files.members.values()), Path(tmp), archive_limits(),
                        head_bytes=HEADER_PREFIX_BYTES)
        for case, member in files.members.items():
            geometry = read_geometry(paths[member.name], name=f"case {case}")
            expected = Geometry.from_dict(task.geometry_of(case))
            check_geometry(geometry, expected, name=f"case {case}")
            paths[member.name].unlink()


def validate_upload(archive: Path, task: Task, *, allow_partial: bool) -> PredictionFiles:
    """The quick checks run at upload: names, missing and extra cases, headers."""
    files = match_cases(archive, task, allow_partial=allow_partial)
    check_headers(archive, task, files)
    return files


def _scratch() -> Path:
    settings.WORK_DIR.mkdir(parents=True, exist_ok=True)
    return settings.WORK_DIR


def _count(items: list[str], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown if len(items) <= _LISTED else f"{shown} and {len(items) - _LISTED} more"
