"""Algorithm submissions end to end, for real: an image built from busybox-static is uploaded
through the API, a `gpu`-queue worker runs it in podman over the hidden test images, its outputs
are scored by a `scoring` worker and the leaderboard ranks it."""

import gzip
import subprocess

import nibabel as nib
import numpy as np
import pytest
from rest_framework.test import APIClient

from challenges.models import Phase
from evaluation.models import Evaluation, Submission
from evaluation.runners.image_archive import ImageSpec, LayerFile, write_image_archive
from tests import factories
from tests.conftest import BUSYBOX, WorkerProcess, wait_for
from tests.evaluation.helpers import cube_phase

pytestmark = [pytest.mark.stack, pytest.mark.engine, pytest.mark.django_db(transaction=True)]

COPY = 'for f in /input/*.nii.gz; do cp "/algo/predictions/${f##*/}" /output/ || exit 1; done'


def nifti_gz(array: np.ndarray, spacing) -> bytes:
    image = nib.Nifti1Image(array, np.diag([*spacing, 1.0]))
    image.header.set_zooms(spacing)
    return gzip.compress(image.to_bytes(), mtime=0)


def algorithm_image(path, script: str, *, cases=("cube_000", "cube_001"), user="1000:1000"):
    """A docker-save archive whose command runs ``script`` with the cube predictions baked in."""
    _, pred, spacing = factories.cube_labels()
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    files = {"/bin/busybox": LayerFile(BUSYBOX.read_bytes(), 0o755),
             "/algo/run.sh": LayerFile(script.encode(), 0o755)}
    for case in cases:
        files[f"/algo/predictions/{case}.nii.gz"] = LayerFile(nifti_gz(pred, spacing))
    spec = ImageSpec(files=files, symlinks={f"/bin/{a}": "busybox" for a in applets
                                            if a != "busybox"},
                     user=user, cmd=("/bin/sh", "/algo/run.sh"))
    write_image_archive(spec, path, tag="podium-e2e/algorithm:latest")
    return path


def post(client, phase, path):
    with open(path, "rb") as fh:
        return client.post(f"/api/v1/phases/{phase.id}/submissions/", {"file": fh},
                           format="multipart")


@pytest.fixture
def gpu_worker(podman_socket, celery_worker):
    worker = WorkerProcess("gpu", queues="gpu", extra_env={
        "DOCKER_HOST": f"unix://{podman_socket}", "PODIUM_RUNNER_NAME_PREFIX": "podium-e2e-"})
    yield worker
    worker.stop()


@pytest.fixture
def phase(tmp_path):
    return cube_phase(tmp_path, submission_kind=Phase.ALGORITHM, algorithm_memory_mb=64,
                      algorithm_cpus=1.0, algorithm_time_limit_s=60)


def client_for(phase, name):
    return factories.api_client(factories.participant(phase, name))


def result(client, submission_id):
    body = client.get(f"/api/v1/submissions/{submission_id}/").json()
    return None if body["active"] else body


def test_algorithm_image_runs_is_scored_and_ranked(gpu_worker, phase, tmp_path):
    client = client_for(phase, "runner")
    response = post(client, phase, algorithm_image(tmp_path / "algo.tar", COPY))
    assert response.status_code == 201, response.content
    body = wait_for(lambda: result(client, response.json()["id"]), timeout=180,
                    what="the algorithm to run and be scored")
    assert body["state"] == "succeeded", (body["message"], gpu_worker.output()[-3000:])
    assert body["results"]["aggregate"]["1"]["dice"] == pytest.approx(0.9, abs=1e-12)
    assert body["results"]["aggregate"]["2"]["dice"] == pytest.approx(2 / 3, abs=1e-12)
    assert "logs" not in body  # the phase does not show algorithm logs
    evaluation = Evaluation.objects.get(submission_id=response.json()["id"])
    assert evaluation.outputs and evaluation.worker.startswith("session-")

    def ranked():
        entries = APIClient().get(f"/api/v1/phases/{phase.id}/leaderboard/").json()["entries"]
        return entries or None

    entries = wait_for(ranked, timeout=60, what="the leaderboard")
    assert entries[0]["entrant"] == "runner" and entries[0]["rank"] == 1

    again = post(client, phase, tmp_path / "algo.tar")
    assert again.status_code == 409 and "already submitted" in again.json()["detail"]


def test_failures_give_the_participant_an_actionable_message(gpu_worker, phase, tmp_path):
    phase.show_algorithm_logs = True
    phase.save()
    client = client_for(phase, "crasher")
    crash = post(client, phase, algorithm_image(
        tmp_path / "crash.tar", "echo loading model; echo CUDA missing >&2; exit 3"))
    partial = post(client, phase, algorithm_image(
        tmp_path / "partial.tar", 'cp /algo/predictions/cube_000.nii.gz /output/',
        cases=("cube_000",)))
    smuggler = post(client, phase, algorithm_image(
        tmp_path / "smuggle.tar", COPY + '; echo x > "/output/SECRET-intensity-123.nii.gz"'))
    root = post(client, phase, algorithm_image(tmp_path / "root.tar", COPY, user="0"))
    # An image is read in full by a worker (the validating step), not by the request.
    assert root.status_code == 201 and root.json()["state"] == "validating"
    refused = wait_for(lambda: result(client, root.json()["id"]), timeout=120, what="checks")
    assert refused["state"] == "failed" and "USER 1000" in refused["message"]
    assert Submission.objects.get(file_name="root.tar").is_valid is False

    crashed = wait_for(lambda: result(client, crash.json()["id"]), timeout=180, what="run")
    assert crashed["state"] == "failed"
    assert crashed["message"].startswith("the algorithm exited with code 3")
    assert "CUDA missing" in crashed["message"] and "CUDA missing" in crashed["logs"]
    incomplete = wait_for(lambda: result(client, partial.json()["id"]), timeout=180, what="run")
    assert incomplete["state"] == "failed"
    assert "1 test case(s) have no output: cube_001" in incomplete["message"]
    smuggled = wait_for(lambda: result(client, smuggler.json()["id"]), timeout=180, what="run")
    assert smuggled["state"] == "failed"
    assert "1 file(s) in /output are not named after a test case" in smuggled["message"]
    assert "SECRET" not in smuggled["message"]  # names written by the algorithm stay inside
    for body in (crashed, incomplete, smuggled):
        assert "/tmp" not in body["message"] and "podium-e2e" not in body["message"]
