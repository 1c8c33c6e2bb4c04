"""Joining a challenge."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from evaluation.errors import Refused

from ..models import Challenge, Participation


def join(challenge: Challenge, user, *, accept_terms: bool = True) -> tuple[Participation, bool]:
    """The user's participation and whether this call created it: accepted at once, or pending
    when the challenge requires an organizer's approval. Joining means accepting the terms."""
    if not accept_terms:
        raise Refused("you must accept the challenge's terms to join", http_status=400)
    existing = Participation.objects.filter(challenge=challenge, user=user).first()
    if existing is not None:
        return existing, False
    status = Participation.PENDING if challenge.requires_approval else Participation.ACCEPTED
    try:
        with transaction.atomic():
            created = Participation.objects.create(
                challenge=challenge, user=user, status=status, terms_accepted_at=timezone.now()
            )
    except IntegrityError:  # joined twice at the same moment
        return Participation.objects.get(challenge=challenge, user=user), False
    return created, True


def approve(participations) -> int:
    return participations.filter(status=Participation.PENDING).update(
        status=Participation.ACCEPTED
    )
