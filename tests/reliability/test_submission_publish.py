"""A submission whose message cannot be published is refused with 503 and leaves nothing
behind (no row queued without a message, nothing counted against the limit, no stored file);
with the broker up, the same upload is accepted."""

import socket
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from core.errors import Refused
from evaluation.models import Evaluation, State, Submission
from podium.celery import app
from tests.evaluation.helpers import cube_predictions_zip, submit_file

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens here once the probe is closed


def stored_files() -> set[Path]:
    return {p for p in Path(default_storage.path("submissions")).rglob("*") if p.is_file()}


@pytest.fixture
def broker_down(monkeypatch):
    """The Celery app pointed at a Redis port where nothing listens, then restored (Celery
    reads CELERY_BROKER_URL from the environment before its configuration)."""
    url = app.conf.broker_url
    down = f"redis://127.0.0.1:{closed_port()}/0"
    app._pool = None
    app.amqp._producer_pool = None
    monkeypatch.setenv("CELERY_BROKER_URL", down)
    app.conf.broker_url = down
    yield
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = url


def test_a_submission_the_broker_cannot_take_is_refused_with_503(tmp_path, phase, user,
                                                                 broker_down):
    stored_before = stored_files()
    started = time.monotonic()
    with pytest.raises(Refused) as refused:
        submit_file(phase, user, cube_predictions_zip(tmp_path))
    elapsed = time.monotonic() - started
    assert refused.value.http_status == 503
    assert "submit it again" in str(refused.value)
    assert not Submission.objects.exists() and not Evaluation.objects.exists()
    assert stored_files() == stored_before
    assert 1 < elapsed < 30, f"retried for {elapsed:.1f} s"  # tried again, then gave up


def test_with_the_broker_up_the_submission_is_queued(tmp_path, phase, user):
    submission = submit_file(phase, user, cube_predictions_zip(tmp_path))
    assert submission.evaluations.get().state == State.QUEUED
