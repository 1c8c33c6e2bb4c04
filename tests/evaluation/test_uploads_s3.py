"""Uploads in chunks on S3 storage: the bytes go to the bucket as the parts of a multipart upload
while they arrive (each part but the last at least S3's 5 MiB, whatever the chunk size), so
completing is one CompleteMultipartUpload call and the server's memory stays flat; abandoned or
refused uploads leave nothing in the bucket.

moto's S3 server stands in for the cloud API, in a process of its own (it keeps what it
receives in memory, which must not count as the web process's). It refuses, as S3 does, to
assemble a part under 5 MiB that is not the last.
"""

import hashlib
import math
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.files.storage import storages

from challenges.models import Phase
from evaluation import uploads
from evaluation.models import State, Submission, UploadSession
from tests import factories
from tests.conftest import wait_for
from tests.factories import api_client

from .helpers import cube_phase, cube_predictions_zip
from .test_uploads import _ImageLikeBody, complete, put, start

pytestmark = pytest.mark.django_db

MIB = 1024**2
BUCKET = "podium-uploads"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310  (local server)
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory) -> str:
    port = _free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    server = subprocess.Popen([Path(sys.executable).parent / "moto_server", "-H", "127.0.0.1",
                               "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{endpoint}/moto-api/"), timeout=30, what="moto's server")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def bucket(moto_endpoint, settings):
    """The uploads storage on S3, as ``PODIUM_STORAGE=s3`` configures it, with an empty
    bucket; the S3 client of the storage."""
    options = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**settings.S3_STORAGE_OPTIONS, "bucket_name": BUCKET,
                    "access_key": "AKIAPODIUMTEST", "secret_key": "podium-test-secret",
                    "region_name": "eu-west-1", "endpoint_url": moto_endpoint},
    }
    # Through pytest-django's settings, which undoes every change in order at the end (a
    # nested override_settings would restore S3 after a test changed another setting).
    settings.STORAGES = {**settings.STORAGES, "default": options}
    client = storages["default"].connection.meta.client
    client.create_bucket(Bucket=BUCKET,
                         CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for entry in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=entry["Key"])
    for upload in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        client.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"],
                                      UploadId=upload["UploadId"])
    client.delete_bucket(Bucket=BUCKET)


class S3Calls:
    """The S3 operations the storage's client makes inside the block."""

    def __init__(self, client):
        self.client, self.names, self.seconds = client, [], 0.0

    def _before(self, model, **kwargs):
        self.names.append(model.name)
        self.seconds -= time.perf_counter()

    def _after(self, **kwargs):
        self.seconds += time.perf_counter()

    def __enter__(self):
        self.client.meta.events.register("before-call.s3", self._before)
        self.client.meta.events.register("after-call.s3", self._after)
        return self

    def __exit__(self, *exc):
        self.client.meta.events.unregister("before-call.s3", self._before)
        self.client.meta.events.unregister("after-call.s3", self._after)


def image_like(size: int) -> bytes:
    return _ImageLikeBody(size).read()


def parts_of(client, session: UploadSession) -> list[int]:
    listed = client.list_parts(Bucket=BUCKET, Key=session.stored_name,
                               UploadId=session.multipart_id)
    return [part["Size"] for part in listed.get("Parts", [])]


def keys(client) -> list[str]:
    return [entry["Key"] for entry in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_chunks_under_five_mib_become_parts_of_five_and_completing_is_one_call(
        bucket, tmp_path, settings):
    settings.PODIUM_UPLOAD_CHUNK_BYTES = MIB
    phase = cube_phase(tmp_path, submission_kind=Phase.ALGORITHM)
    client = api_client(factories.participant(phase, "s3-small-chunks"))
    data = image_like(12 * MIB + 123)
    session_id = start(client, phase, data, file_name="image.tar").json()["id"]
    session = UploadSession.objects.get(pk=session_id)
    assert session.stored_name == f"algorithms/upload-{session_id}.tar" and session.multipart_id
    sent = []
    for offset in range(0, len(data), MIB):
        assert put(client, session_id, offset, data[offset:offset + MIB]).status_code == 200
        sent.append(len(parts_of(bucket, UploadSession.objects.get(pk=session_id))))
    assert sent == [0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 3]  # a part per 5 MiB, then the rest
    session = UploadSession.objects.get(pk=session_id)
    assert parts_of(bucket, session) == [5 * MIB, 5 * MIB, 2 * MIB + 123]
    assert session.shipped == len(data) and keys(bucket) == []  # not assembled yet

    with S3Calls(bucket) as calls:
        response = complete(client, session_id)
    assert response.status_code == 201 and response.json()["state"] == State.VALIDATING
    assert calls.names == ["CompleteMultipartUpload"]
    submission = Submission.objects.get(pk=response.json()["id"])
    assert submission.file.name == session.stored_name and keys(bucket) == [session.stored_name]
    stored = bucket.get_object(Bucket=BUCKET, Key=session.stored_name)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == submission.file_sha256 == \
        hashlib.sha256(data).hexdigest()
    assert not uploads.partial_path(session).exists()
    assert bucket.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    again = complete(client, session_id)  # a retry after a lost answer
    assert again.status_code == 200 and again.json()["id"] == str(submission.id)
    # Deleting the completed session leaves the submission its file.
    assert client.delete(f"/api/v1/uploads/{session_id}/").status_code == 204
    assert keys(bucket) == [session.stored_name]


def test_a_zip_under_one_part_is_checked_in_the_request_and_stored(bucket, phase, user,
                                                                  tmp_path, settings):
    settings.PODIUM_UPLOAD_CHUNK_BYTES = 4096
    archive = cube_predictions_zip(tmp_path).read_bytes()
    assert len(archive) < 5 * MIB
    client = api_client(user)
    session_id = start(client, phase, archive).json()["id"]
    for offset in range(0, len(archive), 4096):
        assert put(client, session_id, offset, archive[offset:offset + 4096]).status_code == 200
    session = UploadSession.objects.get(pk=session_id)
    assert session.stored_name == f"submissions/{phase.id}/{session_id}/upload"
    assert parts_of(bucket, session) == [len(archive)]  # the last part may be small
    response = complete(client, session_id)
    assert response.status_code == 201 and response.json()["state"] == State.QUEUED
    submission = Submission.objects.get(pk=response.json()["id"])
    assert submission.is_valid and submission.file.read() == archive


def test_abandoned_or_refused_uploads_leave_nothing_in_the_bucket(bucket, phase, user,
                                                                  settings):
    settings.PODIUM_UPLOAD_CHUNK_BYTES = MIB
    client = api_client(user)
    data = b"PK\x03\x04 but not a zip at all " * (6 * MIB // 30)

    abandoned = start(client, phase, data).json()["id"]
    assert put(client, abandoned, 0, data[:MIB]).status_code == 200
    assert client.delete(f"/api/v1/uploads/{abandoned}/").status_code == 204

    declared = start(client, phase, data, sha256="0" * 64).json()["id"]
    refused = start(client, phase, data).json()["id"]
    for session_id in (declared, refused):
        for offset in range(0, len(data), MIB):
            assert put(client, session_id, offset, data[offset:offset + MIB]).status_code == 200
    mismatch = complete(client, declared)
    assert mismatch.status_code == 400 and "SHA-256" in mismatch.json()["detail"]
    broken = complete(client, refused)
    assert broken.status_code == 400, broken.content
    assert not UploadSession.objects.exists() and not Submission.objects.exists()
    assert keys(bucket) == []
    assert bucket.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_part_size_keeps_the_part_count_within_s3s_limit():
    assert uploads.part_bytes(1) == uploads.part_bytes(40 * 1024**3) == 5 * MIB
    huge = 200 * 1024**3  # 40,960 parts of 5 MiB: too many for S3
    assert uploads.part_bytes(huge) > 5 * MIB
    assert math.ceil(huge / uploads.part_bytes(huge)) <= uploads.S3_MAX_PARTS == 10_000


def test_memory_stays_flat_and_completing_does_not_grow_with_the_size(bucket, tmp_path,
                                                                      settings):
    """200 MB in 16 MiB chunks to S3: the process grows by less than one chunk, and the
    completing request makes one S3 call."""
    from tests.security.measure import Stage

    settings.PODIUM_UPLOAD_CHUNK_BYTES = chunk = 16 * MIB
    phase = cube_phase(tmp_path, submission_kind=Phase.ALGORITHM)
    client = api_client(factories.participant(phase, "s3-big"))
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
        with S3Calls(bucket) as calls:
            began = time.perf_counter()
            response = complete(client, session_id)
            completing_s = time.perf_counter() - began
    assert response.status_code == 201 and response.json()["state"] == State.VALIDATING
    assert calls.names == ["CompleteMultipartUpload"]
    assert Submission.objects.get(pk=response.json()["id"]).file_size == size
    print(f"S3 upload of {size / 1e6:.0f} MB: completing {completing_s * 1000:.0f} ms, of "
          f"which S3 (moto) {calls.seconds * 1000:.0f} ms; peak growth "
          f"{stage.peak_growth / MIB:.1f} MiB")
    assert stage.peak_growth < chunk, f"grew by {stage.peak_growth / MIB:.1f} MiB"
