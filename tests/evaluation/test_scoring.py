"""The scoring service against real NIfTI files: exact values, missing cases, failures."""

import hashlib
import math
from pathlib import Path

import pytest

from core.storage import private_storage
from evaluation.kinds import segmentation
from evaluation.models import CaseResult, Evaluation, State, Submission
from evaluation.services import scoring
from evaluation.services.demo_data import write_nifti
from evaluation.states import transition
from scorers.metrics import image_diagonal_mm
from scorers.nifti import read_label_map
from tests import factories

from .helpers import cube_phase, cube_predictions_zip, prediction_zip, submit_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def phase(tmp_path):
    return cube_phase(tmp_path)


def submitted(phase, tmp_path, archive=None, captured=None):
    user = factories.participant(phase)
    submission = submit_file(phase, user, archive or cube_predictions_zip(tmp_path))
    return submission.evaluations.get()


def files(phase, archive):
    return segmentation.match_cases(archive, phase.task, allow_partial=True)


def test_exact_dice_per_label_and_aggregate(phase, tmp_path):
    evaluation = submitted(phase, tmp_path)
    scoring.score(evaluation.id, worker="test")
    evaluation.refresh_from_db()
    assert evaluation.state == State.SUCCEEDED, evaluation.participant_message
    assert evaluation.participant_message == "Scored 2 cases."
    rows = CaseResult.objects.filter(evaluation=evaluation)
    assert rows.count() == 4
    for row in rows:
        assert row.values["dice"] == pytest.approx(0.9 if row.label == 1 else 2 / 3, abs=1e-12)
        assert not row.missing
    assert evaluation.aggregate["1"]["dice"] == pytest.approx(0.9)
    assert evaluation.aggregate["2"]["dice"] == pytest.approx(2 / 3)
    # Shifting a block by one voxel (1 mm along x): every distance is at most 1 mm.
    assert 0 < evaluation.aggregate["1"]["hd"] <= 1.0 + 1e-9
    assert evaluation.cases_done == evaluation.cases_total == 2


def test_scoring_twice_is_a_no_op(phase, tmp_path):
    evaluation = submitted(phase, tmp_path)
    scoring.score(evaluation.id, worker="a")
    scoring.score(evaluation.id, worker="b")
    assert CaseResult.objects.filter(evaluation=evaluation).count() == 4
    assert Evaluation.objects.get(pk=evaluation.pk).worker == "a"


def test_large_prediction_files_are_read_from_disk_with_the_same_results(phase, tmp_path,
                                                                          monkeypatch):
    from core import archives

    monkeypatch.setattr(archives, "SPILL_ABOVE_BYTES", 10)  # every file counts as large
    read_from = []

    def recording(path, **kwargs):
        if kwargs["name"].startswith("case "):  # a prediction, not a hidden label
            read_from.append((Path(path).parent.name, kwargs.get("content") is None))
        return read_label_map(path, **kwargs)

    monkeypatch.setattr(segmentation, "read_label_map", recording)
    evaluation = submitted(phase, tmp_path)
    scoring.score(evaluation.id, worker="test")
    evaluation.refresh_from_db()
    assert evaluation.state == State.SUCCEEDED, evaluation.participant_message
    assert read_from == [("predictions", True)] * 2  # both from a spilled file, not memory
    for row in CaseResult.objects.filter(evaluation=evaluation):
        assert row.values["dice"] == pytest.approx(0.9 if row.label == 1 else 2 / 3, abs=1e-12)


def test_missing_cases_get_the_worst_value_when_the_phase_allows_partial(phase, tmp_path):
    phase.allow_partial = True
    phase.save()
    evaluation = submitted(phase, tmp_path, cube_predictions_zip(tmp_path, cases=["cube_000"]))
    scoring.score(evaluation.id, worker="test")
    evaluation.refresh_from_db()
    assert evaluation.state == State.SUCCEEDED
    assert "1 without a prediction" in evaluation.participant_message
    missing = CaseResult.objects.filter(evaluation=evaluation, case="cube_001")
    assert all(row.missing and row.values["dice"] == 0.0 and row.values["hd95"] is None
               for row in missing)
    diagonal = image_diagonal_mm(phase.task.geometry_of("cube_001"))
    assert diagonal == pytest.approx(math.sqrt(20**2 + 20**2 + 20**2))
    present = CaseResult.objects.get(evaluation=evaluation, case="cube_000", label=1)
    assert evaluation.aggregate["1"]["dice"] == pytest.approx(0.45)
    expected = (present.values["hd95"] + diagonal) / 2
    assert evaluation.aggregate["1"]["hd95"] == pytest.approx(expected)


def test_undefined_distances_are_null_and_count_as_worst(phase, tmp_path):
    _ref, pred, spacing = factories.cube_labels()
    pred[pred == 2] = 0  # the small structure is missed: its distances are undefined
    archive = prediction_zip(tmp_path / "p.zip", {"cube_000": pred, "cube_001": pred}, spacing)
    evaluation = submitted(phase, tmp_path, archive)
    scoring.score(evaluation.id, worker="test")
    evaluation.refresh_from_db()
    row = CaseResult.objects.get(evaluation=evaluation, case="cube_000", label=2)
    assert row.values == {"dice": 0.0, "nsd": 0.0, "hd": None, "hd95": None, "assd": None}
    assert evaluation.aggregate["2"]["hd"] == pytest.approx(math.sqrt(1200))


def test_label_value_outside_the_task_fails_with_the_case_named(phase, tmp_path):
    _, pred, spacing = factories.cube_labels()
    bad = pred.copy()
    bad[0, 0, 0] = 5
    archive = prediction_zip(tmp_path / "p.zip", {"cube_000": pred, "cube_001": bad}, spacing)
    evaluation = submitted(phase, tmp_path, archive)
    scoring.score(evaluation.id, worker="test")
    evaluation.refresh_from_db()
    assert evaluation.state == State.FAILED
    assert "cube_001" in evaluation.participant_message and "5" in evaluation.participant_message


def test_broken_ground_truth_gives_a_neutral_message_and_an_organizer_log(phase, tmp_path):
    evaluation = submitted(phase, tmp_path)
    gt_path = private_storage().path(evaluation.ground_truth.files["cube_001"]["path"])
    with open(gt_path, "wb") as fh:
        fh.write(b"\x1f\x8b garbage")
    scoring.score(evaluation.id, worker="test")
    evaluation.refresh_from_db()
    assert evaluation.state == State.FAILED
    assert evaluation.participant_message == scoring.neutral_message(evaluation)
    # Both cases share one content-addressed file, so the first case already fails.
    assert "ground truth v1" in evaluation.organizer_log and "cube_000" in evaluation.organizer_log
    assert "private" not in evaluation.participant_message


def test_scoring_stops_when_the_evaluation_is_cancelled(phase, tmp_path):
    evaluation = submitted(phase, tmp_path)
    claimed = scoring.claim(evaluation.id, "w")
    transition(evaluation.id, State.CANCELLED)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (tmp_path / "again").mkdir()
    archive = cube_predictions_zip(tmp_path / "again")
    with pytest.raises(scoring.Stopped):
        scoring._score_shard(claimed, 0, archive, files(phase, archive), scratch,
                             cases=phase.task.case_names)
    assert CaseResult.objects.filter(evaluation=evaluation, case="cube_001").count() == 0
    assert Evaluation.objects.get(pk=evaluation.pk).state == State.CANCELLED


def test_geometry_mismatch_at_scoring_names_the_case(phase, tmp_path):
    evaluation = submitted(phase, tmp_path)
    # Replace the stored upload with one whose second case has the wrong spacing.
    _, pred, _ = factories.cube_labels()
    write_nifti(tmp_path / "cube_001.nii.gz", pred, (1.0, 1.0, 2.5))
    import zipfile

    path = evaluation.submission.file.path
    with zipfile.ZipFile(path, "w") as archive:
        write_nifti(tmp_path / "cube_000.nii.gz", pred, (1.0, 1.0, 2.0))
        archive.write(tmp_path / "cube_000.nii.gz", "cube_000.nii.gz")
        archive.write(tmp_path / "cube_001.nii.gz", "cube_001.nii.gz")
    # As if the participant had sent this archive (scoring checks the stored file's SHA-256).
    Submission.objects.filter(pk=evaluation.submission_id).update(
        file_sha256=hashlib.sha256(Path(path).read_bytes()).hexdigest())
    scoring.score(evaluation.id, worker="test")
    evaluation.refresh_from_db()
    assert evaluation.state == State.FAILED
    assert "cube_001" in evaluation.participant_message


def test_a_lone_worker_scores_every_shard_and_late_helpers_find_nothing_left(phase, tmp_path,
                                                                             settings):
    settings.PODIUM_SCORING_SHARD_CASES = 1
    evaluation = submitted(phase, tmp_path)
    scoring.score(evaluation.id, worker="first")  # sends a helper, then takes both shards
    evaluation.refresh_from_db()
    assert evaluation.state == State.SUCCEEDED and evaluation.cases_done == 2
    assert (evaluation.shards_total, evaluation.shards_taken) == (2, {"0": 0, "1": 0})
    assert evaluation.shards_finished == [0, 1]
    assert evaluation.aggregate["1"]["dice"] == pytest.approx(0.9)
    scoring.score_shard(evaluation.id, lease=evaluation.lease, shard=1, worker="late")
    assert CaseResult.objects.filter(evaluation=evaluation).count() == 4  # nothing re-scored


def test_helpers_take_the_shards_left_and_the_last_shard_finishes(phase, tmp_path, settings):
    settings.PODIUM_SCORING_SHARD_CASES = 1
    evaluation = submitted(phase, tmp_path)
    first = scoring.claim(evaluation.id, "first")
    assert scoring._plan(first) == 2
    assert scoring._take_shard(first, 0) == 0  # the claiming task holds shard 0 (not scored yet)
    scoring.score_shard(evaluation.id, lease=first.lease - 1, shard=1, worker="old")
    assert Evaluation.objects.get(pk=evaluation.pk).shards_taken == {"0": 0}  # an old lease
    scoring.score_shard(evaluation.id, lease=first.lease, shard=1, worker="helper")
    evaluation.refresh_from_db()  # helper 1 took and scored shard 1, then found none left
    assert evaluation.state == State.SCORING
    assert evaluation.shards_taken == {"0": 0, "1": 1}
    assert (evaluation.shards_finished, evaluation.cases_done) == ([1], 1)
    assert set(CaseResult.objects.filter(evaluation=evaluation).values_list("case", flat=True)) \
        == {"cube_001"}
    scoring.score_shard(evaluation.id, lease=first.lease, shard=1, worker="twice")
    assert Evaluation.objects.get(pk=evaluation.pk).cases_done == 1  # delivered twice: no-op
    scoring._take_shards(first, helper=0)  # the claiming task scores the shard it holds
    evaluation.refresh_from_db()
    assert evaluation.state == State.SUCCEEDED and evaluation.cases_done == 2
    assert evaluation.aggregate["1"]["dice"] == pytest.approx(0.9)
    assert CaseResult.objects.filter(evaluation=evaluation).count() == 4


def test_a_helper_delivered_again_after_its_worker_died_resumes_its_shard(phase, tmp_path,
                                                                         settings):
    settings.PODIUM_SCORING_SHARD_CASES = 1
    evaluation = submitted(phase, tmp_path)
    first = scoring.claim(evaluation.id, "first")
    scoring._plan(first)
    assert scoring._take_shard(first, 1) == 0  # helper 1 took shard 0; then its worker died
    scoring.score_shard(evaluation.id, lease=first.lease, shard=1, worker="redelivered")
    evaluation.refresh_from_db()  # it finished shard 0, then took and finished shard 1
    assert evaluation.state == State.SUCCEEDED and evaluation.cases_done == 2
    assert evaluation.shards_taken == {"0": 1, "1": 1}
    assert CaseResult.objects.filter(evaluation=evaluation).count() == 4


def test_a_broken_label_of_a_case_without_prediction_still_fails_the_evaluation(phase,
                                                                                tmp_path):
    phase.allow_partial = True
    phase.save()
    evaluation = submitted(phase, tmp_path, cube_predictions_zip(tmp_path, cases=["cube_000"]))
    files = evaluation.ground_truth.files  # both cases share one file: point one elsewhere
    files["cube_001"] = {**files["cube_001"], "path": "gone.nii.gz"}
    type(evaluation.ground_truth).objects.filter(pk=evaluation.ground_truth_id).update(
        files=files)  # (a version is immutable through the model; this is damage)
    scoring.score(evaluation.id, worker="test")
    evaluation.refresh_from_db()
    assert evaluation.state == State.FAILED
    assert evaluation.participant_message == scoring.neutral_message(evaluation)
    assert "cube_001" in evaluation.organizer_log


def test_a_worker_whose_lease_expired_can_neither_write_nor_finish(phase, tmp_path):
    evaluation = submitted(phase, tmp_path)
    slow = scoring.claim(evaluation.id, "slow")
    scoring._plan(slow)
    # The reaper gave up on the slow worker; another worker claimed the evaluation again.
    transition(evaluation.id, State.QUEUED, worker="")
    fresh = scoring.claim(evaluation.id, "fresh")
    assert fresh.lease == slow.lease + 1
    scratch = tmp_path / "slow"
    scratch.mkdir()
    archive = cube_predictions_zip(tmp_path / "slow")
    with pytest.raises(scoring.Stopped):
        scoring._score_shard(slow, 0, archive, files(phase, archive), scratch,
                             cases=["cube_000"])
    scoring._finish(slow, State.FAILED, participant_message="from the slow worker")
    current = Evaluation.objects.get(pk=evaluation.pk)
    assert current.state == State.SCORING and current.worker == "fresh"
    assert not CaseResult.objects.filter(evaluation=evaluation).exists()


def test_broken_detection_ground_truth_is_never_shown(tmp_path):
    from evaluation.services.demo_data import write_box_predictions, write_detection_task
    from evaluation.services.importing import import_task

    folder, boxes = write_detection_task(tmp_path, key="Task10_Dx", n_images=3, seed=4)
    phase = import_task(folder, challenge_slug="dx").phase
    user = factories.participant(phase)
    evaluation = submit_file(phase, user, write_box_predictions(
        boxes, tmp_path / "p.csv", quality=0.9, seed=1)).evaluations.get()
    first = sorted(evaluation.ground_truth.files)[0]
    path = private_storage().path(evaluation.ground_truth.files[first]["path"])
    with open(path, "w") as fh:
        fh.write("<annotation><object><name>SECRET_CLASS</name></object></annotation>")
    scoring.score(evaluation.id, worker="t")
    evaluation.refresh_from_db()
    assert evaluation.state == State.FAILED
    assert evaluation.participant_message == scoring.neutral_message(evaluation)
    assert "SECRET_CLASS" not in evaluation.participant_message
    assert "ground truth v1" in evaluation.organizer_log
