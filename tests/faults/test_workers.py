"""Workers stopped in the middle of their work: SIGKILL (a crash, an OOM kill of the machine's
process) and SIGTERM (a deploy, a scale-down), while scoring and while running an algorithm
container. Nothing is lost or scored twice; a killed worker's evaluation is re-queued by the
reaper (beat, every 2 s, an 8 s heartbeat timeout) and finished by another worker."""

import signal
import time

import pytest

from challenges.models import Phase
from evaluation.models import Evaluation, State
from tests.conftest import wait_for
from tests.integration.test_algorithm import algorithm_image

from .checks import (
    CASES,
    assert_scores,
    leaderboard_fresh,
    predictions_zip,
    record,
    settled,
    undisturbed,
)
from .conftest import import_phase, participants, submit

pytestmark = [pytest.mark.stack, pytest.mark.faults, pytest.mark.engine]


def mid_work(submissions: list[str], state: str, worker: str, *, cases_done: int = 0):
    """Wait until ``worker`` is in the middle of one of the submissions' evaluations."""
    return wait_for(lambda: Evaluation.objects.filter(
        submission_id__in=submissions, state=state, worker__startswith=worker,
        cases_done__gte=cases_done, cases_done__lt=len(CASES)).first(),
        timeout=120, interval=0.01, what=f"{worker} to be in the middle of {state}")


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_worker_stopped_mid_scoring(stack, task_folder, tmp_path, signum):
    phase = import_phase(stack, task_folder, f"faults-{signum.name.lower()}")
    archives = [predictions_zip(tmp_path, quality) for quality in (1, 2, 3)]
    expected = {a.name: undisturbed(tmp_path, a) for a in archives}
    rounds, recovery = 2, []
    for round_ in range(rounds):
        doomed = stack.worker(f"doomed{round_}", PODIUM_SCORING_SHARD_CASES="1")
        headers = participants(phase, len(archives))
        submissions = [submit(stack, phase, h, a) for h, a in zip(headers, archives, strict=True)]
        hit = mid_work(submissions, State.SCORING, f"doomed{round_}", cases_done=1)
        injected = time.monotonic()
        if signum == signal.SIGKILL:
            doomed.kill()
        else:
            doomed.signal(signal.SIGTERM)  # a warm shutdown: finishes what it runs
        survivor = stack.worker(f"survivor{round_}")
        outcome = settled(phase, submissions, within=90, since=injected, stack=stack)
        recovery.append(outcome.seconds)
        for evaluation in outcome.evaluations:
            assert_scores(evaluation, expected[evaluation.submission.file_name])
        if signum == signal.SIGTERM:
            doomed.process.wait(timeout=60)
            assert "Warm shutdown" in doomed.output()
            # The evaluation it was scoring was finished, not re-queued.
            assert any(e.worker.startswith(f"doomed{round_}") and e.attempts == 1
                       for e in outcome.evaluations)
        hit.refresh_from_db()
        assert hit.state == State.SUCCEEDED and hit.cases_done == len(CASES)
        leaderboard_fresh(phase)  # refreshed by the survivor
        survivor.stop()
    record(f"worker {signum.name} mid-scoring", injected=rounds, recovered=rounds,
           seconds=recovery, evaluations=rounds * len(archives))


def test_worker_stopped_mid_algorithm_run(stack, tmp_path):
    """A gpu worker SIGKILLed while the container runs, then one SIGTERMed: the first run is
    re-queued and run again by a new worker (which removes the container the dead one left),
    the second finishes before the worker exits."""
    from tests.factories import write_cube_task

    folder = write_cube_task(tmp_path / "task", key="Task12_FaultAlgo")
    phase = import_phase(stack, folder, "faults-algorithm", submission_kind=Phase.ALGORITHM,
                         algorithm_memory_mb=64, algorithm_cpus=1.0,
                         algorithm_time_limit_s=60)
    script = ('sleep 3; for f in /input/*.nii.gz; do cp "/algo/predictions/${f##*/}" /output/'
              ' || exit 1; done')
    image = algorithm_image(tmp_path / "algorithm.tar", script)
    recovery, evaluations = [], 0
    for round_, signum in enumerate((signal.SIGKILL, signal.SIGTERM)):
        stack.worker(f"scorer{round_}")  # checks the uploaded image, then scores the run
        doomed = stack.worker(f"gpu-doomed{round_}", queues="gpu")
        submissions = [submit(stack, phase, participants(phase, 1)[0], image)]
        running = mid_work(submissions, State.RUNNING_ALGORITHM, f"gpu-doomed{round_}")
        injected = time.monotonic()
        if signum == signal.SIGKILL:
            doomed.kill()
        else:
            doomed.signal(signal.SIGTERM)
        stack.worker(f"gpu-survivor{round_}", queues="gpu")
        outcome = settled(phase, submissions, within=120, since=injected, stack=stack)
        recovery.append(outcome.seconds)
        evaluations += 1
        done = outcome.evaluations[0]
        assert done.state == State.SUCCEEDED, (done.participant_message, done.organizer_log)
        assert done.aggregate["1"]["dice"] == pytest.approx(0.9, abs=1e-12)
        assert done.aggregate["2"]["dice"] == pytest.approx(2 / 3, abs=1e-12)
        # Re-queued by the reaper after the SIGKILL only; the SIGTERMed worker finished it.
        silent = done.organizer_log.count("went silent")
        assert silent == (1 if signum == signal.SIGKILL else 0), done.organizer_log
        assert done.id == running.id
        leaderboard_fresh(phase)
        stack.stop_workers()
    record("gpu worker SIGKILL / SIGTERM mid-algorithm-run", injected=2, recovered=2,
           seconds=recovery, evaluations=evaluations)
