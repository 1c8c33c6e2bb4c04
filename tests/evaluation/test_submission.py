"""Accepting submissions: each bad upload gets its own message; limits hold under concurrency."""

import threading
import zipfile
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from challenges.models import Participation
from core.errors import InvalidInput, Refused
from evaluation.models import Evaluation, State, Submission
from evaluation.states import transition
from tests import factories

from .helpers import cube_phase, cube_predictions_zip, prediction_zip, submit_file

pytestmark = pytest.mark.django_db


def refusal(phase, user, path) -> str:
    with pytest.raises(InvalidInput) as caught:
        submit_file(phase, user, path)
    assert not Submission.objects.exists()
    return str(caught.value)


def test_accepted_upload_is_stored_and_queued(phase, user, tmp_path,
                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        submission = submit_file(phase, user, cube_predictions_zip(tmp_path), "my U-Net")
    assert len(callbacks) == 1  # enqueued on commit
    evaluation = submission.evaluations.get()
    assert evaluation.state == State.QUEUED
    assert evaluation.ground_truth == phase.active_ground_truth
    assert evaluation.metric_config["labels"] == [1, 2]
    assert submission.file_name == "preds.zip" and submission.description == "my U-Net"
    assert submission.file.name.endswith(f"{submission.id}/upload")
    assert submission.file_size == (tmp_path / "preds.zip").stat().st_size


def test_missing_cases_are_listed(phase, user, tmp_path):
    message = refusal(phase, user, cube_predictions_zip(tmp_path, cases=["cube_000"]))
    assert message.startswith("1 test case has no prediction: cube_001")


def test_extra_files_are_listed(phase, user, tmp_path):
    _, pred, _ = factories.cube_labels()
    archive = prediction_zip(tmp_path / "p.zip", {"cube_000": pred, "cube_001": pred,
                                                  "cube_999": pred})
    message = refusal(phase, user, archive)
    assert "not a test case: cube_999.nii.gz" in message and "cube_000.nii.gz" in message


def test_non_nifti_files_are_extra(phase, user, tmp_path):
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "readme.txt" in refusal(phase, user, path)


def test_wrong_shape_is_named(phase, user, tmp_path):
    _, pred, _ = factories.cube_labels()
    archive = prediction_zip(tmp_path / "p.zip", {"cube_000": pred, "cube_001": pred[:, :, :9]})
    message = refusal(phase, user, archive)
    assert "cube_001" in message and "(20, 20, 9)" in message and "(20, 20, 10)" in message


def test_wrong_spacing_is_named(phase, user, tmp_path):
    _, pred, _ = factories.cube_labels()
    archive = prediction_zip(tmp_path / "p.zip", {"cube_000": pred, "cube_001": pred},
                             spacing=(1.0, 1.0, 3.0))
    message = refusal(phase, user, archive)
    assert "cube_000" in message and "spacing" in message.lower()


def test_corrupt_nifti_is_named(phase, user, tmp_path):
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cube_000.nii.gz", b"\x1f\x8b\x08 not really gzip")
        archive.writestr("cube_001.nii.gz", b"plain garbage")
    message = refusal(phase, user, path)
    assert "cube_00" in message
    assert str(tmp_path) not in message and "/work" not in message


def test_empty_and_non_archive_uploads(phase, user, tmp_path):
    empty = tmp_path / "empty.zip"
    empty.write_bytes(b"")
    assert refusal(phase, user, empty) == "the upload is empty"
    text = tmp_path / "notes.zip"
    text.write_text("not an archive" * 50)
    assert "not a zip or tar" in refusal(phase, user, text)


def test_a_file_larger_than_any_label_map_of_its_case_is_refused_before_it_is_read(
        phase, user, tmp_path):
    # cube cases are 20×20×10: even as 8-byte values with a large header, far below 1.2 MB.
    path = tmp_path / "p.zip"
    _, pred, _ = factories.cube_labels()
    prediction_zip(tmp_path / "ok.zip", {"cube_000": pred})
    with zipfile.ZipFile(tmp_path / "ok.zip") as ok, zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cube_000.nii.gz", ok.read("cube_000.nii.gz"))
        archive.writestr("cube_001.nii.gz", np.random.default_rng(0).bytes(1_200_000))
    message = refusal(phase, user, path)
    assert message.startswith("case cube_001: 'cube_001.nii.gz' is 1.1 MiB, more than a label "
                              "map of this case's size can be (1.0 MiB)")


def test_upload_size_cap(phase, user, tmp_path, settings):
    settings.PODIUM_UPLOAD_MAX_BYTES = 100
    assert "larger than 100 bytes" in refusal(phase, user, cube_predictions_zip(tmp_path))


def test_pending_and_absent_participants_are_refused(phase, tmp_path):
    pending = factories.participant(phase, status=Participation.PENDING)
    with pytest.raises(Refused, match="waiting for an organizer's approval"):
        submit_file(phase, pending, cube_predictions_zip(tmp_path))
    stranger = factories.user()
    with pytest.raises(Refused, match="join the challenge"):
        submit_file(phase, stranger, cube_predictions_zip(tmp_path))


def test_closed_phase_is_refused(phase, user, tmp_path):
    phase.closes_at = timezone.now() - timedelta(minutes=1)
    phase.save()
    with pytest.raises(Refused, match="not open") as caught:
        submit_file(phase, user, cube_predictions_zip(tmp_path))
    assert caught.value.http_status == 409


def test_limit_counts_failed_and_cancelled_only_when_configured(phase, user, tmp_path):
    phase.submission_limit = 2
    phase.save()
    first = submit_file(phase, user, cube_predictions_zip(tmp_path))
    transition(first.evaluations.get().id, State.CANCELLED)
    submit_file(phase, user, cube_predictions_zip(tmp_path))
    submit_file(phase, user, cube_predictions_zip(tmp_path))  # the cancelled one is not counted
    with pytest.raises(Refused, match="limit reached: 2 of 2 in the last 24 hours") as caught:
        submit_file(phase, user, cube_predictions_zip(tmp_path))
    assert caught.value.http_status == 429
    phase.count_failed = True
    phase.limit_period = "phase"
    phase.save()
    with pytest.raises(Refused, match="3 of 2 in this phase"):
        submit_file(phase, user, cube_predictions_zip(tmp_path))


def test_limit_window_moves(phase, user, tmp_path):
    phase.submission_limit = 1
    phase.save()
    old = submit_file(phase, user, cube_predictions_zip(tmp_path))
    Submission.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=2))
    submit_file(phase, user, cube_predictions_zip(tmp_path))
    assert Submission.objects.count() == 2


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submissions_at_the_limit_accept_exactly_one(tmp_path):
    phase = cube_phase(tmp_path, submission_limit=1)
    user = factories.participant(phase)
    archive = cube_predictions_zip(tmp_path)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt():
        try:
            barrier.wait()
            submit_file(phase, user, archive)
            outcomes.append("accepted")
        except Refused as exc:
            outcomes.append(f"refused:{exc.http_status}")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted", "refused:429"]
    assert Submission.objects.count() == 1
    assert Evaluation.objects.count() == 1


def test_the_phase_is_read_again_under_lock(phase, user, tmp_path):
    """A ground-truth version activated while an upload is being checked is the one used."""
    from challenges.models import GroundTruth

    stale = type(phase).objects.get(pk=phase.pk)  # what the request loaded at its start
    newer = GroundTruth.objects.create(task=phase.task, version=2, content_sha256="1" * 64,
                                       files=phase.active_ground_truth.files)
    type(phase).objects.filter(pk=phase.pk).update(active_ground_truth=newer)
    submission = submit_file(stale, user, cube_predictions_zip(tmp_path))
    assert submission.evaluations.get().ground_truth == newer


def test_superseded_submissions_still_count_against_the_limit(phase, user, tmp_path):
    from evaluation.services.reevaluation import reevaluate

    phase.submission_limit = 1
    phase.save()
    first = submit_file(phase, user, cube_predictions_zip(tmp_path))
    reevaluate([first])  # cancels the queued evaluation ("superseded") and queues a new one
    assert first.evaluations.order_by("created").first().state == State.CANCELLED
    with pytest.raises(Refused, match="limit reached"):
        submit_file(phase, user, cube_predictions_zip(tmp_path))


def test_an_algorithm_image_is_refused_twice_from_one_participant_only(tmp_path):
    from challenges.models import Phase
    from evaluation.runners.image_archive import ImageSpec, LayerFile, write_image_archive
    from evaluation.services.validation import validate

    phase = cube_phase(tmp_path, submission_kind=Phase.ALGORITHM)
    spec = ImageSpec(files={"/algo/run.sh": LayerFile(b"exit 0\n", 0o755)}, user="1000",
                     cmd=("/algo/run.sh",))
    archive = tmp_path / "algo.tar"
    image_id = write_image_archive(spec, archive, tag="someone/else:latest")
    alice, bob = factories.participant(phase, "alice"), factories.participant(phase, "bob")
    first = submit_file(phase, alice, archive, run_checks=False)
    assert first.evaluations.get().state == State.VALIDATING and first.image_id == ""
    validate(first.evaluations.get().id, worker="test")
    first.refresh_from_db()
    assert first.image_id == image_id and first.is_valid
    assert first.file.name == f"algorithms/sha256-{first.file_sha256}.tar"
    with pytest.raises(Refused, match="you already submitted this image") as caught:
        submit_file(phase, alice, archive)
    assert caught.value.http_status == 409 and "bob" not in str(caught.value)
    second = submit_file(phase, bob, archive)  # another participant may use the same image
    assert second.file.name == first.file.name  # stored once, by the whole upload's content


def test_a_different_upload_is_never_pointed_at_another_participants_stored_image(tmp_path):
    """Images were once stored under their config's hash: a different tar with the same
    config was accepted and pointed at the other team's file."""
    from challenges.models import Phase
    from evaluation.runners.image_archive import ImageSpec, LayerFile, write_image_archive

    phase = cube_phase(tmp_path, submission_kind=Phase.ALGORITHM)
    spec = ImageSpec(files={"/algo/run.sh": LayerFile(b"exit 0\n", 0o755)}, user="1000",
                     cmd=("/algo/run.sh",))
    archive = tmp_path / "algo.tar"
    write_image_archive(spec, archive, tag="alice/algo:1")
    other = tmp_path / "other.tar"
    write_image_archive(spec, other, tag="bob/algo:1")  # same config, other bytes (tag)
    alice, bob = factories.participant(phase, "alice"), factories.participant(phase, "bob")
    first = submit_file(phase, alice, archive)
    second = submit_file(phase, bob, other)
    assert first.file_sha256 != second.file_sha256
    assert first.file.name != second.file.name
    with first.file.open("rb") as a, second.file.open("rb") as b:
        assert a.read() == archive.read_bytes() and b.read() == other.read_bytes()
