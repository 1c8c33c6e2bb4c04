"""Accepting a submission: who may submit, the limit, the upload's quick checks, the queue."""

import hashlib
import logging
import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import kombu.exceptions
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Min, OuterRef, Subquery
from django.utils import timezone

from challenges import deid_gate
from challenges.models import Participation, Phase
from challenges.visibility import may_cancel
from core.errors import InvalidInput, Refused
from core.templatetags import when

from ..models import ACTIVE_STATES, Evaluation, State, Submission, submission_upload_to
from ..states import InvalidTransition, transition
from . import entrants, faults
from .queueing import enqueue
from .validation import CHECKING_MESSAGE, check_in_request

log = logging.getLogger(__name__)

_PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7), "phase": None}
_PERIOD_WORDS = {"day": "in the last 24 hours", "week": "in the last 7 days",
                 "phase": "in this phase"}


def participation_for(phase: Phase, user) -> Participation:
    """The user's accepted participation in the phase's challenge, or Refused."""
    try:
        participation = Participation.objects.select_related("team").get(
            challenge=phase.task.challenge, user=user
        )
    except Participation.DoesNotExist:
        raise Refused("join the challenge before submitting") from None
    if participation.status == Participation.PENDING:
        raise Refused("your participation is waiting for an organizer's approval")
    if participation.status == Participation.REJECTED:
        raise Refused("your participation in this challenge was not approved")
    return participation


@dataclass(frozen=True)
class Received:
    """An upload received whole into a private local file, with its size and SHA-256."""

    path: Path
    size: int
    sha256: str
    name: str  # the name the participant gave it
    # Already in storage under this name (an upload in chunks that S3 assembled from its
    # parts): not stored again, and left to the caller if the upload is refused.
    stored_name: str = ""


def upload_cap(phase: Phase) -> int:
    """The largest upload the phase accepts, in bytes."""
    if phase.submission_kind == Phase.ALGORITHM:
        return settings.PODIUM_IMAGE_MAX_BYTES
    return settings.PODIUM_UPLOAD_MAX_BYTES


def check_may_submit(phase: Phase, user) -> Participation:
    """Whether the user may submit to the phase now (accepted, phase open, under the limit):
    their participation, or Refused. Unlocked: :func:`submit` checks again while inserting."""
    participation = participation_for(phase, user)
    _check_phase_accepts(phase)
    _check_limit(phase, participation)
    return participation


def submit(*, phase: Phase, user, upload, description: str = "") -> Submission:
    """Store an upload (predictions archive, or algorithm image for algorithm phases) and queue
    its evaluation.

    ``upload`` is a Django ``File`` (an uploaded file), copied to a private local file while
    it is hashed and capped; the rest is :func:`submit_received`'s.
    """
    participation = check_may_submit(phase, user)  # early: spare a participant at the limit
    try:
        settings.WORK_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=settings.WORK_DIR) as tmp:
            received = _receive(upload, Path(tmp) / "upload", upload_cap(phase))
            return _accept(phase, user, participation, received, description)
    except OSError as exc:
        if not faults.is_resource(exc):
            raise
        log.error("submission refused: the web server's work folder %s is full (%s); free "
                  "space there", settings.WORK_DIR, exc)
        raise Refused("the server has no room for uploads right now; please try again later",
                      http_status=503) from None


def submit_received(*, phase: Phase, user, received: Received,
                    description: str = "") -> Submission:
    """Submit a file already received whole (an upload session's, :mod:`evaluation.uploads`).

    Its file is moved into storage when the upload is accepted (renamed, where the storage is a
    local folder) and left where it is when it is refused by a check before storing.
    """
    participation = check_may_submit(phase, user)
    cap = upload_cap(phase)
    if received.size > cap:
        raise InvalidInput(f"the upload is larger than {cap} bytes")
    if received.size == 0:
        raise InvalidInput("the upload is empty")
    return _accept(phase, user, participation, received, description)


def _accept(phase: Phase, user, participation: Participation, received: Received,
            description: str) -> Submission:
    """Only the checks whose cost the task bounds run here (see :mod:`.validation`); an upload
    that needs more is accepted as ``validating`` and checked by a worker. The limit is checked
    in the same transaction that inserts the submission, with the participant's row locked, so
    two simultaneous submissions at the limit cannot both be accepted."""
    submission_id = uuid.uuid4()
    algorithm = phase.submission_kind == Phase.ALGORITHM
    checked = check_in_request(phase, received.path)
    if algorithm:
        _check_new_upload(phase, participation, received.sha256)
    if received.stored_name:
        stored_name, created = received.stored_name, False
    elif algorithm:
        stored_name, created = _store_image(received.path, received.sha256)
    else:
        stored_name, created = _store(phase, submission_id, received.path), True
    committed = False
    # Outside any caller's transaction the message is published once the rows are committed,
    # and a broker that stays down refuses the submission (_publish_or_refuse).
    outermost = not transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic():
            entrants.lock(challenge_id=phase.task.challenge_id, team_id=participation.team_id,
                          user_id=participation.user_id)
            # The phase, locked and read again: a ground-truth activation, a closing or a
            # change of the scoring configuration during the upload's checks counts.
            phase = Phase.objects.select_for_update().select_related("task").get(pk=phase.pk)
            _check_phase_accepts(phase)
            _check_limit(phase, participation)
            if algorithm:
                _check_new_upload(phase, participation, received.sha256)
            submission = Submission.objects.create(
                id=submission_id,
                phase=phase,
                creator=user,
                team=participation.team,
                kind=phase.submission_kind,
                file=stored_name,
                file_name=_display_name(received.name),
                file_size=received.size,
                file_sha256=received.sha256,
                description=description[:200],
                is_valid=True if checked else None,
            )
            evaluation = Evaluation.objects.create(
                submission=submission,
                state=State.QUEUED if checked else State.VALIDATING,
                participant_message="" if checked else CHECKING_MESSAGE,
                ground_truth_id=phase.active_ground_truth_id,
                metric_config=phase.metric_config(),
                enqueued_at=timezone.now(),
            )
            if not outermost:
                # Sent when the caller's transaction commits (an import, a test); a message
                # lost there is sent again by the reaper (PODIUM_REQUEUE_QUEUED_AFTER_S).
                transaction.on_commit(lambda: enqueue(evaluation), robust=True)
        committed = True
    finally:
        if not committed and created:
            default_storage.delete(stored_name)
    if outermost:
        _publish_or_refuse(submission, evaluation, stored_name if created else "")
    log.info("submission %s accepted (%s) for phase %s from user %s", submission.id,
             evaluation.state, phase.id, user.pk)
    return submission


def _publish_or_refuse(submission: Submission, evaluation: Evaluation, stored_name: str) -> None:
    """Send the evaluation's first message, or refuse the submission with 503.

    Celery already tries the publish several times with backoff
    (``CELERY_TASK_PUBLISH_RETRY_POLICY``, about 4 s). A broker still down after that refuses
    the submission rather than keep a row no message will move for minutes: its rows and the
    file stored for it are deleted, so it does not count against the limit, and the
    participant is told to send it again."""
    try:
        enqueue(evaluation)
    except (kombu.exceptions.OperationalError, OSError) as exc:
        log.error("submission %s: the broker refused its message (%r); submission refused",
                  submission.id, exc)
        submission.delete()
        if stored_name:
            default_storage.delete(stored_name)
        raise Refused("the evaluation queue cannot be reached right now, so your upload was "
                      "not kept; please submit it again in a few minutes",
                      http_status=503) from None


def cancel(submission: Submission, user) -> Evaluation:
    """Cancel the submission's evaluation if it is still waiting or running."""
    if not may_cancel(user, submission):
        raise Refused("only the submitter or an organizer can cancel a submission")
    evaluation = submission.evaluations.filter(state__in=ACTIVE_STATES).first()
    if evaluation is None:
        raise Refused("the submission has already finished", http_status=409)
    try:
        return transition(evaluation.id, State.CANCELLED,
                          participant_message="Cancelled at the participant's request.")
    except InvalidTransition:
        raise Refused("the submission has already finished", http_status=409) from None


def submissions_counted(phase: Phase, participation: Participation):
    """The participant's submissions to the phase that count against its limit right now."""
    qs = own_submissions(phase, participation)
    period = _PERIODS[phase.limit_period]
    if period is not None:
        qs = qs.filter(created__gte=timezone.now() - period)
    qs = qs.exclude(is_valid=False)  # refused uploads never count
    if not phase.count_failed:
        # By the newest evaluation: a submission superseded by a re-evaluation still counts,
        # one the participant cancelled (or that failed) does not.
        latest = Evaluation.objects.filter(submission=OuterRef("pk")).order_by("-created")
        qs = qs.annotate(latest_state=Subquery(latest.values("state")[:1])).exclude(
            latest_state__in=[State.FAILED, State.CANCELLED]
        )
    return qs


def own_submissions(phase: Phase, participation: Participation):
    """The submissions of the participant (its team, if it has one) to the phase."""
    return entrants.submissions_of(phase.pk, team_id=participation.team_id,
                                   user_id=participation.user_id)


def _check_phase_accepts(phase: Phase) -> None:
    if not phase.is_open():
        raise Refused("the phase is not open for submissions", http_status=409)
    if deid_gate.refusal(phase.task):
        raise Refused("the phase is not open for submissions yet: its test images await the "
                      "organizers' de-identification review", http_status=409)
    if phase.active_ground_truth_id is None:
        raise Refused(
            "the phase has no active ground truth yet; try again later", http_status=409
        )


def _check_limit(phase: Phase, participation: Participation) -> None:
    if phase.submission_limit is None:
        return
    current = quota(phase, participation)
    if current.left == 0:
        frees = (f"; the oldest stops counting at {when.text(current.frees_at)}"
                 if current.frees_at else "")
        raise Refused(
            f"submission limit reached: {current.used} of {current.limit} {current.period}"
            + frees,
            http_status=429,
        )


@dataclass(frozen=True)
class Quota:
    """Where an entrant stands against a phase's submission limit. The window is rolling:
    a submission stops counting ``period`` after it was made, so ``frees_at`` is when the
    oldest counted one leaves the window (None for a limit per phase, or nothing counted)."""

    used: int
    limit: int | None  # None: the phase has no limit
    period: str  # "in the last 24 hours", "in the last 7 days", "in this phase"
    frees_at: datetime | None

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)


def quota(phase: Phase, participation: Participation) -> Quota:
    """The entrant's (team's, or lone participant's) use of the phase's limit, counted exactly
    as accepting a submission counts it (:func:`submissions_counted`)."""
    counted = submissions_counted(phase, participation).aggregate(used=Count("pk"),
                                                                  oldest=Min("created"))
    period = _PERIODS[phase.limit_period]
    frees_at = counted["oldest"] + period if period and counted["oldest"] else None
    return Quota(used=counted["used"], limit=phase.submission_limit,
                 period=_PERIOD_WORDS[phase.limit_period], frees_at=frees_at)


def _receive(upload, target: Path, cap: int) -> Received:
    """Copy the upload to a private local file, hashing it and enforcing the size cap."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        for chunk in upload.chunks():
            size += len(chunk)
            if size > cap:
                raise InvalidInput(f"the upload is larger than {cap} bytes")
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise InvalidInput("the upload is empty")
    return Received(path=target, size=size, sha256=digest.hexdigest(), name=upload.name or "")


def _check_new_upload(phase: Phase, participation: Participation, sha256: str) -> None:
    earlier = (own_submissions(phase, participation).filter(file_sha256=sha256)
               .exclude(is_valid=False).first())
    if earlier is not None:
        raise Refused(
            f"you already submitted this image (SHA-256 {sha256[:12]}…) to this phase on "
            f"{earlier.created:%Y-%m-%d %H:%M} UTC; change and rebuild it to submit again",
            http_status=409,
        )


class _LocalFile(File):
    """A received file on local disk: a filesystem storage moves it into place (Django's
    ``temporary_file_path`` protocol) instead of copying it; another storage reads it."""

    def __init__(self, fh, path: Path):
        super().__init__(fh, name=path.name)
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def _store_image(local: Path, sha256: str) -> tuple[str, bool]:
    """Images are stored once, under the SHA-256 of the whole upload; (name, whether we
    stored it). A shared object is hashed again before it is used (:mod:`.validation`)."""
    name = f"algorithms/sha256-{sha256}.tar"
    if default_storage.exists(name):
        return name, False
    with open(local, "rb") as fh:
        saved = default_storage.save(name, _LocalFile(fh, local))
    return saved, True


def _store(phase: Phase, submission_id: uuid.UUID, local: Path) -> str:
    placeholder = Submission(id=submission_id, phase=phase)
    with open(local, "rb") as fh:
        return default_storage.save(submission_upload_to(placeholder, ""), _LocalFile(fh, local))


def _display_name(name: str | None) -> str:
    base = os.path.basename((name or "upload").replace("\\", "/"))
    return "".join(ch for ch in base if ch.isprintable())[:255] or "upload"
