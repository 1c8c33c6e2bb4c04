"""Segmentation tasks: what a predictions archive must hold (checked at upload and again before
scoring), and scoring it case by case into per-label metric values.

One NIfTI file per test case, named like the test image (``liver_17.nii.gz`` or ``liver_17.nii``),
anywhere in the archive. The quick check at upload reads names and NIfTI headers only. A file
larger than any label map of its case can be (:func:`max_file_bytes`), or a file that is no
test case and larger than any prediction can be, is refused by its declared size as soon as
the archive's listing reaches it, before anything is inflated.

A phase that accepts DICOM SEG (``Phase.accepts_dicom_seg``) also takes ``<case>.dcm`` for a
case whose test image came from a DICOM series; :mod:`.dicom_seg` checks and decodes it, and
the decoded label map is scored like a NIfTI one.
"""

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from challenges.models import GroundTruth, Phase, Task
from core.archives import ArchiveLimits, Member, detect_format, human_size, iter_read, list_members
from core.errors import GroundTruthError, InvalidInput, from_scorers
from core.storage import local_path, private_storage
from scorers.errors import InputError as ScorerInputError
from scorers.metrics import SEGMENTATION
from scorers.nifti import Geometry, ReadLimits, check_geometry, read_geometry, read_label_map
from scorers.segmentation import score_case

from .. import references
from ..models import CaseResult
from ..prefetch import ahead
from ..results import aggregate, missing_case_values
from . import dicom_seg
from .base import Row, ScoringJob, TaskKind

log = logging.getLogger(__name__)

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


def case_name(file_name: str, *, dicom: bool = False) -> str | None:
    """The case a file name predicts (``dicom``: ``<case>.dcm`` names one too)."""
    for suffix in NIFTI_SUFFIXES + ((dicom_seg.SUFFIX,) if dicom else ()):
        if file_name.endswith(suffix) and len(file_name) > len(suffix):
            return file_name[: -len(suffix)]
    return None


def match_cases(archive: Path, task: Task, *, allow_partial: bool,
                dicom: bool = False) -> PredictionFiles:
    """Map archive members to test cases; extra files, and missing cases unless allowed, fail.
    With ``dicom``, a case may be predicted by ``<case>.dcm`` (a DICOM SEG).

    Sizes are checked at each member's header (:func:`max_file_bytes` for a case, the largest
    of those for a file that is no case), so an oversized member is never inflated."""
    expected = task.case_names
    known = set(expected)
    example = f"{expected[0]}.nii.gz" if expected else "<case>.nii.gz"
    largest = max((max(max_file_bytes(task, case),
                       dicom_seg.max_file_bytes(task, case) if dicom else 0)
                   for case in expected), default=0)

    def check_size(member: Member) -> None:
        case = case_name(member.name, dicom=dicom)
        if case in known and is_seg(member):
            dicom_seg.check_member(task, case, member)
        elif case in known and member.size > (cap := max_file_bytes(task, case)):
            raise InvalidInput(
                f"case {case}: '{member.name}' is {human_size(member.size)}, more than a label map "
                f"of this case's size can be ({human_size(cap)})"
            )
        if case not in known and member.size > largest:
            raise InvalidInput(
                f"the archive holds '{member.name}' ({human_size(member.size)}), which is not a "
                f"test case (expected one NIfTI file per case, named like the test image, e.g. "
                f"{example})"
            )

    members: dict[str, Member] = {}
    extra: list[str] = []
    for member in list_members(archive, archive_limits(), check_member=check_size):
        case = case_name(member.name, dicom=dicom)
        if case not in known:
            extra.append(member.name)
        elif case in members:
            raise InvalidInput(
                f"case {case}: the archive holds two predictions "
                f"('{members[case].name}' and '{member.name}')"
            )
        else:
            members[case] = member
    if extra:
        raise InvalidInput(
            f"the archive holds {_count(extra, 'file')} that {'is' if len(extra) == 1 else 'are'} "
            f"not a test case: {listing(extra)} (expected one NIfTI file per case, named like "
            f"the test image, e.g. {example}"
            + ("" if dicom or not any(name.endswith(dicom_seg.SUFFIX) for name in extra)
               else "; this phase does not accept DICOM SEG") + ")"
        )
    missing = [case for case in expected if case not in members]
    if missing and not allow_partial:
        raise InvalidInput(
            f"{_count(missing, 'test case')} {'has' if len(missing) == 1 else 'have'} no "
            f"prediction: {listing(missing)} (expected one file per case, e.g. {example})"
        )
    if not members:
        raise InvalidInput(f"the archive holds no predictions (expected files like {example})")
    return PredictionFiles(members=members, missing=missing)


def check_headers(archive: Path, task: Task, files: PredictionFiles) -> None:
    """Read every prediction's NIfTI header and compare it with the test image's geometry.

    Only the start of each file is read (in memory): a NIfTI header is its first 348 (NIfTI-2:
    540) bytes, which the first compressed bytes of a .nii.gz hold."""
    cases = {member.path: case for case, member in files.members.items()}
    niftis = [member for member in files.members.values() if not is_seg(member)]
    for member, head in iter_read(archive, niftis, archive_limits(),
                                  head_bytes=HEADER_PREFIX_BYTES):
        case = cases[member.path]
        with from_scorers():
            geometry = read_geometry(member.name, name=f"case {case}", content=head)
            check_geometry(geometry, Geometry.from_dict(task.geometry_of(case)),
                           name=f"case {case}")


def max_file_bytes(task: Task, case: str) -> int:
    """The most bytes a prediction file for ``case`` can hold: its voxels as 8-byte values, a
    header with extensions, and gzip's worst-case growth. A larger file is refused before it is
    read (the worker holds each file in memory while it inflates it)."""
    voxels = math.prod(Geometry.from_dict(task.geometry_of(case)).spatial_shape)
    return int((voxels * 8 + _HEADER_ROOM_BYTES) * _GZIP_GROWTH)


def is_seg(member: Member) -> bool:
    return member.name.endswith(dicom_seg.SUFFIX)


def validate_upload(archive: Path, task: Task, *, allow_partial: bool,
                    dicom: bool = False) -> PredictionFiles:
    """The quick checks run at upload: names, missing and extra cases, NIfTI headers (a DICOM
    SEG's checks are :func:`check_segs`')."""
    files = match_cases(archive, task, allow_partial=allow_partial, dicom=dicom)
    check_headers(archive, task, files)
    return files


def check_segs(archive: Path, phase: Phase, files: PredictionFiles) -> None:
    """Validate and decode every DICOM SEG of the archive, as scoring will."""
    segs = {case: member for case, member in files.members.items() if is_seg(member)}
    if segs:
        dicom_seg.validate(archive, phase.task, segs, threshold=phase.seg_fractional_threshold,
                           limits=archive_limits())


def _count(items: list[str], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown if len(items) <= _LISTED else f"{shown} and {len(items) - _LISTED} more"


class SegmentationKind(TaskKind):
    """NIfTI label maps, one per case; per-label metric values per case, scored in shards."""

    name = SEGMENTATION

    def check_in_request(self, upload: Path, phase: Phase) -> bool:
        if detect_format(upload) != "zip":
            return False  # a tar is read as a stream: listing it costs as much as reading it
        files = validate_upload(upload, phase.task, allow_partial=phase.allow_partial,
                                dicom=phase.accepts_dicom_seg)
        # Decoding a SEG costs up to a second a case: a worker does it.
        return not any(is_seg(member) for member in files.members.values())

    def check(self, upload: Path, phase: Phase) -> None:
        files = validate_upload(upload, phase.task, allow_partial=phase.allow_partial,
                                dicom=phase.accepts_dicom_seg)
        check_segs(upload, phase, files)

    def shards(self, task: Task, shard_cases: int) -> int:
        return max(1, math.ceil(len(task.cases) / shard_cases))

    def prepare(self, archive: Path, task: Task) -> PredictionFiles:
        # A .dcm member passed the upload's checks only where the phase accepted DICOM SEG.
        return match_cases(archive, task, allow_partial=True, dicom=True)

    def score(self, job: ScoringJob) -> Iterator[tuple[str, list[Row]]]:
        with from_scorers():  # the participant's files, read by the metric library
            yield from self._score(job)

    def _score(self, job: ScoringJob) -> Iterator[tuple[str, list[Row]]]:
        """Each prediction is read from the archive and checked on a helper thread while the
        case before it is scored (:mod:`evaluation.prefetch`); cases without a prediction get
        the missing-case values. Logs how much of the shard's time went to ``score_case``."""
        evaluation, task, files = job.evaluation, job.task, job.prepared
        config = evaluation.metric_config
        metrics = config["metrics"]
        labels = [int(label) for label in config["labels"]]
        tolerances = {int(k): float(v) for k, v in config["nsd_tolerance_mm"].items()}
        allowed_values = sorted(int(value) for value in task.labels)
        ground_truth = evaluation.ground_truth  # loaded here: the reader thread uses no database
        threshold = config.get("seg_fractional_threshold", dicom_seg.DEFAULT_THRESHOLD)
        present = {files.members[case].name: case for case in job.cases if case in files.members}

        def loaded():
            """(case, prediction, reference, geometry) for every case with a prediction, in
            archive order, each read from the archive and checked while the one before is
            scored."""
            members = [files.members[case] for case in present.values()]
            for member, data in iter_read(job.archive, members, archive_limits(),
                                          spill_dir=job.scratch / "predictions"):
                case = present[member.name]
                reference, geometry = _read_reference(ground_truth, task, case, job.scratch)
                spilled = isinstance(data, Path)  # a large file, read from disk
                if is_seg(member):
                    with dicom_seg.on_disk(data, member, job.scratch / "predictions") as path:
                        prediction = dicom_seg.decode(path, task, case, threshold=threshold,
                                                      expected=geometry)
                else:
                    prediction, _ = read_label_map(data if spilled else member.name,
                                                   name=f"case {case}", labels=allowed_values,
                                                   expected=geometry,
                                                   content=None if spilled else data)
                if spilled:
                    data.unlink(missing_ok=True)
                del data  # not kept while the next one is read
                yield case, prediction, reference, geometry

        started = time.perf_counter()
        scoring_s = waiting_s = 0.0
        scored = 0
        with ahead(loaded()) as items:
            asked = time.perf_counter()
            for case, prediction, reference, geometry in items:
                before = time.perf_counter()
                waiting_s += before - asked
                scores = score_case(prediction, reference, spacing_mm=geometry.spacing_mm,
                                    labels=labels, nsd_tolerance_mm=tolerances,
                                    surface=config["surface"], metrics=metrics)
                scoring_s += time.perf_counter() - before
                scored += 1
                yield case, [Row(label, {m: _finite_or_none(scores[label][m]) for m in metrics})
                             for label in labels]
                asked = time.perf_counter()
        if scored != len(present):
            raise RuntimeError(f"read {scored} of the {len(present)} predictions of the shard")
        for case in job.cases:
            if case not in files.members:
                _read_reference(ground_truth, task, case, job.scratch)  # a broken label shows
                yield case, [Row(label, missing_case_values(metrics), missing=True)
                             for label in labels]
        log.info("evaluation %s: %d cases in %.3f s: %.3f s in score_case, %.3f s waiting for "
                 "predictions to be read", evaluation.id, len(job.cases),
                 time.perf_counter() - started, scoring_s, waiting_s)

    def summarize(self, job: ScoringJob) -> tuple[dict, str]:
        evaluation, task = job.evaluation, job.task
        results = CaseResult.objects.filter(evaluation=evaluation)
        rows = list(results.values("case", "label", "values"))
        geometries = {case: task.geometry_of(case) for case in task.case_names}
        summary = aggregate(rows, config=evaluation.metric_config, geometries=geometries)
        missing = results.filter(missing=True).values("case").distinct().count()
        message = f"Scored {len(task.cases)} cases."
        if missing:
            message += f" {missing} without a prediction counted as the worst value."
        return summary, message


def _read_reference(ground_truth: GroundTruth, task: Task, case: str, scratch: Path):
    entry = ground_truth.files[case]

    def read():
        with local_path(private_storage(), entry["path"], scratch) as path:
            return read_label_map(path, name=f"reference {case}",
                                  labels=[int(v) for v in task.labels])

    try:
        return references.reference(entry["path"], read)
    except ScorerInputError as exc:
        raise GroundTruthError(f"ground truth v{ground_truth.version}: {exc}") from exc


def _finite_or_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
