"""A worker killed with SIGKILL in the middle of scoring loses nothing: the evaluation is left
in `scoring` with a stale heartbeat, the reaper re-queues it, another worker finishes it."""

import time

import numpy as np
import pytest

from evaluation import task_names
from evaluation.models import CaseResult, Evaluation, State
from evaluation.services import reaper
from evaluation.services.demo_data import write_nifti
from evaluation.services.importing import import_task
from podium.celery import app
from tests import factories
from tests.conftest import WorkerProcess, wait_for
from tests.evaluation.helpers import prediction_zip, submit_file

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

CASES = [f"big_{i:03d}" for i in range(10)]


def big_task(root):
    folder = factories.write_cube_task(root, cases=CASES, key="Task08_Big")
    label = np.zeros((256, 256, 96), np.uint8)
    label[40:200, 50:210, 10:80] = 1
    label[100:120, 100:130, 30:40] = 2
    for case in CASES:
        write_nifti(folder / "labelsTs" / f"{case}.nii.gz", label, (0.8, 0.8, 2.5))
        write_nifti(folder / "imagesTs" / f"{case}.nii.gz", label.astype(np.float32),
                    (0.8, 0.8, 2.5))
    prediction = np.roll(label, 3, axis=0)
    return folder, prediction


def test_killed_worker_is_reaped_and_the_evaluation_finishes(tmp_path, settings, monkeypatch,
                                                             celery_worker):
    folder, prediction = big_task(tmp_path)
    phase = import_task(folder, challenge_slug="crash").phase
    user = factories.participant(phase)
    archive = prediction_zip(tmp_path / "p.zip", dict.fromkeys(CASES, prediction), (0.8, 0.8, 2.5))
    # Route the first attempt to a worker of its own: not sent to the shared queue on commit.
    monkeypatch.setattr("evaluation.services.submission.enqueue", lambda evaluation: None)
    submission = submit_file(phase, user, archive)
    evaluation = submission.evaluations.get()

    doomed_queue = "crash-test"  # a queue of its own, so no other worker takes the message
    doomed = WorkerProcess("doomed", extra_env={"PODIUM_REAPER_INTERVAL_S": "3600"},
                           queues=doomed_queue)
    app.send_task(task_names.SCORE, kwargs={"evaluation_id": str(evaluation.id)},
                  queue=doomed_queue)
    wait_for(lambda: Evaluation.objects.filter(pk=evaluation.pk, state=State.SCORING,
                                               cases_done__gte=1).exists(),
             timeout=120, interval=0.02, what="the doomed worker to start scoring")
    doomed.kill()
    stuck = Evaluation.objects.get(pk=evaluation.pk)
    assert stuck.state == State.SCORING and stuck.cases_done < len(CASES)

    settings.PODIUM_HEARTBEAT_TIMEOUT_S = 1
    time.sleep(1.5)
    assert reaper.reap()["requeued"] == 1  # sent to the shared queue: the session worker
    done = wait_for(lambda: Evaluation.objects.filter(
        pk=evaluation.pk, state__in=[State.SUCCEEDED, State.FAILED]).first(),
        timeout=180, what="the re-queued evaluation to finish")
    assert done.state == State.SUCCEEDED, done.participant_message
    assert done.attempts == 2
    assert "went silent" in done.organizer_log
    assert CaseResult.objects.filter(evaluation=done).count() == 2 * len(CASES)
