"""Mail to a challenge's organizers about its participants, and what participants are told
about who hears of a failure (docs/notifications.md).

Organizers here are the challenge's ``organizers`` only: platform administrators act as
organizers of every challenge but are not mailed about each one."""

from urllib.parse import urlencode

from celery import current_app
from django.db import transaction
from django.urls import reverse

from accounts.mail import absolute, organizer_addresses, send
from accounts.models import Profile

from . import task_names
from .models import Challenge, Participation


def organizers_told(challenge: Challenge) -> str:
    """How the organizers of ``challenge`` hear of an internal error, said to a participant:
    true at the moment it is said (who has a verified address and which mail they chose)."""
    organizers = list(challenge.organizers.all())
    if organizer_addresses(organizers, Profile.IMMEDIATE):
        return "the organizers have been notified by email"
    if organizer_addresses(organizers, Profile.DAILY):
        return "the organizers will see it in their daily email digest"
    return "the organizers can see it in their console"


def pending_url(challenge: Challenge) -> str:
    """The console's list of the challenge's participants awaiting approval."""
    query = urlencode({"challenge__id__exact": challenge.id,
                       "status__exact": Participation.PENDING})
    return absolute(f"{reverse('admin:challenges_participation_changelist')}?{query}")


def participant_pending(participation: Participation) -> None:
    """Have a worker tell the organizers that ``participation`` awaits their approval, once
    the transaction that created it commits."""
    transaction.on_commit(lambda: current_app.send_task(
        task_names.NOTIFY_PENDING, kwargs={"participation_id": str(participation.id)}),
        robust=True)


def send_pending(participation_id) -> int:
    """Mail the organizers who chose immediate mail about a participation still pending;
    returns the number of mails sent."""
    participation = (Participation.objects.select_related("challenge", "user")
                     .filter(pk=participation_id, status=Participation.PENDING).first())
    if participation is None:  # approved, rejected or gone since
        return 0
    challenge = participation.challenge
    addresses = organizer_addresses(challenge.organizers.all(), Profile.IMMEDIATE)
    profile = Profile.objects.filter(user=participation.user).first()
    context = {"challenge": challenge, "participant": participation.user, "profile": profile,
               "approve_url": pending_url(challenge)}
    for address in addresses:
        send("participant_pending", context, address)
    return len(addresses)
