"""Uploads in chunks through the REST API (evaluation/uploads.py, docs/api.md "Uploading in
chunks"): resuming, idempotent retries, refusals, expiry, and the submission a completed
upload becomes — the same as a file posted whole."""

import hashlib
import io
import stat
import tarfile
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from challenges.models import Participation
from evaluation import uploads
from evaluation.models import State, Submission, UploadSession
from evaluation.services.submission import quota
from tests import factories
from tests.factories import api_client

from .helpers import cube_predictions_zip

pytestmark = pytest.mark.django_db

CHUNK = 128


def start(client, phase, data: bytes, **fields):
    body = {"file_name": "preds.zip", "size": len(data), **fields}
    return client.post(f"/api/v1/phases/{phase.id}/uploads/", body, format="json")


def put(client, session_id, offset: int, chunk: bytes):
    return client.generic("PUT", f"/api/v1/uploads/{session_id}/", chunk,
                          content_type="application/octet-stream",
                          HTTP_UPLOAD_OFFSET=str(offset))


def offset_of(client, session_id) -> int:
    response = client.head(f"/api/v1/uploads/{session_id}/")
    assert response.status_code == 200
    return int(response["Upload-Offset"])


def complete(client, session_id):
    return client.post(f"/api/v1/uploads/{session_id}/complete/")


def send_all(client, phase, data: bytes, **fields) -> str:
    """Open a session for ``data`` and send all of it in chunks; the session's id."""
    session_id = start(client, phase, data, **fields).json()["id"]
    for offset in range(0, len(data), CHUNK):
        assert put(client, session_id, offset, data[offset:offset + CHUNK]).status_code == 200
    return session_id


def send(client, phase, data: bytes, **fields) -> str:
    """Upload ``data`` in chunks and complete it; the submission's id."""
    response = complete(client, send_all(client, phase, data, **fields))
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.fixture(autouse=True)
def _small_chunks(settings):
    settings.PODIUM_UPLOAD_CHUNK_BYTES = CHUNK


@pytest.fixture
def archive(tmp_path) -> bytes:
    return cube_predictions_zip(tmp_path).read_bytes()


def test_chunks_in_order_become_a_submission_like_a_whole_upload(phase, user, archive):
    client = api_client(user)
    created = start(client, phase, archive)
    assert created.status_code == 201 and created.json()["offset"] == 0
    assert created.json()["chunk_bytes"] == CHUNK and len(archive) > 3 * CHUNK
    session_id = created.json()["id"]
    partial = uploads.partial_path(UploadSession.objects.get(pk=session_id))
    assert stat.S_IMODE(partial.stat().st_mode) == 0o600
    assert not str(partial).startswith(str(Path(partial).parents[0] / "uploads"))
    for offset in range(0, len(archive), CHUNK):
        response = put(client, session_id, offset, archive[offset:offset + CHUNK])
        assert response.status_code == 200
        assert int(response["Upload-Offset"]) == min(offset + CHUNK, len(archive))
    response = complete(client, session_id)
    assert response.status_code == 201 and response.json()["state"] == "queued"
    submission = Submission.objects.get(pk=response.json()["id"])
    assert submission.file_sha256 == hashlib.sha256(archive).hexdigest()
    assert submission.file_size == len(archive) and submission.file_name == "preds.zip"
    assert submission.file.read() == archive and submission.is_valid
    assert not partial.exists()  # moved into storage
    # Completing again (a retry after a lost answer) answers the same submission.
    again = complete(client, session_id)
    assert again.status_code == 200 and again.json()["id"] == str(submission.id)
    assert Submission.objects.count() == 1


def test_a_tar_waits_for_the_workers_checks_as_when_posted_whole(phase, user, tmp_path):
    packed = io.BytesIO()
    with zipfile.ZipFile(cube_predictions_zip(tmp_path)) as source, \
            tarfile.open(fileobj=packed, mode="w:gz") as target:
        for name in source.namelist():
            member = tarfile.TarInfo(name)
            member.size = source.getinfo(name).file_size
            target.addfile(member, io.BytesIO(source.read(name)))
    data = packed.getvalue()
    submission_id = send(api_client(user), phase, data, file_name="preds.tar.gz")
    evaluation = Submission.objects.get(pk=submission_id).evaluations.get()
    assert evaluation.state == State.VALIDATING


def test_resume_after_a_dropped_connection(phase, user, archive):
    client = api_client(user)
    session_id = start(client, phase, archive).json()["id"]
    for offset in (0, CHUNK):
        put(client, session_id, offset, archive[offset:offset + CHUNK])
    # The connection drops in the middle of the third chunk: only part of it arrives.
    cut = client.generic("PUT", f"/api/v1/uploads/{session_id}/", b"",
                         HTTP_UPLOAD_OFFSET=str(2 * CHUNK), CONTENT_LENGTH=str(CHUNK),
                         **{"wsgi.input": io.BytesIO(archive[2 * CHUNK:2 * CHUNK + 100])})
    assert cut.status_code == 400 and f"send it again from byte {2 * CHUNK}" in cut.json()["detail"]
    # A new client (a reloaded page) asks where to go on, and does.
    client = api_client(user)
    offset = offset_of(client, session_id)
    assert offset == 2 * CHUNK
    assert client.get(f"/api/v1/uploads/{session_id}/").json()["offset"] == offset
    for start_at in range(offset, len(archive), CHUNK):
        assert put(client, session_id, start_at,
                   archive[start_at:start_at + CHUNK]).status_code == 200
    response = complete(client, session_id)
    assert response.status_code == 201
    stored = Submission.objects.get(pk=response.json()["id"])
    assert stored.file.read() == archive
    assert stored.file_sha256 == hashlib.sha256(archive).hexdigest()


def test_a_hash_resumed_in_another_process_is_read_from_the_partial_file(phase, user,
                                                                          archive):
    client = api_client(user)
    session_id = start(client, phase, archive).json()["id"]
    put(client, session_id, 0, archive[:CHUNK])
    uploads._HASHERS.clear()  # as if the next chunk reached another web process
    for offset in range(CHUNK, len(archive), CHUNK):
        put(client, session_id, offset, archive[offset:offset + CHUNK])
    response = complete(client, session_id)
    assert Submission.objects.get(pk=response.json()["id"]).file_sha256 == \
        hashlib.sha256(archive).hexdigest()


def test_a_repeated_chunk_is_idempotent_and_a_wrong_offset_refused(phase, user, archive):
    client = api_client(user)
    session_id = start(client, phase, archive).json()["id"]
    put(client, session_id, 0, archive[:CHUNK])
    put(client, session_id, CHUNK, archive[CHUNK:2 * CHUNK])
    repeated = put(client, session_id, CHUNK, archive[CHUNK:2 * CHUNK])
    assert repeated.status_code == 200 and int(repeated["Upload-Offset"]) == 2 * CHUNK
    ahead = put(client, session_id, 3 * CHUNK, archive[3 * CHUNK:4 * CHUNK])
    assert ahead.status_code == 409
    assert ahead.json()["detail"] == (f"the upload has {2 * CHUNK} bytes; send the chunk that "
                                      f"starts at byte {2 * CHUNK}")
    overlapping = put(client, session_id, CHUNK + 10, archive[CHUNK + 10:2 * CHUNK + 10])
    assert overlapping.status_code == 409
    assert offset_of(client, session_id) == 2 * CHUNK
    assert uploads.partial_path(UploadSession.objects.get(pk=session_id)).read_bytes() == \
        archive[:2 * CHUNK]


def test_sizes_beyond_the_declaration_or_the_caps_are_refused(phase, user, archive, settings):
    client = api_client(user)
    session_id = start(client, phase, archive[:100]).json()["id"]
    beyond = put(client, session_id, 0, archive[:101])
    assert beyond.status_code == 413 and beyond.json()["detail"] == (
        "the chunk ends at byte 101, beyond the declared size of 100 bytes")
    too_big = put(client, session_id, 0, b"x" * (CHUNK + 1))
    assert too_big.status_code == 413
    assert too_big.json()["detail"] == f"a chunk is at most {CHUNK} bytes"
    assert offset_of(client, session_id) == 0
    settings.PODIUM_UPLOAD_MAX_BYTES = 1000
    refused = start(client, phase, b"x" * 1001)  # before any byte is sent
    assert refused.status_code == 413
    assert refused.json()["detail"] == "the upload is larger than 1000 bytes"
    assert UploadSession.objects.count() == 1


def test_an_empty_file_is_refused_in_the_words_of_a_direct_upload(phase, user):
    client = api_client(user)
    empty = start(client, phase, b"")
    assert empty.status_code == 400
    assert empty.json()["detail"] == "the upload is empty"  # as evaluation.services.submission
    negative = client.post(f"/api/v1/phases/{phase.id}/uploads/",
                           {"file_name": "preds.zip", "size": -1}, format="json")
    assert negative.status_code == 400 and negative.json()["detail"].startswith("size: ")
    assert UploadSession.objects.count() == 0


def test_a_sha256_mismatch_is_refused_and_the_session_deleted(phase, user, archive):
    client = api_client(user)
    declared = hashlib.sha256(b"something else").hexdigest()
    session_id = send_all(client, phase, archive, sha256=declared)
    response = complete(client, session_id)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        f"the received file's SHA-256 is {hashlib.sha256(archive).hexdigest()}, not the "
        f"declared {declared}; upload it again")
    assert not UploadSession.objects.exists() and not Submission.objects.exists()
    assert not list(Path(uploads.partial_path(
        UploadSession(id=session_id)).parent).glob(f"{session_id}*"))


def test_completing_before_every_byte_arrived_is_refused(phase, user, archive):
    client = api_client(user)
    session_id = start(client, phase, archive).json()["id"]
    put(client, session_id, 0, archive[:CHUNK])
    response = complete(client, session_id)
    assert response.status_code == 409
    assert response.json()["detail"] == (f"the upload has {CHUNK} of its {len(archive)} bytes; "
                                         f"send the rest from byte {CHUNK} first")


def test_expired_sessions_are_purged_with_their_files(phase, user, archive):
    client = api_client(user)
    session_id = start(client, phase, archive).json()["id"]
    put(client, session_id, 0, archive[:CHUNK])
    session = UploadSession.objects.get(pk=session_id)
    partial = uploads.partial_path(session)
    assert partial.exists()
    UploadSession.objects.filter(pk=session_id).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    assert offset_of_status(client, session_id) == 404  # expired: gone for its owner too
    call_command("purge_upload_sessions")
    assert not UploadSession.objects.exists() and not partial.exists()


def offset_of_status(client, session_id) -> int:
    return client.head(f"/api/v1/uploads/{session_id}/").status_code


def test_another_users_session_is_not_found(phase, user, archive):
    session_id = start(api_client(user), phase, archive).json()["id"]
    other = api_client(factories.participant(phase, "mallory"))
    assert other.head(f"/api/v1/uploads/{session_id}/").status_code == 404
    assert put(other, session_id, 0, archive[:CHUNK]).status_code == 404
    assert complete(other, session_id).status_code == 404
    assert other.delete(f"/api/v1/uploads/{session_id}/").status_code == 404
    assert api_client().head(f"/api/v1/uploads/{session_id}/").status_code in (401, 403)
    assert offset_of(api_client(user), session_id) == 0


def test_unfinished_sessions_per_user_are_capped_and_can_be_deleted(phase, user, archive,
                                                                   settings):
    settings.PODIUM_UPLOAD_SESSIONS_PER_USER = 2
    client = api_client(user)
    first = start(client, phase, archive).json()["id"]
    start(client, phase, archive)
    refused = start(client, phase, archive)
    assert refused.status_code == 429 and "2 unfinished uploads" in refused.json()["detail"]
    assert client.delete(f"/api/v1/uploads/{first}/").status_code == 204
    assert start(client, phase, archive).status_code == 201


def test_the_quota_counts_a_chunked_upload_once(phase, user, archive):
    phase.submission_limit = 1
    phase.save()
    participation = Participation.objects.get(user=user)
    client = api_client(user)
    session_id = send_all(client, phase, archive)
    assert quota(phase, participation).used == 0  # an open session is not a submission
    assert complete(client, session_id).status_code == 201
    assert complete(client, session_id).status_code == 200
    assert quota(phase, participation).used == 1
    refused = start(client, phase, archive)  # at the limit: refused before any byte is sent
    assert refused.status_code == 429 and refused.json()["detail"].startswith(
        "submission limit reached: 1 of 1")


def test_a_refused_archive_frees_the_session(phase, user):
    client = api_client(user)
    data = b"not a zip at all" * 20
    session_id = send_all(client, phase, data)
    response = complete(client, session_id)
    assert response.status_code == 400 and "not a zip or tar" in response.json()["detail"]
    assert not UploadSession.objects.exists() and not Submission.objects.exists()



class _ImageLikeBody:
    """A request body of ``size`` bytes that no one holds: a tar header (what the request's
    check of an algorithm image reads), then zeros, made as they are read."""

    def __init__(self, size: int):
        self.head = tarfile.TarInfo("layer.tar").tobuf()
        self.position, self.size = 0, size

    def read(self, size: int = -1) -> bytes:
        size = self.size - self.position if size < 0 else min(size, self.size - self.position)
        head = self.head[self.position:self.position + size]
        self.position += size
        return head + bytes(size - len(head))

    readline = read  # a body is read as a stream of bytes, never by lines


def test_memory_stays_flat_whatever_the_upload_size(tmp_path, settings):
    """200 MB in 16 MiB chunks: the process grows by less than one chunk, so neither the
    file nor a whole chunk is ever held in memory."""
    from challenges.models import Phase
    from tests.evaluation.helpers import cube_phase
    from tests.security.measure import Stage

    settings.PODIUM_UPLOAD_CHUNK_BYTES = chunk = 16 * 1024**2
    phase = cube_phase(tmp_path, submission_kind=Phase.ALGORITHM)
    client = api_client(factories.participant(phase, "big"))
    size = 200 * 1000**2
    body = _ImageLikeBody(size)
    with Stage() as stage:
        response = client.post(f"/api/v1/phases/{phase.id}/uploads/",
                               {"file_name": "image.tar", "size": size}, format="json")
        session_id = response.json()["id"]
        for offset in range(0, size, chunk):
            length = min(chunk, size - offset)
            response = client.generic("PUT", f"/api/v1/uploads/{session_id}/", b"",
                                      HTTP_UPLOAD_OFFSET=str(offset), CONTENT_LENGTH=str(length),
                                      **{"wsgi.input": body})
            assert response.status_code == 200, response.content
        response = complete(client, session_id)
    assert response.status_code == 201 and response.json()["state"] == "validating"
    submission = Submission.objects.get(pk=response.json()["id"])
    assert submission.file_size == size
    submission.file.delete(save=False)
    assert stage.peak_growth < chunk, f"grew by {stage.peak_growth / 1024**2:.1f} MiB"


def test_chunks_have_a_rate_of_their_own(phase, user, archive, monkeypatch):
    """An upload of many chunks spends neither the per-user rate nor the submit rate."""
    from rest_framework.throttling import SimpleRateThrottle

    rates = {"user": "4/hour", "submit": "1/hour", "upload_chunk": "1000/hour"}
    for scope, rate in rates.items():
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)
    client = api_client(user)
    session_id = send_all(client, phase, archive)  # opening: one request of the user rate
    assert len(archive) // CHUNK >= 4
    assert offset_of(client, session_id) == len(archive)
    assert complete(client, session_id).status_code == 201  # the one submission of the rate
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "upload_chunk", "2/hour")
    assert offset_of_status(client, session_id) == 429  # and that rate counts them
