"""The de-identification gate (challenges/deid_gate.py): a task imported with identifying text
in its test images is held back from participants and containers until an organizer accepts
the findings in the console or the organizer API (both audited); clean imports are not held."""

import gzip
import io
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import schemathesis
from django.contrib.admin.models import LogEntry
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client

from challenges import deid_gate
from challenges.models import DeidReview, Participation, Phase, Task
from core.errors import Refused
from core.storage import private_storage
from evaluation.models import State
from evaluation.services import algorithm
from evaluation.services.importing import import_task
from evaluation.services.submission import check_may_submit
from imaging.deid import deidentify_dicom
from tests import factories
from tests.api.test_schemathesis import EXCLUDED, _one_connection, served  # noqa: F401
from tests.imaging.test_deid import clean_ct, identified_ct, saved

pytestmark = pytest.mark.django_db

HELD = "are held back while the organizers review them for patient information"


def write_image(path: Path, *, descrip: bytes = b"", value: float = 1.0) -> None:
    ref, _, spacing = factories.cube_labels()
    image = nib.Nifti1Image(ref.astype(np.float32) * value, np.diag([*spacing, 1.0]))
    image.header.set_zooms(spacing)
    image.header["descrip"] = descrip
    nib.save(image, str(path))


def imported(tmp_path: Path, *, descrip: bytes = b"", slug: str = "deid"):
    """The cube task imported, its second test image's descrip set to ``descrip``."""
    folder = factories.write_cube_task(tmp_path / slug)
    write_image(folder / "imagesTs" / "cube_001.nii.gz", descrip=descrip, value=7.0)
    return import_task(folder, challenge_slug=slug)


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def organizer_of(task: Task, username: str = "olga"):
    user = factories.user(username)
    user.is_staff = True
    user.save()
    task.challenge.organizers.add(user)
    return user


def participant_of(task: Task, username: str = "pia"):
    return factories.participant(task.phases.get(), username)


def test_a_name_in_descrip_holds_the_downloads_until_accepted(tmp_path):
    result = imported(tmp_path, descrip=b"Doe^Jane 1961")
    task = result.task
    review = task.deid_review
    assert review.status == DeidReview.FINDINGS and review.finding_count == 1
    assert review.findings == [{"file": "imagesTs/cube_001.nii.gz",
                                "attribute": "descrip (header field)",
                                "rule": "NIfTI text field", "value_preview": "Doe^Jane 1961",
                                "severity": "medium"}]
    assert any("de-identification check: 1 finding(s)" in note for note in result.notes)

    pia = client_of(participant_of(task))
    not_open = "not yet open"
    phase = task.phases.get()
    assert not_open in pia.get(f"/challenges/{task.challenge.slug}/").content.decode()
    assert not_open in pia.get(f"/phases/{phase.id}/submit/").content.decode()
    for url in (f"/tasks/{task.id}/images.zip", f"/tasks/{task.id}/images/cube_000.nii.gz",
                f"/tasks/{task.id}/data/"):
        response = pia.get(url)
        assert response.status_code == 403 and HELD in response.content.decode()
        assert "Doe" not in response.content.decode()  # the finding itself is not told
    listing = pia.get(f"/tasks/{task.id}/data/", HTTP_ACCEPT="application/json")
    assert listing.status_code == 403 and HELD in listing.json()["detail"]
    api = factories.api_client(factories.participant(task.phases.get(), "ines"))
    assert api.get(f"/api/v1/phases/{task.phases.get().id}/test-data/").status_code == 403

    olga = organizer_of(task)
    organizer = client_of(olga)
    assert organizer.get(f"/tasks/{task.id}/images.zip").status_code == 200  # may look at them
    page = organizer.get(f"/admin/challenges/deidreview/{review.pk}/change/").content.decode()
    for shown in ("imagesTs/cube_001.nii.gz", "descrip (header field)", "Doe^Jane 1961",
                  "Accept these findings", "Re-check"):
        assert shown in page

    accept = f"/admin/challenges/deidreview/{review.pk}/accept/"
    assert organizer.get(accept).status_code == 405  # POST only
    organizer.post(accept, {"reason": "  "})
    review.refresh_from_db()
    assert review.status == DeidReview.FINDINGS  # a reason is required
    assert pia.get(f"/tasks/{task.id}/images.zip").status_code == 403

    organizer.post(accept, {"reason": "the descrip holds the phantom's label, not a patient"})
    review.refresh_from_db()
    assert (review.status, review.accepted_by) == (DeidReview.ACCEPTED, olga)
    assert pia.get(f"/tasks/{task.id}/images.zip").status_code == 200
    assert not_open not in pia.get(f"/phases/{phase.id}/submit/").content.decode()
    entry = LogEntry.objects.get(object_id=str(review.pk))
    assert entry.user == olga and entry.get_change_message() == (
        "Accepted 1 de-identification finding(s) of Task09_Cubes: the descrip holds the "
        "phantom's label, not a patient")
    audit_page = organizer.get("/admin/admin/logentry/").content.decode()
    assert "Accepted 1 de-identification finding(s)" in audit_page


def test_a_deidentifying_import_empties_the_nifti_text_fields(tmp_path):
    folder = factories.write_cube_task(tmp_path / "clean")
    write_image(folder / "imagesTs" / "cube_001.nii.gz", descrip=b"Doe^Jane 1961", value=7.0)
    out = io.StringIO()
    call_command("import_msd_task", str(folder), "--challenge", "clean", "--deidentify",
                 stdout=out)
    task = Task.objects.get(challenge__slug="clean")
    review = deid_gate.current_review(task)
    assert review.status == DeidReview.CLEAN and review.findings == []
    with private_storage().open(task.images["cube_001"]) as fh:
        stored = nib.Nifti1Image.from_bytes(gzip.decompress(fh.read()))
    original = nib.load(folder / "imagesTs" / "cube_001.nii.gz")
    assert stored.header["descrip"].tobytes().strip(b"\x00") == b""
    assert (stored.get_fdata() == original.get_fdata()).all()
    assert (stored.affine == original.affine).all()


def test_the_console_import_can_deidentify(tmp_path, settings):
    import tarfile

    from evaluation.models import ImportJob
    from evaluation.services import import_jobs

    settings.PODIUM_HEARTBEAT_TIMEOUT_S = 3600
    challenge = factories.phase(slug="console-deid").task.challenge
    olga = factories.user("olga-console", staff=True)
    folder = factories.write_cube_task(tmp_path / "upload")
    write_image(folder / "imagesTs" / "cube_001.nii.gz", descrip=b"Doe^Jane 1961", value=7.0)
    archive = tmp_path / "Task09_Cubes.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="Task09_Cubes")
    with open(archive, "rb") as fh:
        response = client_of(olga).post("/admin/evaluation/importjob/add/", {
            "challenge": str(challenge.id), "file": fh, "deidentify": "on"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    job = ImportJob.objects.get(challenge=challenge)
    assert job.deidentify
    import_jobs.run(str(job.id), worker="test-worker")
    job.refresh_from_db()
    assert job.state == ImportJob.SUCCEEDED, job.error
    assert "de-identifying 2 test images" in job.progress
    review = deid_gate.current_review(Task.objects.get(challenge=challenge, key="Task09_Cubes"))
    assert review.status == DeidReview.CLEAN


def test_a_clean_import_is_not_held(tmp_path):
    result = imported(tmp_path)
    assert result.task.deid_review.status == DeidReview.CLEAN
    assert not any("de-identification" in note for note in result.notes)
    pia = client_of(participant_of(result.task))
    assert pia.get(f"/tasks/{result.task.id}/images.zip").status_code == 200
    assert deid_gate.refusal(result.task) is None


def test_submissions_and_algorithm_runs_wait_for_the_review(tmp_path):
    task = imported(tmp_path, descrip=b"MRN 0042").task
    phase = task.phases.get()
    phase.submission_kind = Phase.ALGORITHM
    phase.save()
    pia = participant_of(task)
    with pytest.raises(Refused, match="await the organizers' de-identification review"):
        check_may_submit(phase, pia)
    _, evaluation = factories.submission(phase, pia)
    algorithm.run(evaluation.id, worker="gpu-test")  # refused before any engine is asked
    evaluation.refresh_from_db()
    assert evaluation.state == State.FAILED
    assert HELD in evaluation.participant_message
    assert "The algorithm was not run" in evaluation.participant_message
    deid_gate.accept(task.deid_review, organizer_of(task), "reviewed: a test phantom")
    assert check_may_submit(phase, pia)


def test_a_task_from_before_the_gate_is_checked_on_first_access(tmp_path):
    """The migration leaves every existing task a pending review; the first download checks."""
    task = imported(tmp_path).task
    DeidReview.objects.filter(task=task).update(status=DeidReview.PENDING, images_sha256="")
    pia = client_of(participant_of(task))
    assert pia.get(f"/tasks/{task.id}/images.zip").status_code == 200
    assert DeidReview.objects.get(task=task).status == DeidReview.CLEAN

    held = imported(tmp_path, descrip=b"Jane", slug="older").task
    DeidReview.objects.filter(task=held).update(status=DeidReview.PENDING, findings=[])
    bob = client_of(participant_of(held, "bob"))
    assert bob.get(f"/tasks/{held.id}/images.zip").status_code == 403
    assert DeidReview.objects.get(task=held).status == DeidReview.FINDINGS


def test_changed_images_are_checked_again_and_acceptance_covers_only_what_was_seen(tmp_path):
    task = imported(tmp_path, descrip=b"Jane").task
    deid_gate.accept(task.deid_review, organizer_of(task), "phantom")
    assert deid_gate.check_task(task).status == DeidReview.ACCEPTED  # same findings: stands
    write_image(tmp_path / "new.nii.gz", descrip=b"Jane and John")
    task.images["cube_000"] = private_storage().save(
        f"images/{task.id}/other.nii.gz", ContentFile((tmp_path / "new.nii.gz").read_bytes()))
    task.save()
    assert HELD in deid_gate.refusal(task)  # new images: a new check, new findings
    review = DeidReview.objects.get(task=task)
    assert (review.status, review.finding_count, review.accepted_by) == (
        DeidReview.FINDINGS, 2, None)


def test_unreadable_and_unchecked_files_are_findings():
    phase = factories.phase(cases=("a", "b"))
    task, storage = phase.task, private_storage()
    task.images = {"a": storage.save(f"images/{task.id}/a.nii.gz", ContentFile(b"junk")),
                   "b": storage.save(f"images/{task.id}/b.png", ContentFile(b"\x89PNG"))}
    task.cases[1]["image"] = "imagesTs/b.png"
    task.save()
    rows = {f["file"]: f for f in deid_gate.check_task(task).findings}
    assert rows["imagesTs/a.nii.gz"]["rule"] == "unreadable, so not checked"
    assert rows["imagesTs/b.png"]["rule"] == "format not checked (look at it yourself)"


def test_a_task_no_import_made_is_not_gated():
    task = factories.phase().task
    assert deid_gate.current_review(task) is None and deid_gate.refusal(task) is None


def test_the_console_rechecks_and_audits(tmp_path):
    task = imported(tmp_path, descrip=b"Jane").task
    olga = organizer_of(task)
    review = task.deid_review
    page = client_of(olga).get(f"/admin/challenges/deidreview/{review.pk}/change/")
    html = page.content.decode()
    # no submit row ("Close") between the fields and the findings; file names as they are
    assert 'class="closelink"' not in html and 'class="submit-row"' not in html
    assert '<caption>imagesTs/' in html and 'id="deid-findings"' in html
    response = client_of(olga).post(f"/admin/challenges/deidreview/{review.pk}/recheck/")
    assert response.status_code == 302
    assert LogEntry.objects.get(object_id=str(review.pk)).get_change_message() == (
        "Re-checked the test images of Task09_Cubes: findings to fix or accept, 1 finding(s).")
    stranger = factories.user("stranger")
    stranger.is_staff = True
    stranger.save()
    assert client_of(stranger).post(
        f"/admin/challenges/deidreview/{review.pk}/accept/", {"reason": "x"}).status_code == 404
    review.refresh_from_db()
    assert review.status == DeidReview.FINDINGS


def test_the_organizer_api_reads_and_accepts_the_review(tmp_path):
    task = imported(tmp_path, descrip=b"Jane").task
    phase = task.phases.get()
    olga = organizer_of(task)
    api = factories.api_client(olga)
    url = f"/api/v1/organizer/phases/{phase.id}/deid-review/"
    body = api.get(url).json()
    assert (body["status"], body["finding_count"], body["findings"][0]["value_preview"]) == (
        "findings", 1, "Jane")
    participant = factories.api_client(participant_of(task))
    assert participant.get(url).status_code == 403
    assert participant.post(f"{url}accept/", {"reason": "x"}, format="json").status_code == 403
    missing = api.post(f"{url}accept/", {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["detail"]
    accepted = api.post(f"{url}accept/", {"reason": "synthetic data"}, format="json")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert accepted.json()["accepted_by"] == "olga"
    again = api.post(f"{url}accept/", {"reason": "again"}, format="json")
    assert again.status_code == 400 and "no findings to accept" in again.json()["detail"]
    assert LogEntry.objects.filter(object_id=str(task.deid_review.pk),
                                   change_message__contains="synthetic data").exists()
    rechecked = api.post(f"{url}recheck/", format="json")
    assert rechecked.status_code == 200 and rechecked.json()["status"] == "accepted"


def test_a_pending_participant_is_told_to_wait_for_approval_first(tmp_path):
    task = imported(tmp_path, descrip=b"Jane").task
    waiting = factories.participant(task.phases.get(), "wanda", status=Participation.PENDING)
    response = client_of(waiting).get(f"/tasks/{task.id}/images.zip")
    assert response.status_code == 403 and "waiting for an organizer" in \
        response.content.decode()


@pytest.mark.usefixtures("_one_connection")
def test_the_organizer_api_answers_conform_to_the_schema(tmp_path):
    task = imported(tmp_path, descrip=b"Jane").task
    olga = organizer_of(task)
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", served)
    checked = []
    for result in schema.get_all_operations():  # accept before recheck: the paths' order
        operation = result.ok()
        if "/deid-review/" not in operation.label:
            continue
        body = {"reason": "synthetic"} if operation.label.endswith("accept/") else None
        case = operation.Case(
            path_parameters={"phase_id": str(task.phases.get().id)},
            headers={"Authorization": f"Token {factories.token(olga)}",
                     "Accept-Encoding": "identity"},
            **({"body": body, "media_type": "application/json"} if body else {}))
        response = case.call_and_validate(excluded_checks=EXCLUDED)
        assert response.status_code == 200, (operation.label, response.text)
        checked.append(operation.label)
    assert len(checked) == 3


def test_stored_dicom_images_are_checked_and_their_own_record_shown(tmp_path):
    """A task that stores DICOM test images (a detection task's ``.dcm``, or a later import)."""
    phase = factories.phase(cases=("named", "cleaned", "cut"))
    task, storage = phase.task, private_storage()
    files = {"named": saved(identified_ct(), tmp_path / "named.dcm"),
             "cleaned": saved(deidentify_dicom(clean_ct()), tmp_path / "cleaned.dcm")}
    files["cut"] = tmp_path / "cut.dcm"
    files["cut"].write_bytes(files["named"].read_bytes()[:400])
    for entry in task.cases:
        entry["image"] = f"imagesTs/{entry['name']}.dcm"
        task.images[entry["name"]] = storage.save(
            f"images/{task.id}/{entry['name']}.dcm",
            ContentFile(files[entry["name"]].read_bytes()))
    task.save()
    review = deid_gate.check_task(task)
    by_file = dict(deid_gate.findings_by_file(review))
    assert set(by_file) == {"imagesTs/named.dcm", "imagesTs/cut.dcm"}
    assert len(by_file["imagesTs/named.dcm"]) == 15
    assert by_file["imagesTs/cut.dcm"][0]["rule"] == "unreadable, so not checked"
    assert review.declared == {"imagesTs/cleaned.dcm": (
        "PatientIdentityRemoved=YES; method: PS3.15 Basic Application Confidentialit…; "
        "codes: 113100, 113110, 113108")}
    olga = organizer_of(task)
    page = client_of(olga).get(f"/admin/challenges/deidreview/{review.pk}/change/")
    assert "PatientIdentityRemoved=YES" in page.content.decode()
