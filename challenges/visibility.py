"""Who may see what: the one query layer pages, API and console ask before showing a
challenge or a phase."""

import uuid

from django.db.models import Q
from django.shortcuts import get_object_or_404

from .models import Challenge, Phase


def visible_challenges(user):
    """The challenges ``user`` may see: published ones, those they organize, all for staff."""
    if user.is_authenticated and user.is_staff:
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


def visible_phase(user, phase_id) -> Phase:
    """A phase of a challenge ``user`` may see, else 404."""
    phase = get_object_or_404(Phase.objects.select_related("task__challenge"), pk=phase_id)
    challenge_by_key(user, str(phase.task.challenge_id))
    return phase
