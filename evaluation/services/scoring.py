"""Scoring one evaluation: predictions against one hidden ground-truth version.

Runs on the ``scoring`` queue. Idempotent: it only claims an evaluation that is waiting, clears
any results a previous (dead) attempt left, and writes results with a heartbeat once 0.5 s have
passed (checked after each case), so that the reaper can tell a live worker from a dead one and
a cancel stops it between cases. Every claim raises the evaluation's lease; shards are handed
out one at a time under it, and every write of a worker carries the lease it holds, so a worker
the reaper gave up on (or a helper message delivered twice) can no longer write or move
anything.

What is scored, and how, is the task kind's (:mod:`evaluation.kinds`): this module claims,
shards, writes the rows a kind yields with heartbeats, and ends the evaluation.
"""

import logging
import math
import shutil
import time
import traceback
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from core.errors import PodiumError
from core.storage import StoredFileDamaged, StoredFileMissing, file_sha256, local_path

from .. import task_names
from ..kinds import Row, ScoringJob, kind_of
from ..models import CaseResult, Evaluation, Phase, State
from ..notifications import SCORING_STOPPED, internal_error_message
from ..states import InvalidTransition, heartbeat, transition
from . import faults

log = logging.getLogger(__name__)

RESULTS_EVERY_S = 0.5


RERUN = "You do not need to resubmit: they can run it again."
SUBMIT_AGAIN = ("The stored copy of your upload is no longer readable on the server (not a "
                "problem with what you sent): please submit it again.")


def neutral_message(evaluation: Evaluation, advice: str = RERUN) -> str:
    """What the participant is told when an internal error stopped scoring."""
    return internal_error_message(evaluation.submission.phase.task.challenge, SCORING_STOPPED,
                                  advice)


class Stopped(Exception):
    """The evaluation left the scoring state (cancelled, or reaped and handed on)."""


def claim(evaluation_id, worker: str) -> Evaluation | None:
    """Take a waiting evaluation for scoring; None if it is not waiting for a scorer."""
    with transaction.atomic():
        evaluation = Evaluation.objects.select_for_update().select_related("submission").filter(
            pk=evaluation_id
        ).first()
        if evaluation is None:  # deleted since the message was sent
            return None
        if evaluation.state == State.SCORING and not evaluation.worker:
            # Handed on by an algorithm run: outputs are ready, nobody scores them yet.
            evaluation.worker = worker
            evaluation.heartbeat_at = timezone.now()
            evaluation.lease += 1
            evaluation.save(update_fields=["worker", "heartbeat_at", "lease"])
            return evaluation
        if evaluation.state == State.QUEUED and evaluation.submission.kind == Phase.PREDICTIONS:
            return transition(evaluation_id, State.SCORING, worker=worker,
                              attempts=evaluation.attempts + 1, lease=evaluation.lease + 1)
    return None


def score(evaluation_id, *, worker: str) -> None:
    """Claim a waiting evaluation and score it.

    A segmentation submission with more than PODIUM_SCORING_SHARD_CASES cases is split into
    shards of consecutive cases, and one helper message per further shard goes to the
    ``scoring`` queue. This task (helper 0) and every helper take the next shard nobody has
    taken until none is left, so every free worker helps, while a lone worker scores them all
    in one go (its helper messages then find nothing left). The shard that finishes last
    writes the aggregate and ends the evaluation.
    """
    evaluation = claim(evaluation_id, worker)
    if evaluation is None:
        log.info("evaluation %s is not waiting for a scorer; nothing to do", evaluation_id)
        return
    shards = _plan(evaluation)
    for helper in range(1, shards):
        current_app.send_task(task_names.SCORE_SHARD, kwargs={"evaluation_id": str(evaluation.id),
                                                      "lease": evaluation.lease, "shard": helper})
    _take_shards(evaluation, helper=0)


def score_shard(evaluation_id, *, lease: int, shard: int, worker: str) -> None:
    """Helper number ``shard`` of an evaluation still held under ``lease``: take shards nobody
    has taken yet until none is left. A helper of an older claim, or one that comes after every
    shard was taken, does nothing; a helper delivered again because its worker died first
    resumes the shard it held."""
    evaluation = Evaluation.objects.select_related("submission__phase__task",
                                                   "ground_truth").filter(pk=evaluation_id).first()
    if evaluation is None or evaluation.state != State.SCORING or evaluation.lease != lease:
        log.info("evaluation %s: helper %s of lease %s dropped", evaluation_id, shard, lease)
        return
    _take_shards(evaluation, helper=shard)


def _plan(evaluation: Evaluation) -> int:
    """Clear an earlier attempt's results and decide the number of shards."""
    task = evaluation.submission.phase.task
    cases = len(task.cases)
    shards = kind_of(task).shards(task, settings.PODIUM_SCORING_SHARD_CASES)
    CaseResult.objects.filter(evaluation=evaluation).delete()
    Evaluation.objects.filter(pk=evaluation.pk).update(
        cases_total=cases, cases_done=0, shards_total=shards, shards_taken={},
        shards_finished=[])
    evaluation.shards_total = shards
    return shards


def _take_shards(evaluation: Evaluation, *, helper: int) -> None:
    """Take and score shards until none is left or the evaluation ends or leaves this worker.

    A transient fault (a dropped database connection, a storage read that failed) is retried
    with backoff: the next try takes the shard this helper held again and replaces the rows it
    had written, so no case result is ever duplicated. When the tries run out the evaluation is
    failed if the database answers, else left to the reaper (its heartbeat goes stale)."""
    for attempt in range(faults.retries() + 1):
        try:
            with _ending_on_error(evaluation):
                _take_shards_once(evaluation, helper)
            return
        except faults.TRANSIENT as exc:
            if attempt == faults.retries():
                log.error("evaluation %s: transient fault persisted after %s tries: %r",
                          evaluation.id, attempt + 1, exc)
                faults.retry_pause(0)
                _finish(evaluation, State.FAILED, participant_message=neutral_message(evaluation),
                        organizer_log=f"gave up after {attempt + 1} tries: {exc!r}\n")
                return
            log.warning("evaluation %s: transient fault (%r); try %s of %s in %.0f s",
                        evaluation.id, exc, attempt + 2, faults.retries() + 1,
                        faults.backoff_s(attempt))
            faults.retry_pause(attempt)


def _take_shards_once(evaluation: Evaluation, helper: int) -> None:
    """One try: the stored archive is fetched (and its SHA-256 checked) once for all shards."""
    scratch = Path(settings.WORK_DIR) / f"scoring-{evaluation.id}-{helper}"
    shutil.rmtree(scratch, ignore_errors=True)  # what a killed earlier attempt left behind
    try:
        scratch.mkdir(parents=True)
        with ExitStack() as stack:
            task = evaluation.submission.phase.task
            kind = kind_of(task)
            archive = prepared = None
            while (shard := _take_shard(evaluation, helper)) is not None:
                if archive is None:
                    archive = stack.enter_context(_stored_upload(evaluation, scratch))
                    prepared = kind.prepare(archive, task)
                _score_shard(evaluation, shard, archive, prepared, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class UploadLost(StoredFileMissing):
    """The participant's stored upload is missing or damaged on the server: only a new
    submission can replace it (a re-run reads the same file)."""


@contextmanager
def _stored_upload(evaluation: Evaluation, scratch: Path) -> Iterator[Path]:
    """The archive to score as a local path: an algorithm's outputs, or the participant's
    upload checked against the SHA-256 recorded when it was received, so that a file damaged
    on the server is never scored nor blamed on the participant."""
    submission = evaluation.submission
    name = evaluation.outputs or submission.file.name
    with ExitStack() as stack:
        try:
            archive = stack.enter_context(local_path(default_storage, name, scratch))
            if not archive.is_file():
                raise StoredFileMissing(f"stored file {name} does not exist")
            if not evaluation.outputs and submission.file_sha256:
                if file_sha256(archive) != submission.file_sha256:
                    raise StoredFileDamaged(
                        f"stored upload {name} does not match the SHA-256 "
                        f"{submission.file_sha256} recorded when it was received")
        except (StoredFileMissing, StoredFileDamaged) as exc:
            if evaluation.outputs:
                raise
            raise UploadLost(str(exc)) from exc
        yield archive



def _score_shard(evaluation: Evaluation, shard: int, archive: Path, prepared, scratch: Path, *,
                 cases: list[str] | None = None) -> None:
    """Score the shard's cases (``cases``: those of shard number ``shard`` unless given) with
    the task kind, write the rows it yields (see :class:`_Results`), and, if this shard was the
    last one to finish, the aggregate."""
    task = evaluation.submission.phase.task
    kind = kind_of(task)
    if cases is None:
        cases = _shard_cases(task.case_names, shard, evaluation.shards_total)
    job = ScoringJob(evaluation=evaluation, task=task, archive=archive, scratch=scratch,
                     cases=cases, prepared=prepared)
    pending = _Results(evaluation)
    with closing(kind.score(job)) as scored:  # stops the kind's reader if we stop
        for case, rows in scored:
            pending.add(case, rows)
    if pending.flush(finishing=shard):
        aggregate, message = kind.summarize(job)
        _finish(evaluation, State.SUCCEEDED, aggregate=aggregate, participant_message=message,
                cases_done=len(task.cases))


def _take_shard(evaluation: Evaluation, helper: int) -> int | None:
    """The shard ``helper`` scores next: one it took before and has not finished (its message
    was delivered again after its worker died), else the first one nobody has taken; None when
    none is left or the evaluation is no longer held under this worker's lease."""
    with transaction.atomic():
        current = Evaluation.objects.select_for_update().get(pk=evaluation.pk)
        if current.state != State.SCORING or current.lease != evaluation.lease:
            return None
        taken = current.shards_taken
        for key, holder in sorted(taken.items()):
            if holder == helper and int(key) not in current.shards_finished:
                return int(key)
        free = next((s for s in range(current.shards_total) if str(s) not in taken), None)
        if free is not None:
            taken[str(free)] = helper
            current.save(update_fields=["shards_taken"])
        return free


@contextmanager
def _ending_on_error(evaluation: Evaluation) -> Iterator[None]:
    """Scoring errors end the evaluation: the participant's (InvalidInput) with its message; a
    stored upload missing or damaged on the server, or a full disk, with a neutral message and
    an operator-facing log line; any other with a neutral one and the traceback in the
    organizer log. Transient faults go up to be retried (:func:`_take_shards`)."""
    try:
        yield
    except Stopped:
        log.info("evaluation %s left the scoring state; stopped", evaluation.id)
    except PodiumError as exc:
        _finish(evaluation, State.FAILED, participant_message=str(exc))
    except faults.TRANSIENT:
        raise
    except (StoredFileMissing, StoredFileDamaged) as exc:
        log.error("evaluation %s: storage fault, operator action needed: %s", evaluation.id, exc)
        _finish(evaluation, State.FAILED,
                participant_message=neutral_message(
                    evaluation, SUBMIT_AGAIN if isinstance(exc, UploadLost) else RERUN),
                organizer_log=f"storage fault: {exc}\n")
    except Exception as exc:
        if faults.is_resource(exc):
            log.error("evaluation %s: worker %s is out of disk space in %s (%s); free space, "
                      "then re-queue the evaluation", evaluation.id, evaluation.worker,
                      settings.WORK_DIR, exc)
            _finish(evaluation, State.FAILED, participant_message=neutral_message(evaluation),
                    organizer_log=f"out of disk space on the worker: {exc}\n")
            return
        log.exception("evaluation %s: internal error while scoring", evaluation.id)
        _finish(
            evaluation,
            State.FAILED,
            participant_message=neutral_message(evaluation),
            organizer_log=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
        )


def _shard_cases(cases: list[str], shard: int, shards: int) -> list[str]:
    size = math.ceil(len(cases) / shards)
    return cases[shard * size:(shard + 1) * size]


class _Results:
    """Case results on their way to the database: written with the heartbeat that proves the
    lease is still held (else Stopped), every RESULTS_EVERY_S or at the end of the shard, so a
    fast scorer does not wait on one commit per case. A case written before (a shard delivered
    twice) is replaced."""

    def __init__(self, evaluation: Evaluation):
        self.evaluation = evaluation
        self.cases: list[str] = []
        self.rows: list[CaseResult] = []
        self.since = time.monotonic()

    def add(self, case: str, rows: list[Row]) -> None:
        """The rows of ``case``."""
        self.cases.append(case)
        self.rows.extend(
            CaseResult(evaluation=self.evaluation, case=case, label=row.label, values=row.values,
                       matches=row.matches, missing=row.missing)
            for row in rows
        )
        if time.monotonic() - self.since >= RESULTS_EVERY_S:
            self.flush()

    def flush(self, *, finishing: int | None = None) -> bool:
        """Write what is pending. With ``finishing``, also record in the same transaction that
        this shard finished, and return True for the one shard that completes the set."""
        last = False
        if self.cases or finishing is not None:
            with transaction.atomic():
                if self.cases:
                    earlier = CaseResult.objects.filter(evaluation=self.evaluation,
                                                        case__in=self.cases)
                    replaced = earlier.values("case").distinct().count()
                    earlier.delete()
                    if not heartbeat(self.evaluation.id, state=State.SCORING,
                                     lease=self.evaluation.lease,
                                     advance=len(self.cases) - replaced):
                        raise Stopped  # rolls the delete back too
                    CaseResult.objects.bulk_create(self.rows)
                if finishing is not None:
                    last = _last_shard_done(self.evaluation, finishing)
        self.cases, self.rows = [], []
        self.since = time.monotonic()
        return last


def _last_shard_done(evaluation: Evaluation, shard: int) -> bool:
    """Record that ``shard`` finished (inside the caller's transaction); True for the one shard
    that completes the set."""
    current = Evaluation.objects.select_for_update().get(pk=evaluation.pk)
    if current.state != State.SCORING or current.lease != evaluation.lease:
        raise Stopped
    finished = sorted(set(current.shards_finished) | {shard})
    if finished == current.shards_finished:
        return False  # this shard was delivered twice
    current.shards_finished = finished
    current.save(update_fields=["shards_finished"])
    return len(finished) == current.shards_total


def _finish(evaluation: Evaluation, state: str, **fields) -> None:
    try:
        transition(evaluation.id, state, allowed_from=[State.SCORING],
                   holding=evaluation.lease, **fields)
    except InvalidTransition:
        log.info("evaluation %s was moved by someone else before it finished", evaluation.id)
