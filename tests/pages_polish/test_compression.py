"""Pages and API answers are gzipped; file downloads are not compressed again: a test image
(.nii.gz) keeps its Content-Length, so a browser shows its size and progress, and a zip archive
streams as written. Through the project's own download views and middleware stack."""

import gzip

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from core.middleware import PageGZipMiddleware
from tests.challenges.test_downloads import client_of, imported_task, member

pytestmark = pytest.mark.django_db

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate"}


def test_a_test_image_is_sent_as_stored_with_its_length(tmp_path):
    task, folder = imported_task(tmp_path)
    client = client_of(member(task, username="alice"))
    stored = (folder / "imagesTs" / "cube_000.nii.gz").read_bytes()
    response = client.get(f"/tasks/{task.id}/images/cube_000.nii.gz", **GZIP)
    assert response.status_code == 200
    assert not response.has_header("Content-Encoding")
    assert response["Content-Length"] == str(len(stored))
    assert b"".join(response.streaming_content) == stored


def test_the_zip_archive_is_not_compressed_again_but_the_pages_are(tmp_path):
    task, _ = imported_task(tmp_path)
    client = client_of(member(task, username="bob"))
    archive = client.get(f"/tasks/{task.id}/images.zip", **GZIP)
    assert archive.status_code == 200 and not archive.has_header("Content-Encoding")
    assert b"".join(archive.streaming_content).startswith(b"PK\x03\x04")
    page = client.get(f"/tasks/{task.id}/data/", **GZIP)
    assert page["Content-Encoding"] == "gzip"
    assert b"Test data" in gzip.decompress(page.content)


@pytest.mark.parametrize(("content_type", "disposition", "compressed"), [
    ("text/html; charset=utf-8", None, True),
    ("application/json", None, True),
    ("text/csv", 'attachment; filename="board.csv"', False),  # a file to save
    ("application/gzip", None, False),
    ("image/png", None, False),
])
def test_which_responses_are_compressed(content_type, disposition, compressed):
    body = b"podium " * 200  # long and repetitive enough to be worth compressing
    response = HttpResponse(body, content_type=content_type)
    if disposition:
        response["Content-Disposition"] = disposition
    request = RequestFactory().get("/", **GZIP)
    answered = PageGZipMiddleware(lambda _: response)(request)
    assert answered.has_header("Content-Encoding") is compressed
    assert (gzip.decompress(answered.content) if compressed else answered.content) == body
