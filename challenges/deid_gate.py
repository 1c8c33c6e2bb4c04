"""The de-identification gate (docs/dicom.md, "De-identification gate"): before a task's test
images reach participants (downloads) or containers (algorithm runs), Podium checks them with
:mod:`imaging.deid` and keeps them back while the check has findings nobody accepted.

One :class:`~challenges.models.DeidReview` per task. The importer checks a new task's images;
an organizer re-checks from the console or the organizer API. A task with a pending review (one
imported before the gate: the migration gave it one) or whose stored images changed since the
check is checked on first access, so it counts as clean only once a check found nothing. A task
without a review row was not made by an import (a row typed in code) and is not gated.
"""

import hashlib
import json
import logging
from pathlib import PurePosixPath

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput
from core.storage import private_storage
from imaging import deid

from .models import DeidReview, Task

log = logging.getLogger(__name__)

MAX_STORED_FINDINGS = 2000
"""The findings a review keeps (its ``finding_count`` counts them all): enough to show every
kind of problem, bounded for a series of thousands of slices with vendor private tags."""
NIFTI_SUFFIXES = (".nii.gz", ".nii")
DICOM_SUFFIXES = (".dcm",)
OPTIONS = deid.DeidOptions()
"""The profile the gate applies: dates are findings, patient characteristics kept (imaging.deid)."""


def images_sha256(task: Task) -> str:
    """A hash of the task's stored test images: their storage names are content hashes, so it
    changes exactly when an image does."""
    listing = "".join(f"{case}:{name}\n" for case, name in sorted(task.images.items()))
    return hashlib.sha256(listing.encode()).hexdigest()


def _file_label(task: Task, case: str) -> str:
    """The image's name as participants know it (``imagesTs/<file>``), never a storage path."""
    for entry in task.cases:
        if entry["name"] == case and entry.get("image"):
            return entry["image"]
    return case


def check_file(storage, name: str, label: str) -> tuple[list[deid.Finding], str]:
    """The findings of one stored image and, for DICOM, its own de-identification record."""
    lowered = name.lower()
    try:
        with storage.open(name, "rb") as handle:
            if lowered.endswith(NIFTI_SUFFIXES):
                return deid.check_nifti(handle, name=label), ""
            if lowered.endswith(DICOM_SUFFIXES):
                dataset = deid.read_dicom(handle, name=label, image=True)
                return (deid.check_dicom(dataset, name=label, options=OPTIONS),
                        deid.declared_deidentification(dataset))
    except Exception as exc:  # whatever stops the check holds the file back
        if isinstance(exc, deid.UnreadableFile):
            message = str(exc)
        else:
            log.warning("de-identification check of %s: %s: %s", label, type(exc).__name__, exc)
            message = "cannot be opened or parsed"
        return [deid.Finding(label, "(whole file)", "unreadable, so not checked",
                             deid.preview(message.removeprefix(f"{label}: ")), deid.HIGH)], ""
    return [deid.Finding(label, "(whole file)", "format not checked (look at it yourself)",
                         PurePosixPath(label).suffix or "no suffix", deid.MEDIUM)], ""


def check_task(task: Task) -> DeidReview:
    """Check every stored test image of ``task`` and record the result in its review (created
    if needed): clean, or findings — unless these very findings were accepted before, in which
    case the acceptance stands."""
    storage = private_storage()
    findings, declared = [], {}
    for case in sorted(task.images):
        label = _file_label(task, case)
        found, record = check_file(storage, task.images[case], label)
        findings.extend(finding.to_dict() for finding in found)
        if record:
            declared[label] = record
    digest = hashlib.sha256(json.dumps(findings, sort_keys=True).encode()).hexdigest()
    with transaction.atomic():
        review, _ = DeidReview.objects.select_for_update().get_or_create(task=task)
        still_accepted = (review.status == DeidReview.ACCEPTED and findings
                          and review.findings_sha256 == digest)
        if not still_accepted:
            review.accepted_by, review.accepted_at, review.accepted_reason = None, None, ""
        review.status = (DeidReview.ACCEPTED if still_accepted
                         else DeidReview.FINDINGS if findings else DeidReview.CLEAN)
        review.images_sha256 = images_sha256(task)
        review.files_checked = len(task.images)
        review.finding_count = len(findings)
        review.findings = findings[:MAX_STORED_FINDINGS]
        review.findings_sha256 = digest
        review.declared = declared
        review.checked_at = timezone.now()
        review.save()
    log.info("de-identification check of %s: %s, %d finding(s) in %d file(s)", task.key,
             review.status, len(findings), len(task.images))
    return review


def current_review(task: Task) -> DeidReview | None:
    """The task's review, checked now if it never was or the stored images changed since;
    None for a task no import made (not gated)."""
    review = DeidReview.objects.filter(task=task).first()
    if review is None:
        return None
    if review.status == DeidReview.PENDING or review.images_sha256 != images_sha256(task):
        review = check_task(task)
    return review


def held_tasks(task_ids) -> set:
    """Which of the tasks have their test images held back by findings no organizer accepted
    yet, from the stored reviews alone (cheap enough for every page; nothing is checked)."""
    return set(DeidReview.objects.filter(task_id__in=list(task_ids),
                                         status=DeidReview.FINDINGS)
               .values_list("task_id", flat=True))


def refusal(task: Task, *, for_run: bool = False) -> str | None:
    """Why participants may not have ``task``'s test images yet, or None when they may. Says
    nothing of the findings themselves (they may quote a patient's name)."""
    review = current_review(task)
    if review is None or not review.holds_images:
        return None
    held = (f"The test images of {task.key} are held back while the organizers review them for "
            "patient information (de-identification check).")
    if for_run:
        return f"{held} The algorithm was not run; submit it again once the review is done."
    return f"{held} They can be downloaded once the review is done."


def accept(review: DeidReview, user, reason: str) -> DeidReview:
    """Record that ``user`` accepts the review's findings for ``reason`` (required): the images
    are released as they are. Only a review with findings can be accepted."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("give the reason why these findings are acceptable")
    with transaction.atomic():
        review = DeidReview.objects.select_for_update().get(pk=review.pk)
        if review.status != DeidReview.FINDINGS:
            raise InvalidInput(f"the review of {review.task.key} has no findings to accept "
                               f"(it is {review.get_status_display().lower()})")
        review.status = DeidReview.ACCEPTED
        review.accepted_by, review.accepted_at = user, timezone.now()
        review.accepted_reason = reason[:5000]
        review.save(update_fields=["status", "accepted_by", "accepted_at", "accepted_reason"])
    return review


def import_notes(review: DeidReview) -> list[str]:
    """What an import reports of the check it ran."""
    if review.status == DeidReview.CLEAN:
        return []
    return [f"de-identification check: {review.finding_count} finding(s) in the test images; "
            "participants cannot download them and no algorithm runs on them until the findings "
            "are fixed or accepted in the console (De-identification reviews)"]


def findings_by_file(review: DeidReview) -> list[tuple[str, list[dict]]]:
    """The stored findings grouped by file, in file order (what the console shows)."""
    grouped: dict[str, list[dict]] = {}
    for finding in review.findings:
        grouped.setdefault(finding["file"], []).append(finding)
    return sorted(grouped.items())
