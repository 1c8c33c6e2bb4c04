"""Mail to users: who has an address that may receive it, and sending a message rendered from
the plain-text templates in ``templates/email/`` (``<name>_subject.txt`` and ``<name>.txt``).

Called from Celery tasks only, never in a request or inside the transaction whose outcome the
mail reports (docs/notifications.md)."""

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from .models import Profile


def verified_address(user) -> str | None:
    """``user``'s primary address if it is verified, else another verified one; None when
    they have no verified address (such a user gets no mail)."""
    return (EmailAddress.objects.filter(user=user, verified=True)
            .order_by("-primary", "id").values_list("email", flat=True).first())


def preferences(user) -> Profile:
    """``user``'s mail preferences: their profile, or the defaults if they have none."""
    return Profile.objects.filter(user=user).first() or Profile(user=user)


def organizer_addresses(organizers, choice: str) -> list[str]:
    """The verified addresses of the ``organizers`` whose organizer mail choice is ``choice``."""
    addresses = (verified_address(user) for user in organizers
                 if preferences(user).organizer_digest == choice)
    return sorted({address for address in addresses if address})


def absolute(path: str) -> str:
    """A link for a mail: ``path`` on PODIUM_BASE_URL (a mail has no request to take it from)."""
    return settings.PODIUM_BASE_URL.rstrip("/") + path


def send(template: str, context: dict, to: str) -> None:
    """Render ``template`` with ``context`` and send it to one address (one message per
    recipient: organizers never see each other's addresses)."""
    subject = " ".join(render_to_string(f"email/{template}_subject.txt", context).split())
    body = render_to_string(f"email/{template}.txt", context)
    EmailMessage(settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body, to=[to]).send()
