"""The test-image download for scripts (challenges/download_views.py): an API token logs in,
the data page lists the images as JSON, and a file answers one byte range with 206 so that an
interrupted download resumes."""

import pytest
from django.test import Client

from challenges.download_views import UNSATISFIABLE, byte_range
from challenges.models import DownloadLog, Participation
from tests import factories
from tests.challenges.test_downloads import body, imported_task, member

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("header, expected", [
    ("", None),
    ("bytes=0-", (0, 99)),
    ("bytes=40-", (40, 99)),
    ("bytes=40-59", (40, 59)),
    ("bytes=40-500", (40, 99)),
    ("bytes=-10", (90, 99)),
    ("bytes=-500", (0, 99)),
    ("bytes=100-", UNSATISFIABLE),
    ("bytes=500-600", UNSATISFIABLE),
    ("bytes=-0", UNSATISFIABLE),
    ("bytes=60-40", None),  # malformed: ignored
    ("bytes=0-1,5-6", None),  # several ranges: the whole file
    ("bytes=-", None),
    ("items=0-5", None),
])
def test_the_range_header_is_read_as_rfc_9110_says(header, expected):
    assert byte_range(header, 100) == expected


@pytest.fixture
def image(tmp_path):
    """(task, an accepted participant's token client, the test image's bytes)."""
    task, folder = imported_task(tmp_path)
    user = member(task, username="ranger")
    client = Client(HTTP_AUTHORIZATION=f"Token {factories.token(user)}")
    return task, client, (folder / "imagesTs" / "cube_001.nii.gz").read_bytes()


def test_a_token_downloads_a_range_of_a_test_image(image):
    task, client, data = image
    url = f"/tasks/{task.id}/images/cube_001.nii.gz"
    whole = client.get(url)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert body(whole) == data
    start = len(data) // 3
    part = client.get(url, HTTP_RANGE=f"bytes={start}-")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes {start}-{len(data) - 1}/{len(data)}"
    assert int(part["Content-Length"]) == len(data) - start
    assert part["Content-Disposition"] == 'attachment; filename="cube_001.nii.gz"'
    assert body(part) == data[start:]
    middle = client.get(url, HTTP_RANGE="bytes=10-19")
    assert (middle.status_code, body(middle)) == (206, data[10:20])
    past = client.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(data)}"
    logged = sorted(DownloadLog.objects.values_list("item", "bytes"))
    assert logged == sorted([("cube_001", len(data)), ("cube_001", len(data) - start),
                             ("cube_001", 10)])  # the unsatisfiable range sent nothing


def test_the_data_page_lists_the_images_as_json_for_a_token(image, tmp_path):
    task, client, data = image
    listing = client.get(f"/tasks/{task.id}/data/")
    assert listing.status_code == 200 and listing["Content-Type"] == "application/json"
    images = listing.json()["images"]
    assert [(i["case"], i["file_name"]) for i in images] == [
        ("cube_000", "cube_000.nii.gz"), ("cube_001", "cube_001.nii.gz")]
    assert images[1]["size"] == len(data)
    assert images[1]["url"] == f"http://testserver/tasks/{task.id}/images/cube_001.nii.gz"
    assert "Accept" in listing["Vary"] and "private" in listing["Cache-Control"]
    for name in task.images.values():  # storage names (content hashes) stay on the server
        assert name not in listing.content.decode()


def test_a_script_is_refused_in_json_with_the_reason(image):
    task, _client, _data = image
    pending = factories.participant(task.phases.get(), "waiting", status=Participation.PENDING)
    for client, status, detail in [
        (Client(HTTP_AUTHORIZATION=f"Token {factories.token(pending)}"), 403,
         "your request to join is waiting for an organizer's approval; the test data can be "
         "downloaded once it is accepted"),
        (Client(HTTP_AUTHORIZATION="Token wrong"), 401, "invalid token"),
        (Client(HTTP_ACCEPT="application/json"), 403,
         "log in and join the challenge to download its test data"),
    ]:
        for url in (f"/tasks/{task.id}/data/", f"/tasks/{task.id}/images/cube_000.nii.gz"):
            answer = client.get(url)
            assert (answer.status_code, answer.json()) == (status, {"detail": detail}), url
    assert not DownloadLog.objects.exists()
    page = Client().get(f"/tasks/{task.id}/data/")  # a browser still gets the page
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")
