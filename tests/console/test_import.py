"""Importing a task through the console: a real MSD archive uploaded to the console's form, a
real Celery worker process running the importer of ``import_msd_task``, the job's page following
its progress through the JSON endpoint the page polls; a new ground-truth version uploaded the
same way re-queues the phase's submissions.

Marked ``stack``: runs on the embedded default and again on PostgreSQL + Redis.
"""

import tarfile
from pathlib import Path

import numpy as np
import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.test import Client

from challenges.models import Challenge, Task
from core.storage import private_storage
from evaluation.models import Evaluation, ImportJob, State
from evaluation.services.demo_data import write_nifti
from tests import factories
from tests.conftest import wait_for
from tests.evaluation.helpers import cube_predictions_zip, submit_file

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

ADD = "/admin/evaluation/importjob/add/"


def tar_of(folder: Path, path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        archive.add(folder, arcname=folder.name)
    return path


def upload(client: Client, challenge: Challenge, archive: Path, **fields) -> ImportJob:
    with open(archive, "rb") as fh:
        response = client.post(ADD, {"challenge": str(challenge.id), "file": fh, **fields})
    assert response.status_code == 302, response.content.decode()[-3000:]
    job = ImportJob.objects.get(file_name=archive.name, challenge=challenge)
    assert response["Location"] == f"/admin/evaluation/importjob/{job.id}/change/"
    return job


def finished(client: Client, job: ImportJob) -> dict:
    """What the job's page polls (static/console.js), until the job has ended."""
    body = client.get(f"/admin/evaluation/importjob/{job.id}/progress/").json()
    return body if body["finished"] else None


def test_a_task_and_a_new_ground_truth_are_imported_through_the_console(celery_worker,
                                                                         tmp_path):
    challenge = Challenge.objects.create(slug="console-import", title="Console import")
    organizer = factories.user("importer")
    organizer.is_staff = True
    organizer.save()
    challenge.organizers.add(organizer)
    client = Client()
    client.force_login(organizer)

    form = client.get(f"{ADD}?challenge={challenge.id}")
    assert form.status_code == 200
    assert form.context["adminform"].form.initial["challenge"] == str(challenge.id)
    folder = factories.write_cube_task(tmp_path / "v1")
    job = upload(client, challenge, tar_of(folder, tmp_path / "Task09_Cubes.tar.gz"),
                 note="first release")
    page = client.get(f"/admin/evaluation/importjob/{job.id}/change/").content.decode()
    if "data-progress-url" in page:  # the worker may already have finished
        assert f'data-progress-url="/admin/evaluation/importjob/{job.id}/progress/"' in page
        assert "console.js" in page and "<script>" not in page

    body = wait_for(lambda: finished(client, job), timeout=120, what="the import")
    assert body["state"] == ImportJob.SUCCEEDED, body
    assert any("checked case cube_001" in line for line in body["progress"])
    job.refresh_from_db()
    task = Task.objects.get(challenge=challenge, key="Task09_Cubes")
    assert (job.task, job.phase) == (task, task.phases.get())
    assert job.ground_truth.version == 1 and job.ground_truth.note == "first release"
    assert job.phase.active_ground_truth == job.ground_truth
    assert "created" in job.summary and not job.file
    assert not private_storage().listdir(f"imports/{job.id}")[1]  # the archive is removed
    page = client.get(f"/admin/evaluation/importjob/{job.id}/change/").content.decode()
    assert "Task09_Cubes" in page and "data-progress-url" not in page
    assert LogEntry.objects.get(object_id=str(job.id), action_flag=ADDITION
                                ).get_change_message().startswith("Queued the import of")

    participant = factories.participant(job.phase, "solver")
    submission = submit_file(job.phase, participant, cube_predictions_zip(tmp_path))
    wait_for(lambda: submission.evaluations.filter(state=State.SUCCEEDED).exists(),
             timeout=120, what="the first scoring")

    # New labels for one case, uploaded and activated: the submission is scored again.
    ref, _, spacing = factories.cube_labels()
    changed = ref.copy()
    changed[changed == 2] = 0
    write_nifti(folder / "labelsTs" / "cube_001.nii.gz", changed.astype(np.uint8), spacing)
    update = upload(client, challenge, tar_of(folder, tmp_path / "Task09_Cubes-v2.tar.gz"),
                    note="cube_001 relabelled", activate="on")
    body = wait_for(lambda: finished(client, update), timeout=120, what="the re-import")
    assert body["state"] == ImportJob.SUCCEEDED, body
    update.refresh_from_db()
    assert update.task == task and update.ground_truth.version == 2
    assert update.requeued == 1
    page = client.get(f"/admin/evaluation/importjob/{update.id}/change/").content.decode()
    assert "1 evaluations queued against v2" in page
    listed = f"/admin/evaluation/evaluation/?ground_truth__id__exact={update.ground_truth_id}"
    assert listed in page
    assert client.get(listed).context["cl"].result_count == 1
    rescored = wait_for(lambda: Evaluation.objects.filter(
        submission=submission, ground_truth=update.ground_truth, state=State.SUCCEEDED).first(),
        timeout=120, what="the re-scoring")
    assert rescored.case_results.get(case="cube_001", label=2).values["dice"] == 0.0

    # A broken archive fails with the importer's message.
    broken = tmp_path / "broken"
    (broken / "labelsTs").mkdir(parents=True)
    (broken / "notes.txt").write_text("no task here")
    failed = upload(client, challenge, tar_of(broken, tmp_path / "broken.tar.gz"))
    body = wait_for(lambda: finished(client, failed), timeout=120, what="the failed import")
    failed.refresh_from_db()
    assert body["state"] == ImportJob.FAILED
    assert "no dataset.json inside" in failed.error and str(tmp_path) not in failed.error


def test_another_challenges_organizer_neither_sees_nor_imports_into_it(tmp_path):
    mine = Challenge.objects.create(slug="mine", title="Mine")
    theirs = Challenge.objects.create(slug="theirs", title="Theirs")
    organizer = factories.user("only-mine")
    organizer.is_staff = True
    organizer.save()
    mine.organizers.add(organizer)
    job = ImportJob.objects.create(challenge=theirs, file_name="x.tar")
    client = Client()
    client.force_login(organizer)
    assert client.get(f"/admin/evaluation/importjob/{job.id}/change/").status_code == 404
    assert client.get(f"/admin/evaluation/importjob/{job.id}/progress/").status_code == 404
    archive = tar_of(factories.write_cube_task(tmp_path), tmp_path / "t.tar.gz")
    with open(archive, "rb") as fh:
        refused = client.post(ADD, {"challenge": str(theirs.id), "file": fh})
    assert refused.status_code == 200 and "challenge" in refused.context["adminform"].form.errors
    assert ImportJob.objects.count() == 1
    assert [str(c.pk) for c in refused.context["adminform"].form.fields[
        "challenge"].queryset] == [str(mine.pk)]
