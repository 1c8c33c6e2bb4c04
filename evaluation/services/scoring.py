"""Scoring one evaluation: predictions against one hidden ground-truth version.

Runs on the ``scoring`` queue. Idempotent: it only claims an evaluation that is waiting, clears
any results a previous (dead) attempt left, and writes a heartbeat after every case so that the
reaper can tell a live worker from a dead one and a cancel stops it between cases.
"""

import logging
import math
import shutil
import traceback
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from challenges.models import Task
from scorers.errors import InputError
from scorers.nifti import read_label_map
from scorers.segmentation import score_case

from .. import detection_predictions, predictions
from ..archives import extract
from ..models import CaseResult, Evaluation, Phase, State
from ..results import aggregate, missing_case_values
from ..states import InvalidTransition, heartbeat, transition
from ..storage import local_path, private_storage

log = logging.getLogger(__name__)

NEUTRAL_MESSAGE = (
    "Scoring stopped because of an internal error; the organizers have been notified. "
    "You do not need to resubmit: they will re-run it."
)


class Stopped(Exception):
    """The evaluation left the scoring state (cancelled, or reaped and handed on)."""


class GroundTruthError(Exception):
    """The hidden ground truth itself is unreadable: an organizer problem, never shown."""


def claim(evaluation_id, worker: str) -> Evaluation | None:
    """Take a waiting evaluation for scoring; None if it is not waiting for a scorer."""
    with transaction.atomic():
        evaluation = Evaluation.objects.select_for_update().select_related("submission").get(
            pk=evaluation_id
        )
        if evaluation.state == State.SCORING and not evaluation.worker:
            # Handed on by an algorithm run: outputs are ready, nobody scores them yet.
            evaluation.worker = worker
            evaluation.heartbeat_at = timezone.now()
            evaluation.cases_done = 0
            evaluation.save(update_fields=["worker", "heartbeat_at", "cases_done"])
            return evaluation
        if evaluation.state == State.QUEUED and evaluation.submission.kind == Phase.PREDICTIONS:
            return transition(evaluation_id, State.SCORING, worker=worker, cases_done=0,
                              attempts=evaluation.attempts + 1)
    return None


def score(evaluation_id, *, worker: str) -> None:
    """Claim and score one evaluation, ending it in a terminal state unless it was taken away."""
    evaluation = claim(evaluation_id, worker)
    if evaluation is None:
        log.info("evaluation %s is not waiting for a scorer; nothing to do", evaluation_id)
        return
    scratch = Path(settings.WORK_DIR) / f"scoring-{evaluation.id}"
    shutil.rmtree(scratch, ignore_errors=True)  # what a killed earlier attempt left behind
    scratch.mkdir(parents=True)
    try:
        _score(evaluation, scratch)
    except Stopped:
        log.info("evaluation %s left the scoring state; stopped", evaluation.id)
    except InputError as exc:
        _finish(evaluation, State.FAILED, participant_message=str(exc))
    except Exception as exc:
        log.exception("evaluation %s: internal error while scoring", evaluation.id)
        _finish(
            evaluation,
            State.FAILED,
            participant_message=NEUTRAL_MESSAGE,
            organizer_log=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _score(evaluation: Evaluation, scratch: Path) -> None:
    submission = evaluation.submission
    task = submission.phase.task
    archive_name = evaluation.outputs or submission.file.name
    with local_path(default_storage, archive_name, scratch) as archive:
        if task.kind == Task.DETECTION:
            result = detection_predictions.score(archive, evaluation, scratch)
            _finish(evaluation, State.SUCCEEDED, aggregate=result,
                    participant_message=f"Scored {len(task.cases)} images.")
            return
        _score_segmentation(evaluation, task, archive, scratch)


def _score_segmentation(evaluation: Evaluation, task: Task, archive: Path, scratch: Path) -> None:
    config = evaluation.metric_config
    metrics = config["metrics"]
    labels = [int(label) for label in config["labels"]]
    tolerances = {int(k): float(v) for k, v in config["nsd_tolerance_mm"].items()}
    allowed_values = sorted(int(value) for value in task.labels)
    files = predictions.match_cases(archive, task, allow_partial=True)
    paths = extract(archive, list(files.members.values()), scratch / "predictions",
                    predictions.archive_limits())
    cases = task.case_names
    Evaluation.objects.filter(pk=evaluation.pk).update(cases_total=len(cases))
    CaseResult.objects.filter(evaluation=evaluation).delete()
    rows: list[dict] = []
    for done, case in enumerate(cases, start=1):
        reference, geometry = _read_reference(evaluation, task, case, scratch)
        member = files.members.get(case)
        if member is None:
            values = {label: missing_case_values(metrics) for label in labels}
        else:
            prediction, _ = read_label_map(paths[member.name], name=f"case {case}",
                                           labels=allowed_values, expected=geometry)
            paths[member.name].unlink()
            scores = score_case(prediction, reference, spacing_mm=geometry.spacing_mm,
                                labels=labels, nsd_tolerance_mm=tolerances,
                                surface=config["surface"])
            values = {label: {m: _finite_or_none(scores[label][m]) for m in metrics}
                      for label in labels}
        case_rows = [{"case": case, "label": label, **values[label]} for label in labels]
        CaseResult.objects.bulk_create(
            CaseResult(evaluation=evaluation, missing=member is None, **row) for row in case_rows
        )
        rows.extend(case_rows)
        if not heartbeat(evaluation.id, state=State.SCORING, cases_done=done):
            raise Stopped
    geometries = {case: task.geometry_of(case) for case in cases}
    summary = aggregate(rows, config=config, geometries=geometries)
    message = f"Scored {len(cases)} cases."
    if files.missing:
        message += f" {len(files.missing)} without a prediction counted as the worst value."
    _finish(evaluation, State.SUCCEEDED, aggregate=summary, participant_message=message)


def _read_reference(evaluation: Evaluation, task: Task, case: str, scratch: Path):
    entry = evaluation.ground_truth.files[case]
    try:
        with local_path(private_storage(), entry["path"], scratch) as path:
            return read_label_map(path, name=f"reference {case}",
                                  labels=[int(v) for v in task.labels])
    except InputError as exc:
        raise GroundTruthError(f"ground truth v{evaluation.ground_truth.version}: {exc}") from exc


def _finite_or_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _finish(evaluation: Evaluation, state: str, **fields) -> None:
    try:
        transition(evaluation.id, state, allowed_from=[State.SCORING], **fields)
    except InvalidTransition:
        log.info("evaluation %s was moved by someone else before it finished", evaluation.id)
