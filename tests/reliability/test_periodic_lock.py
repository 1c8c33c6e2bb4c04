"""The periodic passes run one at a time: two concurrent invocations (two scheduler processes,
or a pass still running when the next is sent) never both run; the lock is free again after."""

import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from evaluation import tasks
from evaluation.models import Evaluation, State
from evaluation.services import periodic
from evaluation.states import transition
from tests import factories
from tests.conftest import ROOT, database_url

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

HOLD = """
import sys, time, django
django.setup()
from evaluation.services import periodic
def slow():
    print("ran", flush=True)
    time.sleep(3)
    return True
if periodic.run_once("test-lock", slow) is None:
    print("skipped", flush=True)
"""


def test_two_processes_never_run_the_same_pass_at_once():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "podium.settings",
           "DATABASE_URL": database_url(), "PODIUM_DATA_DIR": str(settings.DATA_DIR)}
    runs = [subprocess.Popen([sys.executable, "-c", HOLD], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=60)[0].split() for run in runs]
    assert sorted(outputs) == [["ran"], ["skipped"]], outputs
    assert periodic.run_once("test-lock", lambda: "free again") == "free again"


def test_the_reaper_task_skips_while_another_pass_holds_the_lock(settings):
    phase = factories.phase()
    _, evaluation = factories.submission(phase, factories.participant(phase))
    transition(evaluation.id, State.SCORING, worker="gone", attempts=1)
    Evaluation.objects.filter(pk=evaluation.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1))
    settings.PODIUM_HEARTBEAT_TIMEOUT_S = 60
    holding, release = threading.Event(), threading.Event()

    def other_pass():
        with periodic.exclusive("reaper") as held:
            assert held
            holding.set()
            release.wait(30)

    other = threading.Thread(target=other_pass)
    other.start()
    try:
        assert holding.wait(30)
        tasks.reap.run()
        assert Evaluation.objects.get(pk=evaluation.pk).state == State.SCORING  # skipped
    finally:
        release.set()
        other.join(30)
    tasks.reap.run()
    assert Evaluation.objects.get(pk=evaluation.pk).state == State.QUEUED
