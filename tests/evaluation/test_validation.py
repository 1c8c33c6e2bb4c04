"""The upload's checks: what a web request runs, and the ``validating`` step in a worker."""

import tarfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from challenges.models import Phase
from evaluation.models import Evaluation, State, Submission
from evaluation.services import reaper
from evaluation.services.submission import cancel
from evaluation.services.validation import CHECKING_MESSAGE, neutral_message, validate
from tests import factories

from .helpers import cube_phase, cube_predictions_zip, submit_file

pytestmark = pytest.mark.django_db


def as_tar(zip_path: Path, tmp_path: Path, *, drop: tuple[str, ...] = ()) -> Path:
    """The members of a prediction zip, re-packed as a tar.gz (minus ``drop``)."""
    import zipfile

    target = tmp_path / "preds.tar.gz"
    with zipfile.ZipFile(zip_path) as source, tarfile.open(target, "w:gz") as archive:
        for name in source.namelist():
            if name in drop:
                continue
            member = tmp_path / name
            member.write_bytes(source.read(name))
            archive.add(member, arcname=f"preds/{name}")
            member.unlink()
    return target


def submit_tar(phase, user, tmp_path: Path) -> Submission:
    """A valid tar.gz of predictions, submitted and left waiting for its checks."""
    return submit_file(phase, user, as_tar(cube_predictions_zip(tmp_path), tmp_path),
                       run_checks=False)


def evaluation_of(submission: Submission) -> Evaluation:
    return submission.evaluations.get()


def test_a_zip_is_checked_in_the_request_and_queued_at_once(phase, user, tmp_path):
    submission = submit_file(phase, user, cube_predictions_zip(tmp_path))
    assert evaluation_of(submission).state == State.QUEUED and submission.is_valid


def test_a_tar_is_stored_and_checked_by_a_worker(phase, user, tmp_path,
                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        submission = submit_tar(phase, user, tmp_path)
    evaluation = evaluation_of(submission)
    assert evaluation.state == State.VALIDATING and submission.is_valid is None
    assert evaluation.participant_message == CHECKING_MESSAGE
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        validate(evaluation.id, worker="w1")
    evaluation.refresh_from_db()
    submission.refresh_from_db()
    assert evaluation.state == State.QUEUED and submission.is_valid
    assert evaluation.participant_message == ""
    assert evaluation.attempts == 1 and evaluation.worker == "w1"
    assert len(callbacks) == 1  # the scoring step is sent after commit


def test_a_refused_tar_fails_with_the_checks_message_and_does_not_count(
        phase, user, tmp_path, django_capture_on_commit_callbacks):
    phase.submission_limit = 1
    phase.count_failed = True
    phase.save()
    bad = as_tar(cube_predictions_zip(tmp_path), tmp_path, drop=("cube_001.nii.gz",))
    submission = submit_file(phase, user, bad, run_checks=False)
    with django_capture_on_commit_callbacks(execute=True):
        validate(evaluation_of(submission).id, worker="w1")
    evaluation = evaluation_of(submission)
    assert evaluation.state == State.FAILED
    assert evaluation.participant_message.startswith("1 test case has no prediction: cube_001")
    submission.refresh_from_db()
    assert submission.is_valid is False
    assert not Path(submission.file.path).exists()  # refusals are not kept
    # A refused upload never counts, even where failed submissions do.
    submit_file(phase, user, cube_predictions_zip(tmp_path))


def test_an_upload_being_checked_counts_against_the_limit(phase, user, tmp_path):
    from core.errors import Refused

    phase.submission_limit = 1
    phase.save()
    submit_tar(phase, user, tmp_path)
    with pytest.raises(Refused, match="limit reached"):
        submit_file(phase, user, cube_predictions_zip(tmp_path))


def test_detection_box_files_are_checked_by_a_worker(tmp_path):
    from evaluation.services.demo_data import write_detection_task
    from evaluation.services.importing import import_task

    folder, _ = write_detection_task(tmp_path / "tasks", key="Task10_Dx", n_images=3, seed=4)
    phase = import_task(folder, challenge_slug="dx").phase
    user = factories.participant(phase)
    csv = tmp_path / "boxes.csv"
    csv.write_text("image_id,label,score,xmin,ymin,xmax,ymax\nnot-an-image,A,0.5,1,1,5,5\n")
    submission = submit_file(phase, user, csv, run_checks=False)
    assert evaluation_of(submission).state == State.VALIDATING
    validate(evaluation_of(submission).id, worker="w1")
    evaluation = evaluation_of(submission)
    assert evaluation.state == State.FAILED
    assert "row 2: unknown image 'not-an-image'" in evaluation.participant_message


def test_a_second_delivery_and_a_cancelled_upload_do_nothing(phase, user, tmp_path):
    submission = submit_tar(phase, user, tmp_path)
    cancel(submission, user)
    validate(evaluation_of(submission).id, worker="w1")
    evaluation = evaluation_of(submission)
    assert evaluation.state == State.CANCELLED and evaluation.attempts == 0


def test_an_upload_whose_checks_keep_killing_workers_is_given_up(phase, user, tmp_path, settings):
    settings.PODIUM_MAX_ATTEMPTS = 2
    submission = submit_tar(phase, user, tmp_path)
    Evaluation.objects.filter(submission=submission).update(attempts=2)
    validate(evaluation_of(submission).id, worker="w1")
    evaluation = evaluation_of(submission)
    assert evaluation.state == State.FAILED and "stopped its worker 2 times" in (
        evaluation.participant_message)


def test_the_reaper_sends_a_silent_check_again(phase, user, tmp_path, settings,
                                               django_capture_on_commit_callbacks):
    settings.PODIUM_REQUEUE_QUEUED_AFTER_S = 60
    submission = submit_tar(phase, user, tmp_path)
    Evaluation.objects.filter(submission=submission).update(
        enqueued_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        counts = reaper.reap()
    assert counts["resent"] == 1 and len(callbacks) == 1


def test_a_stored_image_that_no_longer_matches_its_upload_is_never_used(tmp_path):
    from evaluation.runners.image_archive import ImageSpec, LayerFile, write_image_archive

    phase = cube_phase(tmp_path, submission_kind=Phase.ALGORITHM)
    spec = ImageSpec(files={"/algo/run.sh": LayerFile(b"exit 0\n", 0o755)}, user="1000",
                     cmd=("/algo/run.sh",))
    archive = tmp_path / "algo.tar"
    write_image_archive(spec, archive, tag="a/b:1")
    submission = submit_file(phase, factories.participant(phase), archive, run_checks=False)
    stored = bytearray(archive.read_bytes())
    stored[len(stored) // 2] ^= 0xFF  # e.g. a storage fault
    Path(submission.file.path).write_bytes(bytes(stored))
    validate(evaluation_of(submission).id, worker="w1")
    evaluation = evaluation_of(submission)
    assert evaluation.state == State.FAILED
    assert evaluation.participant_message == neutral_message(evaluation)
    assert "does not match the SHA-256 of what was received" in evaluation.organizer_log
    submission.refresh_from_db()
    assert submission.is_valid is None and submission.image_id == ""


def test_a_stored_upload_damaged_on_the_server_is_not_blamed_on_the_participant(
        phase, user, tmp_path):
    submission = submit_tar(phase, user, tmp_path)
    stored = Path(submission.file.path)
    stored.write_bytes(stored.read_bytes()[:200])  # truncated in storage
    validate(evaluation_of(submission).id, worker="w1")
    evaluation = evaluation_of(submission)
    assert evaluation.state == State.FAILED
    assert evaluation.participant_message == neutral_message(evaluation)
    assert "damaged" not in evaluation.participant_message


def test_an_image_that_is_not_an_archive_is_refused_in_the_request(tmp_path):
    from core.errors import InvalidInput

    phase = cube_phase(tmp_path, submission_kind=Phase.ALGORITHM)
    path = tmp_path / "image.tar"
    path.write_text("FROM python:3.11\n")
    with pytest.raises(InvalidInput, match="docker save"):
        submit_file(phase, factories.participant(phase), path)
    assert not Submission.objects.exists()


def test_re_evaluation_keeps_an_unchecked_upload_waiting_and_skips_a_refused_one(
        phase, user, tmp_path):
    from evaluation.services.reevaluation import reevaluate

    waiting = submit_tar(phase, user, tmp_path)
    refused = submit_file(phase, factories.participant(phase, "bob"),
                          as_tar(cube_predictions_zip(tmp_path), tmp_path,
                                 drop=("cube_000.nii.gz",)))
    assert refused.is_valid is False
    assert reevaluate([waiting, refused]) == 1
    assert waiting.current_evaluation().state == State.VALIDATING
    assert refused.evaluations.count() == 1


def test_a_scored_detection_submission_reports_every_image_done(tmp_path):
    from evaluation.services import scoring
    from evaluation.services.demo_data import write_box_predictions, write_detection_task
    from evaluation.services.importing import import_task

    folder, boxes = write_detection_task(tmp_path / "tasks", key="Task10_Dx", n_images=3, seed=4)
    phase = import_task(folder, challenge_slug="dx").phase
    path = write_box_predictions(boxes, tmp_path / "boxes.csv", quality=0.9, seed=1)
    submission = submit_file(phase, factories.participant(phase), path)
    scoring.score(evaluation_of(submission).id, worker="t")
    evaluation = evaluation_of(submission)
    assert evaluation.state == State.SUCCEEDED
    assert (evaluation.cases_done, evaluation.cases_total) == (3, 3)
