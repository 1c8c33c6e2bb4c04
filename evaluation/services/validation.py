"""Checking an upload: the checks a web request may run, and the ``validating`` step.

A web request stores the upload and runs only checks whose cost is bounded by the task, not by
the upload's content: the size cap, the format from the first bytes, and for a zip of
segmentation predictions its directory and every prediction's NIfTI header (one header per test
case). Everything whose cost grows with the content — reading a tar stream, parsing a box file,
inspecting an algorithm image — runs in a worker, as the evaluation's ``validating`` state,
with the same messages. An upload refused there ends ``failed`` with the message, and, like an
upload refused in the request, does not count against the submission limit.
"""

import logging
import shutil
import traceback
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from challenges.models import Phase
from core.errors import InvalidInput, PodiumError
from core.storage import StoredFileDamaged, StoredFileMissing, file_sha256, local_path

from ..algorithm_images import GZIP_MAGIC, inspect_archive
from ..kinds import kind_of
from ..models import Evaluation, State, Submission
from ..notifications import CHECKING_STOPPED, internal_error_message
from ..states import InvalidTransition, transition
from . import entrants, faults
from .queueing import enqueue

log = logging.getLogger(__name__)

CHECKING_MESSAGE = "The upload is stored; a worker is checking it before it is queued."


def neutral_message(evaluation: Evaluation) -> str:
    """What the participant is told when an internal error stopped the upload's checks."""
    return internal_error_message(evaluation.submission.phase.task.challenge, CHECKING_STOPPED,
                                  "You do not need to upload it again.")


def check_in_request(phase: Phase, local: Path) -> bool:
    """The checks a request runs on a received upload; True when they are all its checks
    (nothing is left for a worker). Raises InvalidInput."""
    if phase.submission_kind == Phase.ALGORITHM:
        _check_image_magic(local)
        return False
    return kind_of(phase.task).check_in_request(local, phase)


def check_in_worker(submission: Submission, local: Path) -> str:
    """Every check of a stored upload; returns the algorithm image's id ("" for predictions).
    Raises InvalidInput, or StoredFileDamaged when the stored file is not what the participant sent
    (a storage fault is never blamed on them, and such a file is never used)."""
    try:
        image_id = _check(submission, local)
    except PodiumError:
        if file_sha256(local) != submission.file_sha256:
            raise _changed() from None
        raise
    return image_id


def _check(submission: Submission, local: Path) -> str:
    phase = submission.phase
    if submission.kind == Phase.ALGORITHM:
        image = inspect_archive(local, max_bytes=settings.PODIUM_IMAGE_MAX_BYTES)
        if image.archive_sha256 != submission.file_sha256:
            raise _changed()  # e.g. a shared stored image that changed since
        return image.image_id
    kind_of(phase.task).check(local, phase)
    return ""


def _changed() -> StoredFileDamaged:
    return StoredFileDamaged("the stored upload does not match the SHA-256 of what was received")


def validate(evaluation_id, *, worker: str) -> None:
    """Check a stored upload whose evaluation is ``validating``; then queue it, or fail it with
    the check's message. Idempotent: a second delivery finds nothing to do."""
    evaluation = _claim(evaluation_id, worker)
    if evaluation is None:
        return
    submission = evaluation.submission
    scratch = Path(settings.WORK_DIR) / f"validate-{evaluation.id}"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        scratch.mkdir(parents=True, mode=0o700)
        with local_path(default_storage, submission.file.name, scratch) as local:
            if not local.is_file():
                raise StoredFileMissing(f"stored file {submission.file.name} does not exist")
            image_id = check_in_worker(submission, local)
        _accept(evaluation, submission, image_id)
    except PodiumError as exc:
        _finish(evaluation, State.FAILED, participant_message=str(exc), valid=False)
    except (StoredFileMissing, StoredFileDamaged) as exc:
        # An image is stored once for every submission of it: the organizers restore the stored
        # object and re-queue, which a new upload of the same image could not do.
        log.error("evaluation %s: storage fault, operator action needed: %s", evaluation.id, exc)
        _finish(evaluation, State.FAILED, participant_message=neutral_message(evaluation),
                organizer_log=f"{evaluation.organizer_log}{exc}\n")
    except Exception as exc:
        if faults.is_resource(exc):
            log.error("evaluation %s: worker %s is out of disk space in %s (%s); free space, "
                      "then re-queue the evaluation", evaluation.id, worker, settings.WORK_DIR,
                      exc)
            _finish(evaluation, State.FAILED, participant_message=neutral_message(evaluation),
                    organizer_log=f"{evaluation.organizer_log}out of disk space: {exc}\n")
            return
        log.exception("evaluation %s: checking the upload failed", evaluation.id)
        _finish(evaluation, State.FAILED, participant_message=neutral_message(evaluation),
                organizer_log=evaluation.organizer_log + traceback.format_exc(limit=8))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _claim(evaluation_id, worker: str) -> Evaluation | None:
    """Count an attempt on a ``validating`` evaluation; None if there is nothing to check.
    An upload whose checks killed their worker PODIUM_MAX_ATTEMPTS times fails."""
    with transaction.atomic():
        evaluation = (Evaluation.objects.select_for_update()
                      .select_related("submission__phase__task").filter(pk=evaluation_id).first())
        if evaluation is None or evaluation.state != State.VALIDATING:
            log.info("evaluation %s is not waiting for its upload's checks", evaluation_id)
            return None
        if evaluation.attempts >= settings.PODIUM_MAX_ATTEMPTS:
            transition(evaluation.id, State.FAILED, participant_message=(
                f"Checking this upload stopped its worker {evaluation.attempts} times; it was "
                "given up. The organizers can see it."))
            return None
        evaluation.attempts += 1
        evaluation.worker = worker
        evaluation.heartbeat_at = evaluation.started_at = timezone.now()
        evaluation.save(update_fields=["attempts", "worker", "heartbeat_at", "started_at"])
    return evaluation


def _accept(evaluation: Evaluation, submission: Submission, image_id: str) -> None:
    entrant = {"team_id": submission.team_id, "user_id": submission.creator_id}
    with transaction.atomic():
        entrants.lock(challenge_id=submission.phase.task.challenge_id, **entrant)
        if image_id:
            earlier = (entrants.submissions_of(submission.phase_id, **entrant)
                       .filter(image_id=image_id, is_valid=True).exclude(pk=submission.pk).first())
            if earlier is not None:
                raise InvalidInput(
                    f"you already submitted this image ({image_id[:19]}…) to this phase on "
                    f"{earlier.created:%Y-%m-%d %H:%M} UTC; change and rebuild it to submit again"
                )
        try:
            queued = transition(evaluation.id, State.QUEUED, allowed_from=[State.VALIDATING],
                                participant_message="")
        except InvalidTransition:
            return  # cancelled while it was being checked
        Submission.objects.filter(pk=submission.pk).update(is_valid=True, image_id=image_id)
        transaction.on_commit(lambda: enqueue(queued), robust=True)


def _finish(evaluation: Evaluation, state: str, *, valid: bool | None = None, **fields) -> None:
    with transaction.atomic():
        try:
            transition(evaluation.id, state, allowed_from=[State.VALIDATING], **fields)
        except InvalidTransition:
            return
        if valid is not None:
            Submission.objects.filter(pk=evaluation.submission_id).update(is_valid=valid)
        if valid is False:
            transaction.on_commit(lambda: _discard(evaluation.submission), robust=True)


def _discard(submission: Submission) -> None:
    """A refused upload is not kept: refusals do not count against the limit, so stored ones
    would let a participant fill the disk. An image stored once for several submissions stays
    while another uses it."""
    name = submission.file.name
    if not Submission.objects.filter(file=name).exclude(pk=submission.pk).exists():
        default_storage.delete(name)


def _check_image_magic(local: Path) -> None:
    with open(local, "rb") as fh:
        head = fh.read(262 + 8)
    if head[:2] != GZIP_MAGIC and head[257:262] != b"ustar":
        raise InvalidInput("an algorithm image must be a `docker save` archive (.tar or .tar.gz)")

