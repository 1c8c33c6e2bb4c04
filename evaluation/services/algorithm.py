"""Running an algorithm submission over the hidden test images (the ``gpu`` queue).

The run's outputs are validated exactly as an uploaded predictions archive is (names, missing
and extra cases, NIfTI headers; for a classification or survival task, the one predictions
file in ``/output``), stored as an archive, and handed to the ``scoring`` queue,
which scores them like any prediction submission. Labels never reach the run: only the test
images are staged, into a folder of their own.
"""

import logging
import re
import shutil
import threading
import zipfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from challenges import deid_gate
from challenges.models import Task
from core.errors import InvalidInput
from core.storage import local_path, private_storage

from ..kinds import clinical, segmentation
from ..models import Evaluation, Phase, State
from ..notifications import RUN_STOPPED, internal_error_message
from ..runners import Outcome, ResourceLimits, RunRequest, get_runner, gpu_index_from_env
from ..runners.base import MIB
from ..states import InvalidTransition, heartbeat, transition
from .queueing import enqueue
from .scoring import Stopped

log = logging.getLogger(__name__)

# At most this long between heartbeats, and four within PODIUM_HEARTBEAT_TIMEOUT_S.
HEARTBEAT_EVERY_S = 30


def neutral_message(evaluation: Evaluation) -> str:
    """What the participant is told when an internal error stopped the algorithm's run."""
    return internal_error_message(evaluation.submission.phase.task.challenge, RUN_STOPPED)


def run_id_of(evaluation_id, lease: int) -> str:
    """The run's id, in its containers' names: the evaluation and the claim (lease) it ran
    under, so a re-queued run never takes its predecessor's names."""
    return f"e{evaluation_id.hex[:24]}-{lease}"


def runs_in_flight() -> list[str]:
    """The run ids of algorithm runs whose worker is alive (a heartbeat within
    PODIUM_HEARTBEAT_TIMEOUT_S): a starting worker leaves their containers alone."""
    fresh = timezone.now() - timedelta(seconds=settings.PODIUM_HEARTBEAT_TIMEOUT_S)
    return [run_id_of(pk, lease) for pk, lease in Evaluation.objects.filter(
        state=State.RUNNING_ALGORITHM, heartbeat_at__gte=fresh).values_list("id", "lease")]


def runner():
    """The configured runner; each GPU worker process names its containers after its GPU."""
    gpu = gpu_index_from_env()
    prefix = settings.PODIUM_RUNNER_NAME_PREFIX + (f"gpu{gpu}-" if gpu is not None else "")
    options = settings.PODIUM_K8S_OPTIONS if settings.PODIUM_RUNNER_BACKEND == "kubernetes" else {}
    return get_runner(settings.PODIUM_RUNNER_BACKEND, name_prefix=prefix, **options)


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
                          attempts=evaluation.attempts + 1, lease=evaluation.lease + 1)


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
    except Stopped:
        log.info("evaluation %s was cancelled or taken over during its run", evaluation.id)
    except InvalidInput as exc:
        _fail(evaluation, str(exc))
    except Exception as exc:
        log.exception("evaluation %s: internal error while running the algorithm", evaluation.id)
        _fail(evaluation, neutral_message(evaluation),
              organizer_log=f"{type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(evaluation: Evaluation, scratch: Path) -> None:
    submission = evaluation.submission
    phase = submission.phase
    task = phase.task
    if task.kind == Task.DETECTION:
        raise InvalidInput("algorithm submissions are not supported for detection tasks")
    held = deid_gate.refusal(task, for_run=True)  # no image is loaded, no input staged
    if held:
        raise InvalidInput(held)
    engine = runner()
    run_id = run_id_of(evaluation.id, evaluation.lease)
    # Heartbeats from the start: fetching and loading a large image and staging the inputs
    # can take longer than the reaper's timeout, and a live worker must not look dead.
    with _heartbeats(evaluation, on_lost=lambda: engine.stop(run_id)) as beats:
        if not engine.has_image(submission.image_id):
            with local_path(default_storage, submission.file.name, scratch) as archive:
                loaded = engine.load_image(archive)
            if loaded != submission.image_id:
                raise RuntimeError(f"the engine loaded {loaded}, expected {submission.image_id}")
        output_dir = scratch / "output"
        output_dir.mkdir()
        request = RunRequest(
            run_id=run_id,
            image_id=submission.image_id,
            input_dir=stage_inputs(task),
            output_dir=output_dir,
            limits=ResourceLimits(
                memory_bytes=phase.algorithm_memory_mb * MIB,
                cpus=phase.algorithm_cpus,
                wall_time_s=float(phase.algorithm_time_limit_s),
            ),
            gpu_device=gpu_index_from_env(),
        )
        if beats.lost.is_set():  # cancelled or taken over while loading: run nothing
            engine.remove_image(submission.image_id)
            raise Stopped
        try:
            result = engine.run(request)
        finally:
            engine.remove_image(submission.image_id)  # GPU nodes keep no participant images
    logs = (f"--- stdout (tail) ---\n{result.stdout_tail}\n"
            f"--- stderr (tail) ---\n{result.stderr_tail}")
    note = (f"run {request.run_id}: {result.outcome} exit={result.exit_code} "
            f"{result.duration_s:.1f}s {result.error}\n")
    _update_held(evaluation, logs=logs, organizer_log=evaluation.organizer_log + note)
    if result.outcome == Outcome.ENGINE_ERROR:
        raise RuntimeError(result.error or "engine error")
    if result.outcome != Outcome.SUCCEEDED:
        raise InvalidInput(result.message)
    outputs = _pack_outputs(output_dir, scratch / "outputs.zip")
    _check_outputs(evaluation, outputs, output_dir)
    with open(outputs, "rb") as fh:
        stored = default_storage.save(
            f"submissions/{phase.id}/{submission.id}/outputs-{evaluation.id}.zip", File(fh))
    try:
        _update_held(evaluation, outputs=stored)
    except Stopped:
        default_storage.delete(stored)
        raise
    _hand_to_scoring(evaluation)


def _update_held(evaluation: Evaluation, **fields) -> None:
    """Write ``fields`` only while this worker still holds the evaluation (else Stopped)."""
    held = Evaluation.objects.filter(pk=evaluation.pk, lease=evaluation.lease,
                                     state=State.RUNNING_ALGORITHM)
    if not held.update(**fields):
        raise Stopped
    for name, value in fields.items():
        setattr(evaluation, name, value)


def _check_outputs(evaluation: Evaluation, outputs: Path, output_dir: Path) -> None:
    """The outputs must pass the checks of an uploaded archive. The participant's message
    names only test cases and counts: file names and header values come from the algorithm,
    which saw the hidden test images, so echoing them would be a channel out."""
    phase = evaluation.submission.phase
    clinical_task = phase.task.kind in Task.CLINICAL_KINDS
    try:
        if clinical_task:  # one CSV or JSON file of predictions for the whole test set
            clinical.validate_upload(outputs, phase.task, clinical.upload_rule(phase))
        else:
            segmentation.validate_upload(outputs, phase.task, allow_partial=phase.allow_partial)
    except InvalidInput as exc:
        _update_held(evaluation, organizer_log=f"{evaluation.organizer_log}outputs: {exc}\n")
        reason = (clinical_reason(phase.task) if clinical_task
                  else _safe_reason(str(exc), phase, output_dir))
        raise InvalidInput("The algorithm's outputs are not valid: " + reason) from None


def clinical_reason(task: Task) -> str:
    """Why a classification or survival run's outputs failed, in words that echo nothing the
    algorithm wrote (it saw the test images)."""
    return ("/output must hold one predictions file (.csv or .json) with a row for every test "
            f"case and the columns {clinical.accepted_header(task)}, finite numbers"
            + ("" if task.kind == Task.SURVIVAL else ", probabilities in [0, 1]"))


def _safe_reason(reason: str, phase: Phase, output_dir: Path) -> str:
    cases = phase.task.case_names
    names = {p.name for p in output_dir.rglob("*") if p.is_file()}
    missing = [case for case in cases if not {f"{case}.nii.gz", f"{case}.nii"} & names]
    expected = {f"{case}{suffix}" for case in cases for suffix in segmentation.NIFTI_SUFFIXES}
    extra = len(names - expected)
    if extra:
        return (f"{extra} file(s) in /output are not named after a test case "
                f"(expected e.g. {cases[0]}.nii.gz)")
    if missing and not phase.allow_partial:
        return f"{len(missing)} test case(s) have no output: {segmentation.listing(missing)}"
    named = re.match(r"case (\S+):", reason)
    if named and named.group(1) in cases:
        return (f"the output for case {named.group(1)} is not a label map with the test "
                "image's geometry and the task's labels")
    return "the outputs could not be read as label maps of the test images"


def stage_inputs(task: Task) -> Path:
    """The task's test images (never labels) in a folder of their own, built once per worker
    machine and reused by later runs. Each run copies them into an engine volume of its own
    (root-owned, world-readable copies), so this folder keeps the worker's own modes and its
    path never shows inside a container."""
    folder = Path(settings.WORK_DIR) / "inputs" / str(task.id)
    if folder.is_dir():
        return folder
    building = folder.with_name(f"{folder.name}.building-{timezone.now().timestamp()}")
    building.mkdir(parents=True)
    storage = private_storage()
    for case in task.cases:
        target = building / Path(case["image"]).name
        with storage.open(task.images[case["name"]], "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
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
                           holding=evaluation.lease, worker="", enqueued_at=timezone.now())
    except InvalidTransition:
        log.info("evaluation %s was moved before its outputs were handed on", evaluation.id)
        return
    transaction.on_commit(lambda: enqueue(moved), robust=True)


def _fail(evaluation: Evaluation, message: str, organizer_log: str = "") -> None:
    phase = evaluation.submission.phase
    current = Evaluation.objects.get(pk=evaluation.pk)
    if phase.show_algorithm_logs and current.logs:
        message = f"{message}\n{current.logs}"
    try:
        transition(evaluation.id, State.FAILED, allowed_from=[State.RUNNING_ALGORITHM],
                   holding=evaluation.lease, participant_message=message,
                   organizer_log=current.organizer_log + organizer_log)
    except InvalidTransition:
        log.info("evaluation %s was moved before it failed", evaluation.id)


class _heartbeats:
    """Writes the evaluation's heartbeat every HEARTBEAT_EVERY_S (or a quarter of the reaper's
    timeout, if shorter) while the run is prepared and while the container runs; if the
    evaluation was cancelled or taken over meanwhile, sets ``lost`` and calls ``on_lost``
    (stops the run)."""

    def __init__(self, evaluation: Evaluation, *, on_lost):
        self.evaluation = evaluation
        self.on_lost = on_lost
        self.every = min(HEARTBEAT_EVERY_S, settings.PODIUM_HEARTBEAT_TIMEOUT_S / 4)
        self.lost = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        from django.db import connection

        try:
            while not self.done.wait(self.every):
                if not heartbeat(self.evaluation.id, state=State.RUNNING_ALGORITHM,
                                 lease=self.evaluation.lease):
                    self.lost.set()
                    self.on_lost()
                    return
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
