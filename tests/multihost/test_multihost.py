"""Podium on three hosts that share only PostgreSQL, Redis and the object store: an organizer
imports a task through the web host's console, participants join, download the test images
through signed URLs of the object store, submit predictions (in chunks) and an algorithm image
(posted whole); worker-a (the ``scoring`` queue) imports and scores, worker-b (the ``gpu``
queue, with the container engine) runs the algorithm, and the leaderboard ranks both.

Every host sees the other hosts' data folders as empty read-only folders: a code path that
read a file another host wrote on its own disk fails here. Afterwards the test checks that
every stored file is in the object store and that no host's folder holds one.
"""

import hashlib
import io
import re
import tarfile
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password

from challenges.models import Challenge, Phase, Task
from evaluation import task_names
from evaluation.models import Evaluation, ImportJob, Submission
from tests import factories
from tests.conftest import wait_for
from tests.evaluation.helpers import cube_predictions_zip
from tests.integration.test_algorithm import COPY, algorithm_image

from .conftest import HTTP, PRIVATE_BUCKET, UPLOADS_BUCKET, Deployment

pytestmark = [pytest.mark.stack, pytest.mark.multihost, pytest.mark.engine,
              pytest.mark.django_db(transaction=True)]

# File kinds Podium stores (archives, images, label maps, partial uploads): none may stay on a
# host's disk.
STORED_SUFFIXES = (".zip", ".tar", ".tar.gz", ".nii", ".nii.gz", ".part")


def console_session(deployment: Deployment, username: str):
    """A logged-in session on the web host's console (the admin login form, with its CSRF
    token, as a browser sends it)."""
    session = HTTP.__class__()
    session.trust_env = False
    login = f"{deployment.web_url}/admin/login/"
    session.get(login, timeout=30).raise_for_status()
    response = session.post(login, data={
        "username": username, "password": "pw", "next": "/admin/",
        "csrfmiddlewaretoken": session.cookies["csrftoken"]}, allow_redirects=False, timeout=30)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/", \
        response.text[-2000:]
    return session


def import_through_console(deployment: Deployment, challenge: Challenge, tmp_path: Path):
    """Upload an MSD archive of the cube task to the console; a worker host imports it."""
    folder = factories.write_cube_task(tmp_path / "task")
    archive = tmp_path / "Task09_Cubes.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    console = console_session(deployment, "organizer")
    with open(archive, "rb") as fh:
        response = console.post(
            f"{deployment.web_url}/admin/evaluation/importjob/add/",
            data={"challenge": str(challenge.id), "note": "multi-host",
                  "csrfmiddlewaretoken": console.cookies["csrftoken"]},
            files={"file": (archive.name, fh)}, allow_redirects=False, timeout=60)
    assert response.status_code == 302, response.text[-3000:]
    job_id = re.fullmatch(r"/admin/evaluation/importjob/([0-9a-f-]+)/change/",
                          response.headers["Location"]).group(1)

    def finished():
        deployment.check_alive()
        body = console.get(f"{deployment.web_url}/admin/evaluation/importjob/{job_id}/progress/",
                           timeout=30).json()
        return body if body["finished"] else None

    body = wait_for(finished, timeout=90, what="the import on a worker host")
    assert body["state"] == ImportJob.SUCCEEDED, (body, deployment.hosts["worker-a"].logs())
    return folder, ImportJob.objects.get(pk=job_id)


def participant(deployment: Deployment, challenge: Challenge, name: str) -> dict:
    """A participant who joins over the API with a token of their own: its headers."""
    headers = {"Authorization": f"Token {factories.token(factories.user(name))}"}
    joined = HTTP.post(f"{deployment.web_url}/api/v1/challenges/{challenge.slug}/join/",
                       json={"accept_terms": True}, headers=headers, timeout=30)
    assert joined.status_code == 201 and joined.json()["status"] == "accepted", joined.text
    return headers


def submit(deployment: Deployment, phase: Phase, headers: dict, path: Path) -> str:
    with open(path, "rb") as fh:
        response = HTTP.post(f"{deployment.web_url}/api/v1/phases/{phase.id}/submissions/",
                             files={"file": (path.name, fh)}, headers=headers, timeout=120)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def submit_in_chunks(deployment: Deployment, phase: Phase, headers: dict, path: Path) -> str:
    """Upload ``path`` in chunks (docs/api.md): on S3 they become one multipart upload, which
    completing assembles in the bucket."""
    data = path.read_bytes()
    opened = HTTP.post(f"{deployment.web_url}/api/v1/phases/{phase.id}/uploads/",
                       json={"file_name": path.name, "size": len(data),
                             "sha256": hashlib.sha256(data).hexdigest()},
                       headers=headers, timeout=30)
    assert opened.status_code == 201, opened.text
    session = f"{deployment.web_url}{opened.headers['Location']}"
    step = len(data) // 3 + 1
    for offset in range(0, len(data), step):
        sent = HTTP.put(session, data=data[offset:offset + step], timeout=30, headers={
            **headers, "Upload-Offset": str(offset),
            "Content-Type": "application/octet-stream"})
        assert sent.status_code == 200, sent.text
    completed = HTTP.post(f"{session}complete/", headers=headers, timeout=60)
    assert completed.status_code == 201, completed.text
    return completed.json()["id"]


def finished(deployment: Deployment, headers: dict, submission_id: str, *, timeout: float):
    def done():
        deployment.check_alive()
        body = HTTP.get(f"{deployment.web_url}/api/v1/submissions/{submission_id}/",
                        headers=headers, timeout=30).json()
        return None if body["active"] else body

    return wait_for(done, timeout=timeout, what=f"submission {submission_id}")


def stored_keys(deployment: Deployment, bucket: str) -> set[str]:
    pages = deployment.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def check_downloads(deployment: Deployment, task: Task, folder: Path, headers: dict) -> None:
    """A participant downloads the test images: one through a signed URL of the object store,
    all of them as the archive the web host streams from the private bucket."""
    # A test image: the web host answers with a signed URL of the object store, fetched there.
    redirect = HTTP.get(f"{deployment.web_url}/tasks/{task.id}/images/cube_001.nii.gz",
                        headers=headers, allow_redirects=False, timeout=30)
    assert redirect.status_code == 302, redirect.text
    signed = redirect.headers["Location"]
    assert signed.startswith(f"{deployment.store_url}/{PRIVATE_BUCKET}/")
    assert re.search(r"[?&](X-Amz-)?Signature=", signed), signed  # signed, as SigV2 or V4
    image = HTTP.get(signed, timeout=30)
    assert image.status_code == 200
    assert image.content == (folder / "imagesTs" / "cube_001.nii.gz").read_bytes()
    # The whole set, streamed by the web host from the private bucket: the images, no label.
    whole = HTTP.get(f"{deployment.web_url}/tasks/{task.id}/images.zip", headers=headers,
                     timeout=60)
    assert whole.status_code == 200, whole.text
    with zipfile.ZipFile(io.BytesIO(whole.content)) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == {
            f"Task09_Cubes/{case}.nii.gz": (folder / "imagesTs" / f"{case}.nii.gz").read_bytes()
            for case in ("cube_000", "cube_001")}
    listing = HTTP.get(f"{deployment.web_url}/tasks/{task.id}/data/", headers=headers,
                       timeout=30).json()
    assert [image["case"] for image in listing["images"]] == ["cube_000", "cube_001"]


def test_import_submissions_scoring_and_downloads_across_hosts(deployment, tmp_path):
    challenge = Challenge.objects.create(slug="multihost", title="Multi-host")
    organizer = factories.user("organizer", staff=True)
    # The web host runs podium.settings, whose hashers do not include the tests' fast one.
    organizer.password = make_password("pw", hasher=PBKDF2PasswordHasher())
    organizer.save()
    challenge.organizers.add(organizer)

    folder, job = import_through_console(deployment, challenge, tmp_path)
    task = Task.objects.get(challenge=challenge, key="Task09_Cubes")
    predictions = task.phases.get()
    ground_truth = predictions.active_ground_truth
    algorithms = Phase.objects.create(
        task=task, name="Algorithms", submission_kind=Phase.ALGORITHM,
        active_ground_truth=ground_truth, algorithm_memory_mb=64, algorithm_cpus=1.0,
        algorithm_time_limit_s=60)
    private = stored_keys(deployment, PRIVATE_BUCKET)
    assert set(task.images.values()) <= private
    assert {entry["path"] for entry in ground_truth.files.values()} <= private
    assert not job.file  # the uploaded archive was removed from the bucket once imported
    assert job.worker.startswith("worker-a@"), job.worker

    alice = participant(deployment, challenge, "alice")
    bob = participant(deployment, challenge, "bob")

    check_downloads(deployment, task, folder, alice)

    scored_id = submit_in_chunks(deployment, predictions, alice, cube_predictions_zip(tmp_path))
    algorithm_id = submit(deployment, algorithms, bob,
                          algorithm_image(tmp_path / "algorithm.tar", COPY))
    scored = finished(deployment, alice, scored_id, timeout=90)
    assert scored["state"] == "succeeded", scored
    ran = finished(deployment, bob, algorithm_id, timeout=150)
    assert ran["state"] == "succeeded", (ran, deployment.hosts["worker-b"].logs())
    for body in (scored, ran):
        assert body["results"]["aggregate"]["1"]["dice"] == pytest.approx(0.9, abs=1e-12)
        assert body["results"]["aggregate"]["2"]["dice"] == pytest.approx(2 / 3, abs=1e-12)

    # Who did what: the web host stored the uploads; worker-a (the one host on the scoring
    # queue) checked the image and scored both; worker-b ran it and stored its outputs.
    evaluations = {e.submission_id: e for e in Evaluation.objects.all()}
    assert {str(key) for key in evaluations} == {scored_id, algorithm_id}
    for evaluation in evaluations.values():
        assert evaluation.worker.startswith("worker-a@"), evaluation.worker
    algorithm_run = Evaluation.objects.get(submission_id=algorithm_id)
    assert "succeeded" in algorithm_run.organizer_log
    assert re.search(rf"Task {re.escape(task_names.RUN_ALGORITHM)}\[[0-9a-f-]+\] succeeded",
                     deployment.hosts["worker-b"].logs(tail=None))
    uploads = stored_keys(deployment, UPLOADS_BUCKET)
    assert algorithm_run.outputs in uploads
    assert {s.file.name for s in Submission.objects.all()} <= uploads

    for phase, entrant in ((predictions, "alice"), (algorithms, "bob")):
        def ranked(phase=phase):
            deployment.check_alive()
            entries = HTTP.get(f"{deployment.web_url}/api/v1/phases/{phase.id}/leaderboard/",
                               timeout=30).json()["entries"]
            return entries or None

        entries = wait_for(ranked, timeout=60, what=f"the leaderboard of {phase.name}")
        assert [(e["entrant"], e["rank"]) for e in entries] == [(entrant, 1)]

    assert_hosts_kept_to_themselves(deployment)


def assert_hosts_kept_to_themselves(deployment: Deployment) -> None:
    """No host could see another's folder, none tried to, and none keeps a stored file."""
    for name, host in deployment.hosts.items():
        for other in deployment.hosts.values():
            if other is not host:  # seen from this host: an empty, read-only folder
                assert host.run(["ls", "-A", str(other.data_dir)]) == ""
                assert other.data_dir.joinpath("tmp").is_dir()  # though it has files
        logs = host.logs(tail=None)
        for trouble in ("No such file or directory", "Read-only file system", "Traceback"):
            assert trouble not in logs, f"{name}: {trouble}\n{host.logs()}"
        left = [str(path.relative_to(host.data_dir)) for path in host.data_dir.rglob("*")
                if path.is_file() and path.name.endswith(STORED_SUFFIXES)
                and "static" not in path.parts]
        if name == "worker-b":  # the test images staged for runs: its own copy, from the bucket
            left = [path for path in left if not path.startswith("work/inputs/")]
        assert left == [], f"{name} keeps stored files on its own disk: {left}"
