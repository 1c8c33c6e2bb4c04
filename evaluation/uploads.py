"""Uploads in chunks: a file of any size arrives as a series of requests of at most
``PODIUM_UPLOAD_CHUNK_BYTES`` each, can resume after a dropped connection, and becomes a
submission through the same path as a file posted whole (:func:`submit_received`).

The partial file (``PODIUM_UPLOAD_PARTIAL_DIR/<session id>.part``, mode 0600, served by no URL)
is the truth about how many bytes arrived: a chunk is appended only at its end, under an
exclusive lock of the file, and a chunk cut short is cut off again, so the file never holds
part of one. Each chunk is streamed to it in blocks and hashed on the way; the running SHA-256
is kept in this process between chunks, so completing reads nothing again (a chunk that lands
in another process, or after a restart, re-hashes the partial file once). The protocol is
described in docs/api.md, "Uploading in chunks".
"""

import fcntl
import hashlib
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.http import Http404
from django.utils import timezone

from challenges.models import Phase
from core.errors import InvalidInput, PodiumError, Refused

from .models import Submission, UploadSession
from .services.submission import Received, check_may_submit, submit_received, upload_cap

log = logging.getLogger(__name__)

_BLOCK = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Running hashes of the sessions this process received chunks of: id → (bytes hashed, state).
_HASHERS: "OrderedDict[str, tuple[int, object]]" = OrderedDict()
_HASHERS_KEPT = 256
_HASHERS_LOCK = threading.Lock()


def partial_path(session: UploadSession) -> Path:
    """Where the session's bytes are kept until it completes."""
    return Path(settings.PODIUM_UPLOAD_PARTIAL_DIR) / f"{session.id}.part"


def start(*, phase: Phase, user, file_name: str, size: int, sha256: str = "",
          description: str = "") -> UploadSession:
    """Open an upload session for a file of ``size`` bytes, after the checks a submission
    makes up front (participation, phase open, limit) and the phase's size cap."""
    purge_expired()
    check_may_submit(phase, user)
    cap = upload_cap(phase)
    if size > cap:
        raise InvalidInput(f"the upload is larger than {cap} bytes", http_status=413)
    if size <= 0:
        raise InvalidInput("the upload is empty")
    sha256 = sha256.lower()
    if sha256 and not _SHA256.fullmatch(sha256):
        raise InvalidInput("sha256 must be 64 hexadecimal digits")
    limit = settings.PODIUM_UPLOAD_SESSIONS_PER_USER
    if unfinished(user).count() >= limit:
        raise Refused(f"you already have {limit} unfinished uploads; complete or delete one "
                      "first", http_status=429)
    session = UploadSession.objects.create(
        phase=phase, user=user, file_name=file_name[:255], size=size, sha256=sha256,
        description=description[:200], expires_at=_expiry(),
    )
    partial = partial_path(session)
    partial.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    log.info("upload session %s opened for %s bytes to phase %s by user %s", session.id, size,
             phase.id, user.pk)
    return session


def unfinished(user):
    """The user's sessions still open for chunks."""
    return UploadSession.objects.filter(user=user, submission__isnull=True,
                                        expires_at__gt=timezone.now())


def own_session(user, session_id) -> UploadSession:
    """The user's unexpired session, else 404 (another user's session is not disclosed)."""
    session = UploadSession.objects.filter(
        user=user, pk=session_id, expires_at__gt=timezone.now()
    ).select_related("phase__task").first()
    if session is None:
        raise Http404("no such upload session (it may have expired)")
    return session


def append(session: UploadSession, *, offset: int, length: int, stream) -> int:
    """Append the chunk of ``length`` bytes that ``stream`` (a request body) holds at
    ``offset``; the offset after it. A chunk that was already received whole (a client's
    retry) is read and dropped; one at any other place than the end is refused (409)."""
    if session.submission_id is not None:
        raise Refused("the upload is complete", http_status=409)
    largest = settings.PODIUM_UPLOAD_CHUNK_BYTES
    if length > largest:
        raise InvalidInput(f"a chunk is at most {largest} bytes", http_status=413)
    if offset < 0 or length <= 0:
        raise InvalidInput("send a chunk of at least one byte at a non-negative offset")
    if offset + length > session.size:
        raise InvalidInput(f"the chunk ends at byte {offset + length}, beyond the declared "
                           f"size of {session.size} bytes", http_status=413)
    with _locked(session) as fd:
        current = os.fstat(fd).st_size
        if offset < current and offset + length <= current:
            _drain(stream, length)
            return current
        if offset != current:
            raise Refused(f"the upload has {current} bytes; send the chunk that starts at "
                          f"byte {current}", http_status=409)
        hasher = _hasher_at(session, fd, current)
        received = _write(fd, stream, length, hasher)
        if received != length:
            os.ftruncate(fd, current)
            raise InvalidInput(f"the chunk ended after {received} of its {length} bytes; "
                               f"send it again from byte {current}")
        end = current + length
        _remember(session, end, hasher)
        UploadSession.objects.filter(pk=session.pk).update(received=end, expires_at=_expiry())
    return end


def complete(session: UploadSession) -> tuple[Submission, bool]:
    """Submit the session's file once all its bytes arrived; (the submission, whether this
    call created it). Completing a completed session answers its submission again."""
    if session.submission_id is not None:
        return session.submission, False
    partial = partial_path(session)
    try:
        with _locked(session) as fd:
            current = os.fstat(fd).st_size
            if current != session.size:
                raise Refused(f"the upload has {current} of its {session.size} bytes; send the "
                              f"rest from byte {current} first", http_status=409)
            digest = _hasher_at(session, fd, current).hexdigest()
            if session.sha256 and digest != session.sha256:
                raise InvalidInput(f"the received file's SHA-256 is {digest}, not the declared "
                                   f"{session.sha256}; upload it again")
            submission = submit_received(
                phase=session.phase, user=session.user, description=session.description,
                received=Received(path=partial, size=current, sha256=digest,
                                  name=session.file_name))
    except InvalidInput:  # what it holds can never be submitted: free the user's slot
        abandon(session)
        raise
    except PodiumError:  # e.g. the limit: kept for later unless its bytes went with it
        if not partial.exists():
            session.delete()
        raise
    _forget(session)
    partial.unlink(missing_ok=True)  # an image already stored under its SHA-256
    UploadSession.objects.filter(pk=session.pk).update(submission=submission)
    session.submission = submission
    return submission, True


def abandon(session: UploadSession) -> None:
    """Delete the session and what it received."""
    _forget(session)
    partial_path(session).unlink(missing_ok=True)
    UploadSession.objects.filter(pk=session.pk).delete()


def purge_expired() -> int:
    """Delete the sessions past their expiry and their partial files; how many."""
    expired = list(UploadSession.objects.filter(expires_at__lte=timezone.now()))
    for session in expired:
        abandon(session)
    if expired:
        log.info("purged %d expired upload sessions", len(expired))
    return len(expired)


def _expiry():
    return timezone.now() + timedelta(hours=settings.PODIUM_UPLOAD_SESSION_HOURS)


@contextmanager
def _locked(session: UploadSession) -> Iterator[int]:
    """The partial file, open for writing and locked against the session's other requests."""
    try:
        fd = os.open(partial_path(session), os.O_RDWR)
    except FileNotFoundError:
        raise Http404("no such upload session (it may have expired)") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Refused("another request of this upload is in progress; ask for its offset "
                          "and go on from there", http_status=409) from None
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _write(fd: int, stream, length: int, hasher) -> int:
    """Copy up to ``length`` bytes of ``stream`` to the end of ``fd`` in blocks; how many."""
    os.lseek(fd, 0, os.SEEK_END)
    written = 0
    while written < length:
        block = stream.read(min(_BLOCK, length - written))
        if not block:
            break
        hasher.update(block)
        view = memoryview(block)
        while view:
            view = view[os.write(fd, view):]
        written += len(block)
    return written


def _drain(stream, length: int) -> None:
    while length > 0:
        block = stream.read(min(_BLOCK, length))
        if not block:
            return
        length -= len(block)


def _hasher_at(session: UploadSession, fd: int, offset: int):
    """The SHA-256 state of the partial file's first ``offset`` bytes: this process's running
    state when it is there, else read from the file."""
    with _HASHERS_LOCK:
        kept = _HASHERS.get(str(session.id))
    if kept is not None and kept[0] == offset:
        return kept[1].copy()
    hasher = hashlib.sha256()
    position = 0
    while position < offset:
        block = os.pread(fd, min(_BLOCK, offset - position), position)
        if not block:
            break
        hasher.update(block)
        position += len(block)
    return hasher


def _remember(session: UploadSession, offset: int, hasher) -> None:
    with _HASHERS_LOCK:
        _HASHERS[str(session.id)] = (offset, hasher)
        _HASHERS.move_to_end(str(session.id))
        while len(_HASHERS) > _HASHERS_KEPT:
            _HASHERS.popitem(last=False)


def _forget(session: UploadSession) -> None:
    with _HASHERS_LOCK:
        _HASHERS.pop(str(session.id), None)
