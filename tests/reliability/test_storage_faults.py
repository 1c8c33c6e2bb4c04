"""Server-side faults: a stored upload damaged or deleted on the server is never blamed on the
participant, and a full disk (a real tmpfs with no room left) fails fast with an
operator-facing log line, instead of being reaped three times while scoring or answering an
HTML 500 to an upload."""

import logging
import subprocess
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from core.errors import Refused
from evaluation.models import CaseResult, State, Submission
from evaluation.services import reaper
from evaluation.services.scoring import SUBMIT_AGAIN
from tests.evaluation.helpers import cube_predictions_zip, submit_file

from .conftest import scored

pytestmark = pytest.mark.django_db

NEUTRAL = "Scoring stopped because of an internal error;"


def test_a_truncated_stored_upload_is_the_servers_fault(queued, caplog):
    stored = Path(default_storage.path(queued.submission.file.name))
    stored.write_bytes(stored.read_bytes()[: stored.stat().st_size // 2])
    with caplog.at_level(logging.ERROR, logger="evaluation.services.scoring"):
        done = scored(queued)
    assert done.state == State.FAILED
    assert done.participant_message.startswith(NEUTRAL)
    assert SUBMIT_AGAIN in done.participant_message
    assert "damaged" not in done.participant_message
    assert "does not match the SHA-256" in done.organizer_log
    assert "storage fault, operator action needed" in caplog.text
    assert not CaseResult.objects.filter(evaluation=done).exists()


def test_a_deleted_stored_upload_asks_for_a_new_submission_not_a_rerun(queued, caplog):
    default_storage.delete(queued.submission.file.name)
    with caplog.at_level(logging.ERROR, logger="evaluation.services.scoring"):
        done = scored(queued)
    assert done.state == State.FAILED
    assert SUBMIT_AGAIN in done.participant_message
    assert "run it again" not in done.participant_message
    assert "does not exist" in done.organizer_log
    assert queued.submission.file.name in caplog.text  # the operator learns which file


@pytest.fixture
def full_work_dir(tmp_path, settings):
    """A real tmpfs as the worker's scratch folder, with no inode left: every mkdir and file
    creation in it fails with ENOSPC."""
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=1", "tmpfs",
                           str(mount)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    settings.WORK_DIR = mount
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_scratch_disk_fails_fast_for_the_operator(queued, full_work_dir, settings,
                                                         caplog):
    settings.PODIUM_HEARTBEAT_TIMEOUT_S = 0
    with caplog.at_level(logging.ERROR, logger="evaluation.services.scoring"):
        done = scored(queued)
    assert done.state == State.FAILED, "left for the reaper instead of failing fast"
    assert done.attempts == 1
    assert done.participant_message.startswith(NEUTRAL)
    assert str(full_work_dir) not in done.participant_message
    assert "out of disk space" in done.organizer_log
    assert "out of disk space" in caplog.text and str(full_work_dir) in caplog.text
    assert reaper.reap()["requeued"] == 0


def test_a_full_work_folder_on_the_web_side_refuses_the_upload_with_503(tmp_path, phase, user,
                                                                       full_work_dir, caplog):
    archive = cube_predictions_zip(tmp_path)
    with caplog.at_level(logging.ERROR, logger="evaluation.services.submission"), \
            pytest.raises(Refused) as refused:
        submit_file(phase, user, archive)
    assert refused.value.http_status == 503
    assert str(full_work_dir) not in str(refused.value)
    assert "work folder" in caplog.text and str(full_work_dir) in caplog.text
    assert not Submission.objects.exists()
