"""Mails sent by real Celery worker processes to a real SMTP server process: an evaluation's
result once its transition commits (and nothing for a rolled-back one), and the daily digest
sent by the embedded beat of ``celery worker -B`` on the filesystem broker, as run.sh runs it."""

import os
import subprocess
import sys
from contextlib import suppress

import pytest
from celery.app.routes import prepare as prepare_routes
from django.db import transaction

from evaluation import task_names
from evaluation.models import State
from evaluation.states import transition
from podium.celery import app
from tests import factories
from tests.conftest import ROOT, WorkerProcess, database_url

from .conftest import AGGREGATE, body, finished, organizer_of, with_address

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "notify-test"  # a queue of its own: no other worker of the session takes the mails


def mail_env(mailbox) -> dict:
    return {"PODIUM_EMAIL_HOST": "127.0.0.1", "PODIUM_EMAIL_PORT": str(mailbox.port),
            "PODIUM_BASE_URL": "https://podium.example.org"}


def waiting(queue: str) -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue, passive=True).message_count


def test_a_committed_transition_mails_the_result_and_a_rolled_back_one_sends_nothing(
        mailbox, phase, monkeypatch):
    # The app's router read task_routes once, when this session first sent a task.
    router = app.amqp.router
    monkeypatch.setattr(router, "routes", [
        *prepare_routes({task_names.NOTIFY_FINISHED: {"queue": QUEUE}}), *router.routes])
    with app.connection_for_write() as conn:
        conn.default_channel.queue_declare(QUEUE)
        conn.default_channel.queue_purge(QUEUE)
    ann = with_address(factories.participant(phase, "ann"))
    _, undone = finished(phase, ann, State.SCORING)
    with suppress(RuntimeError), transaction.atomic():
        transition(undone.id, State.SUCCEEDED, aggregate=AGGREGATE)
        raise RuntimeError("the scoring transaction fails after the transition")
    assert waiting(QUEUE) == 0
    submission, done = finished(phase, ann, State.SCORING)
    transition(done.id, State.SUCCEEDED, aggregate=AGGREGATE)
    assert waiting(QUEUE) == 1
    worker = WorkerProcess("notify", extra_env=mail_env(mailbox), queues=QUEUE)
    try:
        mail = mailbox.wait_for("ann@example.org")
    finally:
        worker.stop()
    text = body(mail)
    assert f"https://podium.example.org/submissions/{submission.id}/" in text
    assert "0.8800" in text
    assert len(mailbox.to("ann@example.org")) == 1


def test_the_embedded_beat_sends_the_daily_digest_through_the_filesystem_broker(
        mailbox, phase, tmp_path):
    organizer_of(phase, "dina", organizer_digest="daily")
    factories.submission(phase, factories.participant(phase, "sol"))
    # A data folder of its own: its own filesystem broker and beat schedule file, the same
    # database.
    data_dir = tmp_path / "data"
    env = {**os.environ, **mail_env(mailbox), "PODIUM_DATA_DIR": str(data_dir),
           "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1",
           "DJANGO_SETTINGS_MODULE": "tests.notifications.beat_settings"}
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "podium", "worker", "-B", "--loglevel=INFO",
             "--concurrency=1", "--without-gossip", "--without-mingle", "-n", "beat@%h"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            mail = mailbox.wait_for("dina@example.org")
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert "Daily digest" in mail["Subject"]
    assert "Task01_Test / Test: 1" in body(mail)
    output = log_path.read_text(errors="replace")
    assert "beat: Starting" in output and task_names.SEND_DIGESTS in output
    assert list(data_dir.glob("celerybeat-schedule*"))  # the beat's state, in the data folder
