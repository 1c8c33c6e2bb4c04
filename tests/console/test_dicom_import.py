"""The console's *Import task* form with a DICOM collection archive (SQLite, no worker process):
the upload is stored as an import job, the job (run here as a worker would run it) converts and
imports the collection, and the job's page and its progress endpoint show what happened."""

import pytest
from django.test import Client

from challenges.models import Challenge, Task
from evaluation.models import ImportJob
from evaluation.services import import_jobs
from tests import factories
from tests.evaluation.test_dicom_import import write_collection, zip_of

pytestmark = pytest.mark.django_db

ADD = "/admin/evaluation/importjob/add/"


def test_a_dicom_collection_is_uploaded_through_the_console_form(tmp_path, settings):
    settings.PODIUM_HEARTBEAT_TIMEOUT_S = 3600
    challenge = Challenge.objects.create(slug="dicom-console", title="DICOM console")
    organizer = factories.user("dicom-organizer")
    organizer.is_staff = True
    organizer.save()
    challenge.organizers.add(organizer)
    client = Client()
    client.force_login(organizer)
    form = client.get(f"{ADD}?challenge={challenge.id}")
    assert form.status_code == 200
    assert "Or a DICOM collection as .zip/.tar(.gz)" in form.content.decode()

    folder = tmp_path / "NSCLC-Test"
    write_collection(folder)
    archive = zip_of(folder, tmp_path / "NSCLC-Test.zip")  # files at the top of the zip
    with open(archive, "rb") as fh:
        response = client.post(ADD, {"challenge": str(challenge.id), "file": fh,
                                     "note": "TCIA version 4"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    job = ImportJob.objects.get(challenge=challenge)
    assert job.file_name == "NSCLC-Test.zip" and job.user == organizer
    import_jobs.run(str(job.id), worker="test-worker")  # what the queued message makes a worker do

    body = client.get(f"/admin/evaluation/importjob/{job.id}/progress/").json()
    assert body["finished"] and body["state"] == ImportJob.SUCCEEDED, body
    assert "converted subject LUNG1-001 (1/3)" in body["progress"]
    task = Task.objects.get(challenge=challenge, key="NSCLC-Test")
    assert [case["dicom"]["series_instance_uid"] != "" for case in task.cases] == [True, True]
    gt = task.ground_truths.get()
    assert gt.note == "TCIA version 4" and gt.imported_by == organizer
    assert gt.source_collection == "NSCLC Radiogenomics"
    page = client.get(f"/admin/evaluation/importjob/{job.id}/change/").content.decode()
    assert "task NSCLC-Test (2 test cases): created" in page


def test_a_refused_collection_shows_its_message_on_the_job_page(tmp_path, settings):
    settings.PODIUM_HEARTBEAT_TIMEOUT_S = 3600
    challenge = Challenge.objects.create(slug="dicom-refused", title="DICOM refused")
    organizer = factories.user("dicom-refused")
    organizer.is_staff = True
    organizer.save()
    challenge.organizers.add(organizer)
    client = Client()
    client.force_login(organizer)
    folder = tmp_path / "NSCLC-Test"
    write_collection(folder)
    (folder / "manifest.csv").write_text("subject,split\nLUNG1-001,test\nLUNG1-009,test\n")
    archive = zip_of(folder, tmp_path / "NSCLC-Test.zip", top="NSCLC-Test")
    with open(archive, "rb") as fh:
        assert client.post(ADD, {"challenge": str(challenge.id), "file": fh}).status_code == 302
    job = ImportJob.objects.get(challenge=challenge)
    import_jobs.run(str(job.id), worker="test-worker")
    job.refresh_from_db()
    assert job.state == ImportJob.FAILED
    assert job.error == "manifest row 3: no DICOM files with PatientID LUNG1-009"
    page = client.get(f"/admin/evaluation/importjob/{job.id}/change/").content.decode()
    assert "manifest row 3: no DICOM files with PatientID LUNG1-009" in page
    assert not Task.objects.filter(challenge=challenge).exists()
