"""Hostile uploads through the REST API to a real worker process: the checks a request cannot
afford run as the ``validating`` step, the participant reads the same message, the worker
survives, and the JSON answers stay JSON."""

import io
import tarfile

import pytest

from tests import factories
from tests.conftest import wait_for
from tests.evaluation.helpers import cube_phase, cube_predictions_zip
from tests.security.corpus import valid_nifti

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def tar_with(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT, encoding="latin-1") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def upload(client, phase, path) -> dict:
    with open(path, "rb") as fh:
        response = client.post(f"/api/v1/phases/{phase.id}/submissions/", {"file": fh},
                               format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def finished(client, submission_id):
    response = client.get(f"/api/v1/submissions/{submission_id}/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    return None if body["active"] else body


def test_tar_uploads_are_checked_by_the_worker_which_survives_hostile_ones(
        celery_worker, tmp_path):
    phase = cube_phase(tmp_path)
    client = factories.api_client(factories.participant(phase))
    valid = {f"{case}.nii.gz": valid_nifti() for case in ("cube_000", "cube_001")}

    hostile = upload(client, phase, tar_with(tmp_path / "odd.tar.gz",
                                             {**valid, "cube_\xff.nii.gz": valid_nifti()}))
    assert hostile["state"] == "validating"
    body = wait_for(lambda: finished(client, hostile["id"]), timeout=60, what="the checks")
    assert body["state"] == "failed" and "UTF-8" in body["message"]

    good = upload(client, phase, tar_with(tmp_path / "good.tar.gz", valid))
    assert good["state"] == "validating"
    body = wait_for(lambda: finished(client, good["id"]), timeout=120, what="scoring")
    assert body["state"] == "succeeded", body["message"]
    assert celery_worker.process.poll() is None

    zipped = upload(client, phase, cube_predictions_zip(tmp_path))
    assert zipped["state"] == "queued"  # a zip is checked in the request
