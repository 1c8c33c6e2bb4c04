"""Who may see and do what: the one query layer pages, API and console ask before showing a
challenge, a phase, a leaderboard or a submission (docs/security.md#roles).

The roles:

- a **platform administrator** is a superuser: sees and does everything, and acts as the
  organizer of every challenge;
- an **organizer** of a challenge is one of its ``Challenge.organizers`` — a role per challenge,
  never derived from ``is_staff``. Staff status only lets a user log in to the console, where
  they find the challenges they organize and nothing else;
- a **participant** is a user whose ``Participation`` in the challenge is accepted. They see
  their own submissions and, while they are members of a team, the team's; a participant who is
  rejected, or moved out of the team, no longer does;
- everyone, anonymous included, sees published challenges, their phases, and the leaderboards
  the organizers made public.
"""

import uuid

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.roles import is_platform_admin

from .models import Challenge, Participation, Phase


def organized_challenges(user) -> QuerySet:
    """The challenges ``user`` organizes: every challenge for a platform administrator."""
    if is_platform_admin(user):
        return Challenge.objects.all()
    if not user.is_authenticated:
        return Challenge.objects.none()
    return Challenge.objects.filter(organizers=user)


def is_organizer(user, challenge: Challenge) -> bool:
    """Whether ``user`` organizes ``challenge`` (or administers the platform): sees it unpublished,
    every submission, its hidden leaderboards, exact scores, per-case values and algorithm
    logs, and may cancel any of its submissions."""
    if is_platform_admin(user):
        return True
    return user.is_authenticated and challenge.organizers.filter(pk=user.pk).exists()


def visible_challenges(user) -> QuerySet:
    """The challenges ``user`` may see: published ones and those they organize."""
    if is_platform_admin(user):
        return Challenge.objects.all()
    if user.is_authenticated:
        return Challenge.objects.filter(Q(is_published=True) | Q(organizers=user)).distinct()
    return Challenge.objects.filter(is_published=True)


def challenge_by_key(user, key: str) -> Challenge:
    """A visible challenge by UUID or slug, else 404."""
    challenges = visible_challenges(user)
    try:
        return get_object_or_404(challenges, pk=uuid.UUID(key))
    except ValueError:
        return get_object_or_404(challenges, slug=key)


def visible_phases(user) -> QuerySet:
    """The phases of the challenges ``user`` may see."""
    return Phase.objects.filter(task__challenge__in=visible_challenges(user))


def visible_phase(user, phase_id) -> Phase:
    """A phase of a challenge ``user`` may see, else 404."""
    return get_object_or_404(visible_phases(user).select_related("task__challenge"), pk=phase_id)


def leaderboard_phase(user, phase_id) -> tuple[Phase, bool]:
    """A phase whose leaderboard ``user`` may see (public, or one they organize), else 404; and
    whether they see it as an organizer."""
    phase = visible_phase(user, phase_id)
    organizer = is_organizer(user, phase.challenge)
    if not (phase.is_public or organizer):
        raise Http404("no such leaderboard")
    return phase, organizer


def visible_submissions(user, submissions: QuerySet) -> QuerySet:
    """Those of ``submissions`` (a queryset of evaluation's ``Submission``, handed in because this
    layer sits below evaluation) that ``user`` may see: all of the challenges they organize; a
    team's, while they are an accepted member of the team; their own submissions without a
    team, while their participation is accepted."""
    if is_platform_admin(user):
        return submissions
    if not user.is_authenticated:
        return submissions.none()
    accepted = Participation.objects.filter(user=user, status=Participation.ACCEPTED)
    own = Q(team__isnull=True, creator=user) & Exists(
        accepted.filter(challenge=OuterRef("phase__task__challenge")))
    of_team = Exists(accepted.filter(team=OuterRef("team")))
    organized = Q(phase__task__challenge__in=organized_challenges(user))
    return submissions.filter(own | of_team | organized)


def may_cancel(user, submission) -> bool:
    """Whether ``user`` may cancel ``submission``: its organizers, and its submitter while they
    may still see it."""
    if is_organizer(user, submission.phase.challenge):
        return True
    if submission.creator_id != user.pk:
        return False
    return visible_submissions(user, type(submission).objects.filter(pk=submission.pk)).exists()
