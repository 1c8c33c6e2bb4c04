"""Running an algorithm submission over the hidden test images (the ``gpu`` queue).

The run's outputs are validated exactly as an uploaded predictions archive is (names, missing
and extra cases, NIfTI headers), stored as an archive, and handed to the ``scoring`` queue,
which scores them like any prediction submission. Labels never reach the run: only the test
images are staged, into a folder of their own.
"""

import logging
import shutil
import threading
import zipfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from challenges.models import Task
from scorers.errors import InputError

from .. import predictions
from ..models import Evaluation, Phase, State
from ..runners import Outcome, ResourceLimits, RunRequest, get_runner, gpu_index_from_env
from ..runners.base import MIB
from ..states import InvalidTransition, heartbeat, transition
from ..storage import local_path, private_storage
from .queueing import enqueue

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 30
NEUTRAL_MESSAGE = (
    "The algorithm could not be run because of an internal error; the organizers have been "
    "notified."
)


def runner():
    """The configured runner; each GPU worker process names its containers after its GPU."""
    gpu = gpu_index_from_env()
    prefix = settings.PODIUM_RUNNER_NAME_PREFIX + (f"gpu{gpu}-" if gpu is not None else "")
    return get_runner(settings.PODIUM_RUNNER_BACKEND, name_prefix=prefix)


def claim(evaluation_id, worker: str) -> Evaluation | None:
    """Take a queued algorithm evaluation; None if it is not waiting for a run."""
    with transaction.atomic():
        evaluation = Evaluation.objects.select_for_update().select_related("submission").filter(
            pk=evaluation_id
        ).first()
        if evaluation is None or evaluation.state != State.QUEUED or (
            evaluation.submission.kind != Phase.ALGORITHM
        ):
            return None
        return transition(evaluation_id, State.RUNNING_ALGORITHM, worker=worker,
                          attempts=evaluation.attempts + 1)


def run(evaluation_id, *, worker: str) -> None:
    """Claim, run the image, validate and store its outputs, and hand them to scoring."""
    evaluation = claim(evaluation_id, worker)
    if evaluation is None:
        log.info("evaluation %s is not waiting for an algorithm run", evaluation_id)
        return
    if evaluation.outputs:  # an earlier attempt collected them before its worker died
        _hand_to_scoring(evaluation)
        return
    scratch = Path(settings.WORK_DIR) / f"run-{evaluation.id}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        _run(evaluation, scratch)
    except InputError as exc:
        _fail(evaluation, str(exc))
    except Exception as exc:
        log.exception("evaluation %s: internal error while running the algorithm", evaluation.id)
        _fail(evaluation, NEUTRAL_MESSAGE, organizer_log=f"{type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(evaluation: Evaluation, scratch: Path) -> None:
    submission = evaluation.submission
    phase = submission.phase
    task = phase.task
    if task.kind != Task.SEGMENTATION:
        raise InputError("algorithm submissions are supported for segmentation tasks only")
    engine = runner()
    if not engine.has_image(submission.image_id):
        with local_path(default_storage, submission.file.name, scratch) as archive:
            loaded = engine.load_image(archive)
        if loaded != submission.image_id:
            raise RuntimeError(f"the engine loaded {loaded}, expected {submission.image_id}")
    inputs = stage_inputs(task)
    output_dir = scratch / "output"
    output_dir.mkdir()
    request = RunRequest(
        run_id=f"e{evaluation.id.hex[:24]}-{evaluation.attempts}",
        image_id=submission.image_id,
        input_dir=inputs,
        output_dir=output_dir,
        limits=ResourceLimits(
            memory_bytes=phase.algorithm_memory_mb * MIB,
            cpus=phase.algorithm_cpus,
            wall_time_s=float(phase.algorithm_time_limit_s),
        ),
        gpu_device=gpu_index_from_env(),
    )
    with _heartbeats(evaluation.id):
        result = engine.run(request)
    logs = (f"--- stdout (tail) ---\n{result.stdout_tail}\n"
            f"--- stderr (tail) ---\n{result.stderr_tail}")
    note = (f"run {request.run_id}: {result.outcome} exit={result.exit_code} "
            f"{result.duration_s:.1f}s {result.error}\n")
    Evaluation.objects.filter(pk=evaluation.pk).update(
        logs=logs, organizer_log=evaluation.organizer_log + note)
    evaluation.organizer_log += note
    if result.outcome == Outcome.ENGINE_ERROR:
        raise RuntimeError(result.error or "engine error")
    if result.outcome != Outcome.SUCCEEDED:
        raise InputError(result.message)
    outputs = _pack_outputs(output_dir, scratch / "outputs.zip")
    try:
        predictions.validate_upload(outputs, task, allow_partial=phase.allow_partial)
    except InputError as exc:
        raise InputError(f"The algorithm's outputs are not valid: {exc}") from None
    with open(outputs, "rb") as fh:
        stored = default_storage.save(
            f"submissions/{phase.id}/{submission.id}/outputs-{evaluation.id}.zip", File(fh))
    Evaluation.objects.filter(pk=evaluation.pk).update(outputs=stored)
    evaluation.outputs = stored
    _hand_to_scoring(evaluation)


def stage_inputs(task: Task) -> Path:
    """The task's test images (never labels) in a folder of their own, readable by the
    container's user, built once per worker machine and reused by later runs."""
    folder = Path(settings.WORK_DIR) / "inputs" / str(task.id)
    if folder.is_dir():
        return folder
    building = folder.with_name(f"{folder.name}.building-{timezone.now().timestamp()}")
    building.mkdir(parents=True, mode=0o755)
    building.chmod(0o755)
    storage = private_storage()
    for case in task.cases:
        target = building / Path(case["image"]).name
        with storage.open(task.images[case["name"]], "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
        target.chmod(0o644)
    try:
        building.rename(folder)
    except OSError:  # another process finished first
        shutil.rmtree(building, ignore_errors=True)
    return folder


def _pack_outputs(output_dir: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(output_dir.rglob("*")):
            if path.is_file():
                archive.write(path, arcname=str(path.relative_to(output_dir)))
    return target


def _hand_to_scoring(evaluation: Evaluation) -> None:
    """Outputs ready: the evaluation waits in ``scoring`` for a scorer to claim it."""
    try:
        moved = transition(evaluation.id, State.SCORING, allowed_from=[State.RUNNING_ALGORITHM],
                           worker="", enqueued_at=timezone.now())
    except InvalidTransition:
        log.info("evaluation %s was moved before its outputs were handed on", evaluation.id)
        return
    transaction.on_commit(lambda: enqueue(moved))


def _fail(evaluation: Evaluation, message: str, organizer_log: str = "") -> None:
    phase = evaluation.submission.phase
    logs = Evaluation.objects.get(pk=evaluation.pk).logs
    if phase.show_algorithm_logs and logs:
        message = f"{message}\n{logs}"
    try:
        transition(evaluation.id, State.FAILED, allowed_from=[State.RUNNING_ALGORITHM],
                   participant_message=message,
                   organizer_log=evaluation.organizer_log + organizer_log)
    except InvalidTransition:
        log.info("evaluation %s was moved before it failed", evaluation.id)


class _heartbeats:
    """Writes the evaluation's heartbeat every HEARTBEAT_EVERY_S while the container runs."""

    def __init__(self, evaluation_id):
        self.evaluation_id = evaluation_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        from django.db import connection

        try:
            while not self.stop.wait(HEARTBEAT_EVERY_S):
                if not heartbeat(self.evaluation_id, state=State.RUNNING_ALGORITHM):
                    return
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
