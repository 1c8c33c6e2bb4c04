"""Downloading a task's test images and training data: exactly the test images, never a label,
only for accepted participants and organizers, streamed at constant memory, logged."""

import calendar
import io
import os
import time
import tracemalloc
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.test import Client, override_settings
from moto.server import ThreadedMotoServer

from challenges import downloads
from challenges.models import (
    Challenge,
    DownloadLog,
    GroundTruth,
    Participation,
    Task,
    TrainingData,
)
from core.errors import Refused
from core.storage import private_storage
from evaluation.services.demo_data import write_nifti
from evaluation.services.importing import import_task
from tests import factories

pytestmark = pytest.mark.django_db


def imported_task(tmp_path: Path, slug: str = "cubes") -> tuple[Task, Path]:
    """The cube task imported with a different test image per case; and its folder."""
    folder = factories.write_cube_task(tmp_path / slug)
    ref, _, spacing = factories.cube_labels()
    write_nifti(folder / "imagesTs" / "cube_001.nii.gz", ref.astype(np.float32) * 7 + 3, spacing)
    return import_task(folder, challenge_slug=slug).task, folder


def client_of(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def member(task: Task, status: str = Participation.ACCEPTED, username: str | None = None):
    return factories.participant(task.phases.get(), username, status=status)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def urls_of(task: Task, item: TrainingData | None = None) -> list[str]:
    urls = [f"/tasks/{task.id}/data/", f"/tasks/{task.id}/images.zip",
            f"/tasks/{task.id}/images/cube_000.nii.gz"]
    if item is not None:
        urls.append(f"/tasks/{task.id}/training/{item.id}/")
    return urls


def label_bytes(task: Task) -> list[bytes]:
    """Pieces of every hidden label file of ``task`` (a response holding one leaks it)."""
    pieces = []
    for gt in GroundTruth.objects.filter(task=task):
        for entry in gt.files.values():
            raw = private_storage().open(entry["path"]).read()
            pieces += [raw[10:42], raw[len(raw) // 2: len(raw) // 2 + 32], raw[-32:]]
    return pieces


def accepted_download(tmp_path, username: str, path: str):
    """The imported task, its folder, an accepted participant and their streamed download of
    ``/tasks/<task id>/<path>``."""
    task, folder = imported_task(tmp_path)
    user = member(task, username=username)
    response = client_of(user).get(f"/tasks/{task.id}/{path}")
    assert response.status_code == 200 and response.streaming
    return task, folder, user, response


def test_the_archive_holds_exactly_the_test_images(tmp_path):
    task, folder, alice, response = accepted_download(tmp_path, "alice", "images.zip")
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="Task09_Cubes.zip"'
    data = body(response)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        members = archive.infolist()
        assert [m.filename for m in members] == ["Task09_Cubes/cube_000.nii.gz",
                                                 "Task09_Cubes/cube_001.nii.gz"]
        assert {m.compress_type for m in members} == {zipfile.ZIP_STORED}
        for info in members:
            image = folder / "imagesTs" / PurePosixPath(info.filename).name
            assert archive.read(info) == image.read_bytes()
    assert (folder / "imagesTs" / "cube_000.nii.gz").read_bytes() != \
        (folder / "imagesTs" / "cube_001.nii.gz").read_bytes()
    for piece in label_bytes(task):
        assert piece not in data
    log = DownloadLog.objects.get()
    assert (log.user, log.task, log.item, log.signed_url) == (alice, task, "all", False)
    assert log.bytes == sum((folder / "imagesTs" / f"cube_00{i}.nii.gz").stat().st_size
                            for i in range(2))
    assert log.ip_address == "127.0.0.1"


def test_one_test_image_by_its_name(tmp_path):
    task, folder, bob, response = accepted_download(tmp_path, "bob", "images/cube_001.nii.gz")
    assert response["Content-Disposition"] == 'attachment; filename="cube_001.nii.gz"'
    assert "private" in response["Cache-Control"]
    assert body(response) == (folder / "imagesTs" / "cube_001.nii.gz").read_bytes()
    log = DownloadLog.objects.get()
    size = (folder / "imagesTs" / "cube_001.nii.gz").stat().st_size
    assert (log.user, log.task, log.item, log.bytes) == (bob, task, "cube_001", size)


def test_the_page_lists_files_sizes_and_training_data_without_storage_names(tmp_path):
    task, folder = imported_task(tmp_path)
    TrainingData.objects.create(task=task, title="Training set", url="https://example.org/t.tar",
                                note="CT volumes with labels")
    page = client_of(member(task)).get(f"/tasks/{task.id}/data/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/tasks/{task.id}/images.zip"' in html
    for case in ("cube_000", "cube_001"):
        assert f'href="/tasks/{task.id}/images/{case}.nii.gz"' in html
        size = (folder / "imagesTs" / f"{case}.nii.gz").stat().st_size
        assert f'title="{size} bytes"' in html
    assert "Training set" in html and "CT volumes with labels" in html
    for name in task.images.values():
        assert name not in html and PurePosixPath(name).stem.split(".")[0] not in html
    assert not DownloadLog.objects.exists()  # looking is not downloading


@pytest.mark.parametrize("status, message", [
    (None, "join the challenge to download its test data"),
    (Participation.PENDING, "waiting for an organizer&#x27;s approval"),
    (Participation.REJECTED, "was not accepted"),
])
def test_only_accepted_participants_download(tmp_path, status, message):
    task, _ = imported_task(tmp_path)
    item = TrainingData.objects.create(task=task, title="t", url="https://example.org/t")
    user = member(task, status) if status else factories.user()
    for url in urls_of(task, item):
        response = client_of(user).get(url)
        assert response.status_code == 403, url
        assert message in response.content.decode(), url
    assert not DownloadLog.objects.exists()


def test_anonymous_visitors_are_asked_to_log_in(tmp_path):
    task, _ = imported_task(tmp_path)
    for url in urls_of(task):
        response = client_of().get(url)
        assert response.status_code == 403
        assert "log in and join the challenge" in response.content.decode()
        assert "/accounts/login/?next=" in response.content.decode()
    assert not DownloadLog.objects.exists()


def test_organizers_download_and_unpublished_challenges_hide_from_others(tmp_path):
    task, _ = imported_task(tmp_path)
    organizer, outsider = factories.user("organizer"), factories.user("outsider")
    outsider.is_staff = True  # opens the console, makes no one an organizer
    outsider.save()
    platform_admin = factories.user("root", staff=True)  # a superuser
    task.challenge.organizers.add(organizer)
    Challenge.objects.filter(pk=task.challenge_id).update(is_published=False)
    for url in urls_of(task):
        assert client_of(organizer).get(url).status_code == 200, url
        assert client_of(platform_admin).get(url).status_code == 200, url
        assert client_of(outsider).get(url).status_code == 404, url  # staff is no role
        assert client_of(member(task)).get(url).status_code == 404, url
    assert DownloadLog.objects.filter(user=organizer).count() == 2  # the archive, one image


def test_no_url_reaches_a_label_or_another_tasks_files(tmp_path):
    task, _ = imported_task(tmp_path)
    other, _ = imported_task(tmp_path, slug="other")
    other_item = TrainingData.objects.create(task=other, title="o", url="https://example.org/o")
    alice = member(task)
    client = client_of(alice)
    label_names = [entry["path"] for gt in GroundTruth.objects.all() for entry in gt.files.values()]
    attempts = [*label_names, *(PurePosixPath(n).name for n in label_names),
                *(f"../../{n}" for n in label_names), *(n.replace("/", "%2F") for n in label_names),
                *task.images.values(), *(PurePosixPath(n).name for n in task.images.values()),
                "cube_000", "labelsTs%2Fcube_000.nii.gz", "..%2F..%2Fgroundtruth",
                "%2e%2e%2fcube_000.nii.gz", "cube_000.nii.gz%00", "..", "."]
    secrets = label_bytes(task) + label_bytes(other) + [
        text.encode() for gt in GroundTruth.objects.all() for entry in gt.files.values()
        for text in (entry["path"], entry["sha256"])]
    for name in attempts:
        response = client.get(f"/tasks/{task.id}/images/{name}")
        assert response.status_code == 404, name
        assert not any(piece in body(response) for piece in secrets), name
    for gt in GroundTruth.objects.all():  # a ground truth's id is not a task's
        assert client.get(f"/tasks/{gt.id}/images.zip").status_code == 404
    assert client.get(f"/tasks/{other.id}/images.zip").status_code == 403  # not a participant
    assert client.get(f"/tasks/{task.id}/training/{other_item.id}/").status_code == 404
    assert not DownloadLog.objects.exists()


def test_training_data_files_and_links(tmp_path):
    task, _ = imported_task(tmp_path)
    payload = os.urandom(70_000)
    kept = TrainingData.objects.create(task=task, title="Training volumes",
                                       file=ContentFile(payload, name="train set.zip"))
    assert kept.file.name.startswith(f"training/{task.id}/")
    assert private_storage().exists(kept.file.name)
    link = TrainingData.objects.create(task=task, title="Mirror", url="https://example.org/d")
    client = client_of(member(task, username="carol"))
    page = client.get(f"/tasks/{task.id}/data/").content.decode()
    assert "Training volumes" in page and "68.4\xa0KB" in page and "(link)" in page
    response = client.get(f"/tasks/{task.id}/training/{kept.id}/")
    assert body(response) == payload
    assert response["Content-Disposition"] == 'attachment; filename="train_set.zip"'
    redirect = client.get(f"/tasks/{task.id}/training/{link.id}/")
    assert (redirect.status_code, redirect["Location"]) == (302, "https://example.org/d")
    assert sorted(DownloadLog.objects.values_list("item", "bytes")) == [
        ("training: Mirror", None), ("training: Training volumes", len(payload))]


def test_training_data_is_a_link_or_a_file():
    task = factories.phase().task
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingData.objects.create(task=task, title="neither")
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingData.objects.create(task=task, title="both", url="https://example.org/x",
                                    file=ContentFile(b"x", name="x.zip"))


def test_a_large_archive_streams_in_bounded_chunks_at_constant_memory(tmp_path):
    phase = factories.phase(cases=("big_a", "big_b", "big_c"))
    task, storage = phase.task, private_storage()
    originals = {}
    for case in task.case_names:
        originals[case] = os.urandom(8 * 1024 * 1024)
        task.images[case] = storage.save(f"images/{task.id}/{case}.nii.gz",
                                         ContentFile(originals[case]))
    task.save()
    response = client_of(factories.participant(phase)).get(f"/tasks/{task.id}/images.zip")
    assert response.streaming
    sizes, target = [], tmp_path / "download.zip"
    tracemalloc.start()
    try:
        with open(target, "wb") as fh:
            for chunk in response.streaming_content:
                sizes.append(len(chunk))
                fh.write(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    total = sum(len(data) for data in originals.values())
    assert sum(sizes) > total and len(sizes) >= 24
    assert max(sizes) <= downloads.CHUNK_BYTES + 4096
    assert peak < 4 * downloads.CHUNK_BYTES < total / 5, peak  # a few chunks, not the archive
    with zipfile.ZipFile(target) as archive:
        for case, data in originals.items():
            assert archive.read(f"Task01_Test/{case}.nii.gz") == data


def test_a_task_without_test_images():
    phase = factories.phase()
    client = client_of(factories.participant(phase))
    assert "No test images are stored" in client.get(f"/tasks/{phase.task_id}/data/")\
        .content.decode()
    response = client.get(f"/tasks/{phase.task_id}/images.zip")
    assert response.status_code == 404 and "has no test images" in response.content.decode()


@pytest.fixture
def s3_private(settings):
    """Private storage on S3, as ``PODIUM_STORAGE=s3`` configures it, served by moto's S3
    server (a stand-in for the cloud API) on a local port, with an empty private bucket."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    options = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**settings.S3_STORAGE_OPTIONS, "bucket_name": "podium-private",
                    "access_key": "AKIAPODIUMTEST", "secret_key": "podium-test-secret",
                    "region_name": "eu-west-1", "endpoint_url": f"http://{host}:{port}"},
    }
    try:
        with override_settings(STORAGES={**settings.STORAGES, "private": options}):
            storage = private_storage()
            storage.connection.meta.client.create_bucket(
                Bucket="podium-private",
                CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
            try:
                yield f"http://{host}:{port}"
            finally:
                # moto keeps its buckets per process, not per server: leave none behind.
                storage.bucket.objects.all().delete()
                storage.bucket.delete()
    finally:
        server.stop()


def test_on_s3_an_image_is_a_short_lived_signed_url_and_the_archive_streams(tmp_path,
                                                                             s3_private,
                                                                             settings):
    task, folder = imported_task(tmp_path)
    for name in task.images.values():  # in the bucket, not on the disk
        assert private_storage().exists(name) and not (settings.PRIVATE_DIR / name).exists()
    client = client_of(member(task, username="erin"))
    before = int(time.time())
    response = client.get(f"/tasks/{task.id}/images/cube_001.nii.gz")
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}" == s3_private
    assert location.path == f"/podium-private/{task.images['cube_001']}"
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Signature"][0]
    assert query["X-Amz-Credential"][0].startswith("AKIAPODIUMTEST/")
    assert query["X-Amz-Expires"] == [str(downloads.SIGNED_URL_SECONDS)]
    signed_at = calendar.timegm(time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ"))
    assert before - 1 <= signed_at <= time.time() + 1
    with urllib.request.urlopen(response["Location"]) as fetched:  # noqa: S310  (local server)
        assert fetched.read() == (folder / "imagesTs" / "cube_001.nii.gz").read_bytes()
        assert fetched.headers["Content-Disposition"] == \
            'attachment; filename="cube_001.nii.gz"'
    archive = client.get(f"/tasks/{task.id}/images.zip")
    with zipfile.ZipFile(io.BytesIO(body(archive))) as opened:
        for case in ("cube_000", "cube_001"):
            assert opened.read(f"Task09_Cubes/{case}.nii.gz") == \
                (folder / "imagesTs" / f"{case}.nii.gz").read_bytes()
    assert sorted(DownloadLog.objects.values_list("item", "signed_url", "bytes")) == [
        ("all", False, sum(p.stat().st_size for p in (folder / "imagesTs").iterdir())),
        ("cube_001", True, None)]


def test_the_challenge_page_links_the_test_data_for_those_who_may_have_it(tmp_path):
    task, _ = imported_task(tmp_path)
    link = f'href="/tasks/{task.id}/data/"'
    page = f"/challenges/{task.challenge.slug}/"
    assert link in client_of(member(task)).get(page).content.decode()
    assert link not in client_of(member(task, Participation.PENDING)).get(page).content.decode()
    assert link not in client_of().get(page).content.decode()
    organizer = factories.user()
    task.challenge.organizers.add(organizer)
    assert link in client_of(organizer).get(page).content.decode()


def test_the_console_shows_downloads_read_only(tmp_path):
    task, _ = imported_task(tmp_path)
    client_of(member(task, username="dora")).get(f"/tasks/{task.id}/images/cube_000.nii.gz")
    admin = client_of(factories.user(staff=True))
    listing = admin.get("/admin/challenges/downloadlog/")
    assert listing.status_code == 200 and "dora" in listing.content.decode()
    log = DownloadLog.objects.get()
    assert admin.get("/admin/challenges/downloadlog/add/").status_code == 403
    assert admin.post(f"/admin/challenges/downloadlog/{log.id}/change/",
                      {"item": "changed"}).status_code == 403
    assert admin.post(f"/admin/challenges/downloadlog/{log.id}/delete/",
                      {"post": "yes"}).status_code == 403
    assert DownloadLog.objects.get().item == "cube_000"
    assert admin.get("/admin/challenges/trainingdata/add/").status_code == 200
    elsewhere = factories.user("elsewhere")  # staff organizing another challenge only
    elsewhere.is_staff = True
    elsewhere.save()
    factories.phase().task.challenge.organizers.add(elsewhere)
    listing = client_of(elsewhere).get("/admin/challenges/downloadlog/")
    assert listing.status_code == 200 and "dora" not in listing.content.decode()
    task.challenge.organizers.add(elsewhere)
    assert "dora" in client_of(elsewhere).get("/admin/challenges/downloadlog/").content.decode()


def test_an_image_over_4_gib_gets_zip64_records(tmp_path):
    """A sparse 4 GiB + 1 MiB image (zeros, no disk used) through the real view: the member
    needs ZIP64 sizes; the output is written sparse too, and read back by zipfile."""
    phase = factories.phase(cases=("huge",))
    task, storage = phase.task, private_storage()
    name = storage.save(f"images/{task.id}/huge.nii.gz", ContentFile(b""))
    size = 2**32 + 2**20
    os.truncate(storage.path(name), size)
    task.images = {"huge": name}
    task.save()
    response = client_of(factories.participant(phase)).get(f"/tasks/{task.id}/images.zip")
    target = tmp_path / "huge.zip"
    with open(target, "wb") as fh:
        for chunk in response.streaming_content:
            if chunk.count(0) == len(chunk):
                fh.seek(len(chunk), os.SEEK_CUR)
            else:
                fh.write(chunk)
        fh.truncate()
    with zipfile.ZipFile(target) as archive:
        (info,) = archive.infolist()
        assert (info.filename, info.file_size, info.compress_size) == \
            ("Task01_Test/huge.nii.gz", size, size)
        assert info.extra[:2] == b"\x01\x00"  # the ZIP64 extended information field
        with archive.open(info) as member:
            assert member.read(16) == bytes(16)
    assert DownloadLog.objects.get().bytes == size


def data_page(phase) -> str:
    response = client_of(factories.participant(phase)).get(f"/tasks/{phase.task_id}/data/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_data_page_says_how_to_predict_for_each_kind():
    segmentation = factories.phase()
    html = data_page(segmentation)
    assert "Predict one label map per image" in html and "DICOM SEG" not in html

    detection = factories.phase()
    Task.objects.filter(pk=detection.task_id).update(kind=Task.DETECTION)
    html = data_page(detection)
    assert "<code>image_id,label,score,xmin,ymin,xmax,ymax</code>" in html
    assert "label map" not in html

    classification = factories.phase()
    Task.objects.filter(pk=classification.task_id).update(
        kind=Task.CLASSIFICATION, clinical={"target": "egfr", "classes": ["wild", "mutant"],
                                            "positive_class": "mutant"})
    html = data_page(classification)
    assert "<code>case,probability</code>" in html and "<code>case,egfr_probability</code>" in html
    assert "<strong>mutant</strong>" in html and "label map" not in html

    survival = factories.phase(name="Final", survival_times=[365, 182.5])
    Task.objects.filter(pk=survival.task_id).update(
        kind=Task.SURVIVAL, clinical={"target": "os", "time_unit": "days"})
    html = data_page(survival)
    assert "<code>case,risk</code>" in html and "<code>case,os_risk</code>" in html
    assert "Final: <code>case,risk,S@365,S@182.5</code>" in html and "(days)" in html
    assert "label map" not in html


def test_a_seg_phase_lists_each_cases_series_and_the_source_collection():
    phase = factories.phase(accepts_dicom_seg=True, seg_fractional_threshold=0.4)
    task = phase.task
    task.cases = [{**case, "dicom": {"series_instance_uid": f"1.2.826.0.1.{n}",
                                     "frame_of_reference_uid": f"1.2.826.0.2.{n}",
                                     "sop_instance_uids": ["1.2.3.4.5.6"], "geometry": {}}}
                  for n, case in enumerate(task.cases)]
    task.save()
    GroundTruth.objects.filter(pk=phase.active_ground_truth_id).update(
        source_collection="NSCLC-Demo", source_version="3", source_doi="10.7937/K9/TCIA.X1",
        source_licence="CC BY 4.0", source_manifest={"S-001": {"series": "1.9.9.9"}})
    html = data_page(phase)
    assert "<code>&lt;case&gt;.dcm</code>" in html and "<code>organ</code>" in html
    assert "(Test: 0.4)" in html  # the phase's fractional threshold
    for n, case in enumerate(("case_a", "case_b")):
        assert f"<tr><td>{case}</td><td class=\"uid\"><code>1.2.826.0.1.{n}</code>" in html
        assert f"<code>1.2.826.0.2.{n}</code>" in html
    assert 'DOI <a href="https://doi.org/10.7937/K9/TCIA.X1">10.7937/K9/TCIA.X1</a>' in html
    assert "NSCLC-Demo, version 3" in html and "CC BY 4.0" in html
    assert "1.9.9.9" not in html and "1.2.3.4.5.6" not in html  # no manifest, no slice UIDs
    assert "/groundtruth/" not in html


def test_a_held_task_says_why_in_one_sentence(monkeypatch):
    phase = factories.phase()
    monkeypatch.setattr(downloads, "downloadable_task", lambda user, task_id: (_ for _ in ()).throw(
        Refused("held back. They can be downloaded once the review is done.")))
    html = client_of(factories.participant(phase)).get(f"/tasks/{phase.task_id}/data/")\
        .content.decode()
    assert "once the review is done.</p>" in html and ".." not in html
