"""Joining a challenge, and forming teams."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Refused

from ..models import Challenge, Participation, Phase, Team
from ..notifications import participant_pending


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
    if status == Participation.PENDING:
        participant_pending(created)
    return created, True


def approve(participations) -> int:
    return participations.filter(status=Participation.PENDING).update(
        status=Participation.ACCEPTED
    )


def create_team(participation: Participation, name: str) -> Team:
    """A new team with ``participation``'s user as its first member."""
    name = " ".join(name.split())[:100]
    if not name:
        raise Refused("give the team a name", http_status=400)
    with transaction.atomic():
        member = _changeable(participation)
        if Team.objects.filter(challenge_id=member.challenge_id, name__iexact=name).exists():
            raise Refused(f"a team named '{name}' already exists in this challenge",
                          http_status=409)
        team = Team.objects.create(challenge_id=member.challenge_id, name=name)
        member.team = team
        member.save(update_fields=["team"])
    return team


def join_team(participation: Participation, code: str) -> Team:
    """Join the team whose code a member shared."""
    with transaction.atomic():
        member = _changeable(participation)
        team = Team.objects.filter(challenge_id=member.challenge_id,
                                   join_code=code.strip()).first()
        if team is None:
            raise Refused("no team of this challenge has that code", http_status=400)
        member.team = team
        member.save(update_fields=["team"])
    return team


def leave_team(participation: Participation) -> None:
    with transaction.atomic():
        member = _changeable(participation)
        member.team = None
        member.save(update_fields=["team"])


def _changeable(participation: Participation) -> Participation:
    """The participation, locked, if its user may still change team: accepted, and with no
    submission to the challenge yet (submissions and limits belong to whoever submitted)."""
    member = Participation.objects.select_for_update().get(pk=participation.pk)
    if member.status != Participation.ACCEPTED:
        raise Refused("only accepted participants can form or join teams")
    # Submissions point at phases (``Phase.submissions``); asking through the phase keeps this
    # app below evaluation.
    if Phase.objects.filter(task__challenge_id=member.challenge_id,
                            submissions__creator_id=member.user_id).exists():
        raise Refused("you have already submitted to this challenge; ask the organizers to "
                      "change your team", http_status=409)
    return member
