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

On S3 storage the bytes also go to the bucket while they arrive, as the parts of an S3
multipart upload, so that completing is one CompleteMultipartUpload call whatever the size (the
partial file stays until then: the request's bounded checks read it, and a restarted process
resumes the hash from it). S3 wants every part but the last to hold at least 5 MiB, and a client
may send smaller chunks, so a part is cut from the partial file once enough bytes are waiting
(:func:`part_bytes`), not per chunk; a part's ETag is recorded with the bytes it covers, and a
part sent but not recorded is sent again under the same number, which replaces it.
"""

import fcntl
import hashlib
import io
import logging
import math
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import storages
from django.http import Http404
from django.utils import timezone
from storages.backends.s3 import S3Storage

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

S3_MIN_PART_BYTES = 5 * 1024**2
S3_MAX_PARTS = 10_000


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
    if _bucket() is not None:
        try:
            _begin_multipart(session)
        except Exception:
            session.delete()
            raise
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
        if session.multipart_id:
            try:
                _send_parts(session, fd, end)
            except (BotoCoreError, ClientError):  # the bytes are safe here: sent later
                log.warning("upload session %s: a part was not sent to S3", session.id,
                            exc_info=True)
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
            if session.multipart_id:
                _send_parts(session, fd, current)  # nothing, unless a part failed to go
                _assemble(session)
            submission = submit_received(
                phase=session.phase, user=session.user, description=session.description,
                received=Received(path=partial, size=current, sha256=digest,
                                  name=session.file_name, stored_name=session.stored_name))
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
    """Delete the session and what it received (in S3 too, unless a submission holds it)."""
    _forget(session)
    _discard_stored(session)
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


def part_bytes(size: int) -> int:
    """The least bytes of a part (all but the last) of an upload of ``size`` bytes: S3's
    minimum, or more where S3's limit on the number of parts asks for it."""
    return max(S3_MIN_PART_BYTES, math.ceil(size / S3_MAX_PARTS))


def _bucket() -> S3Storage | None:
    """The uploads storage when it is an S3 bucket."""
    storage = storages["default"]
    return storage if isinstance(storage, S3Storage) else None


def _stored_name_of(session: UploadSession) -> str:
    # The session's id stands for the submission's, which completing creates; the participant's
    # file name never becomes part of a storage path.
    if session.phase.submission_kind == Phase.ALGORITHM:
        return f"algorithms/upload-{session.id}.tar"
    return f"submissions/{session.phase_id}/{session.id}/upload"


def _begin_multipart(session: UploadSession) -> None:
    storage = _bucket()
    name = _stored_name_of(session)
    key = storage._normalize_name(name)
    answer = storage.connection.meta.client.create_multipart_upload(
        Bucket=storage.bucket_name, Key=key, **storage._get_write_parameters(key))
    session.stored_name, session.multipart_id = name, answer["UploadId"]
    UploadSession.objects.filter(pk=session.pk).update(
        stored_name=session.stored_name, multipart_id=session.multipart_id)


def _send_parts(session: UploadSession, fd: int, end: int) -> None:
    """Send the partial file's bytes from ``session.shipped`` to ``end`` as the next part, once
    there are at least :func:`part_bytes` of them or they end the upload."""
    waiting = end - session.shipped
    if waiting <= 0 or (waiting < part_bytes(session.size) and end < session.size):
        return
    storage = _bucket()
    number = len(session.parts) + 1
    answer = storage.connection.meta.client.upload_part(
        Bucket=storage.bucket_name, Key=storage._normalize_name(session.stored_name),
        UploadId=session.multipart_id, PartNumber=number, ContentLength=waiting,
        Body=_FileRange(fd, session.shipped, waiting))
    session.parts = [*session.parts, [number, answer["ETag"]]]
    session.shipped = end
    UploadSession.objects.filter(pk=session.pk).update(parts=session.parts, shipped=end)


def _assemble(session: UploadSession) -> None:
    """Join the parts into the stored file: one call, whatever the size."""
    storage = _bucket()
    storage.connection.meta.client.complete_multipart_upload(
        Bucket=storage.bucket_name, Key=storage._normalize_name(session.stored_name),
        UploadId=session.multipart_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in session.parts]})
    session.multipart_id = ""
    UploadSession.objects.filter(pk=session.pk).update(multipart_id="")


def _discard_stored(session: UploadSession) -> None:
    """Abort the session's multipart upload, or delete what it assembled if no submission
    took it (one that did, even if the session missed hearing of it, keeps its file)."""
    storage = _bucket()
    if storage is None or not session.stored_name:
        return
    if session.multipart_id:
        try:
            storage.connection.meta.client.abort_multipart_upload(
                Bucket=storage.bucket_name, Key=storage._normalize_name(session.stored_name),
                UploadId=session.multipart_id)
        except ClientError as exc:  # already aborted: nothing is left
            log.info("upload session %s: abort: %s", session.id, exc)
    elif not Submission.objects.filter(file=session.stored_name).exists():
        storage.delete(session.stored_name)


class _FileRange(io.RawIOBase):
    """``length`` bytes of the open file ``fd`` from ``start``, read as a seekable stream in
    the sizes the reader asks for (an S3 part is sent without holding it in memory)."""

    def __init__(self, fd: int, start: int, length: int):
        super().__init__()
        self.fd, self.start, self.length, self.position = fd, start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), self.length - self.position)
        if size <= 0:
            return 0
        block = os.pread(self.fd, size, self.start + self.position)
        buffer[:len(block)] = block
        self.position += len(block)
        return len(block)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.length}[whence]
        self.position = min(max(0, base + offset), self.length)
        return self.position

    def tell(self) -> int:
        return self.position
