"""Mail about evaluations (docs/notifications.md): the result to the participant who
submitted, an internal error to the challenge's organizers, and the organizers' daily digest.

Every mail is sent by a Celery task, asked for once the transition that finished the
evaluation has committed (``states.on_finished`` hooks run after commit), so a rolled-back
transition sends nothing and no request or scoring transaction waits on an SMTP server.
Participant mails show what the submission page shows them (``presentation``): their message
and the aggregate as the phase rounds it, never the organizer log or per-case values.
"""

from datetime import datetime, timedelta

from celery import current_app
from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from accounts.mail import absolute, organizer_addresses, preferences, send, verified_address
from accounts.models import Profile
from challenges.models import Challenge, Participation
from challenges.notifications import organizers_told, pending_url

from . import task_names
from .models import Evaluation, State, Submission
from .presentation import results_tables, submission_payload
from .states import on_finished

INTERNAL_ERROR = "because of an internal error"
# What stopped, as each neutral message begins (the scoring, validation, algorithm and
# reaper services).
SCORING_STOPPED = "Scoring stopped"
CHECKING_STOPPED = "Your upload could not be checked"
RUN_STOPPED = "The algorithm could not be run"
WORKER_STOPPED = "Work on this submission stopped"
LOG_EXCERPT_CHARS = 3000


def internal_error_message(challenge: Challenge, stopped: str, advice: str = "") -> str:
    """The neutral message a participant sees when an internal error ended their evaluation:
    what stopped, and how the organizers hear of it, said as it is when it is said."""
    return f"{stopped} {INTERNAL_ERROR}; {organizers_told(challenge)}. {advice}".strip()


def _internal_error_q() -> Q:
    query = Q()
    for stopped in (SCORING_STOPPED, CHECKING_STOPPED, RUN_STOPPED, WORKER_STOPPED):
        query |= Q(participant_message__startswith=f"{stopped} {INTERNAL_ERROR};")
    return Q(state=State.FAILED) & query


def is_internal_error(evaluation: Evaluation) -> bool:
    """Whether ``evaluation`` failed with a neutral message (an internal error, not the
    participant's), told apart by the message's beginning, which no check message shares."""
    return Evaluation.objects.filter(_internal_error_q(), pk=evaluation.pk).exists()


@on_finished
def evaluation_finished(evaluation: Evaluation) -> None:
    """A finished evaluation asks a worker for its mails (cancelled ones send none)."""
    if evaluation.state in (State.SUCCEEDED, State.FAILED):
        current_app.send_task(task_names.NOTIFY_FINISHED,
                              kwargs={"evaluation_id": str(evaluation.id)})


def send_finished(evaluation_id) -> int:
    """The mails of a finished evaluation: its result to the submitter, and an internal error
    to the organizers. Returns the number of mails sent."""
    evaluation = (Evaluation.objects
                  .select_related("submission__phase__task__challenge", "submission__creator")
                  .filter(pk=evaluation_id, state__in=[State.SUCCEEDED, State.FAILED]).first())
    if evaluation is None:  # gone since (a test's rolled-back data, a deleted submission)
        return 0
    sent = _tell_submitter(evaluation)
    if is_internal_error(evaluation):
        sent += _tell_organizers(evaluation)
    return sent


def _tell_submitter(evaluation: Evaluation) -> int:
    """The submitter only, not their team: they chose to send it and can forward it; team
    members see every team submission on the team page."""
    submission = evaluation.submission
    creator = submission.creator
    address = verified_address(creator)
    if address is None or not preferences(creator).notify_results:
        return 0
    payload = submission_payload(submission, creator, with_cases=False)
    succeeded = evaluation.state == State.SUCCEEDED
    send("evaluation_finished", {
        "submission": submission,
        "phase": submission.phase,
        "challenge": submission.phase.task.challenge,
        "succeeded": succeeded,
        "again": submission.evaluations.count() > 1,
        "message": evaluation.participant_message,
        "tables": results_tables(payload.get("results"), submission.phase.task.labels)
        if succeeded else None,
        "url": absolute(reverse("submission", args=[submission.id])),
    }, address)
    return 1


def _tell_organizers(evaluation: Evaluation) -> int:
    submission = evaluation.submission
    challenge = submission.phase.task.challenge
    addresses = organizer_addresses(challenge.organizers.all(), Profile.IMMEDIATE)
    context = {
        "evaluation": evaluation,
        "submission": submission,
        "phase": submission.phase,
        "challenge": challenge,
        "log_excerpt": evaluation.organizer_log[-LOG_EXCERPT_CHARS:],
        "console_url": absolute(reverse("admin:evaluation_evaluation_change",
                                        args=[evaluation.id])),
        "url": absolute(reverse("submission", args=[submission.id])),
    }
    for address in addresses:
        send("internal_error", context, address)
    return len(addresses)


def send_digests(now: datetime | None = None) -> int:
    """One mail to each organizer who chose the daily digest and has a verified address:
    over the 24 hours before ``now``, per challenge they organize, the participants awaiting
    approval, the evaluations that failed with an internal error and the new submissions per
    phase. Challenges where nothing happened are left out, and so is an empty digest.
    Returns the number of digests sent."""
    until = now or timezone.now()
    since = until - timedelta(days=1)
    organizers = get_user_model().objects.filter(organized_challenges__isnull=False).distinct()
    sent = 0
    for organizer in organizers:
        address = verified_address(organizer)
        if address is None or preferences(organizer).organizer_digest != Profile.DAILY:
            continue
        sections = [section for section in (
            _digest_section(challenge, since, until)
            for challenge in organizer.organized_challenges.order_by("title")) if section]
        if sections:
            send("digest", {"since": since, "until": until, "sections": sections}, address)
            sent += 1
    return sent


def _digest_section(challenge: Challenge, since: datetime, until: datetime) -> dict | None:
    pending = Participation.objects.filter(challenge=challenge, status=Participation.PENDING)
    errors = (Evaluation.objects.filter(_internal_error_q(), finished_at__gte=since,
                                        finished_at__lt=until,
                                        submission__phase__task__challenge=challenge)
              .select_related("submission__phase__task").order_by("finished_at"))
    submissions = (Submission.objects.filter(phase__task__challenge=challenge,
                                             created__gte=since, created__lt=until)
                   .values("phase__task__key", "phase__name").annotate(count=Count("id"))
                   .order_by("phase__task__key", "phase__name"))
    section = {
        "challenge": challenge,
        "pending": list(pending.filter(created__gte=since, created__lt=until)
                        .select_related("user").order_by("created")),
        "pending_total": pending.count(),
        "pending_url": pending_url(challenge),
        "errors": [{"evaluation": e, "console_url": absolute(reverse(
            "admin:evaluation_evaluation_change", args=[e.id]))} for e in errors],
        "submissions": list(submissions),
    }
    if section["pending_total"] or section["errors"] or section["submissions"]:
        return section
    return None
