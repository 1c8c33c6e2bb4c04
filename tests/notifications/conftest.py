"""The real SMTP server process of the account tests (tests/accounts/conftest.py), and rows for
mail: users with verified addresses, organizers, finished evaluations."""

import pytest
from allauth.account.models import EmailAddress

from accounts.models import Profile
from evaluation.models import State
from tests import factories
from tests.accounts.conftest import mailbox  # noqa: F401  (the fixture, shared)

AGGREGATE = {"1": {"dice": 0.876543, "hd95": 3.14159}}


def body(message) -> str:
    """The plain-text body of a received message."""
    return message.get_body(("plain",)).get_content()


def with_address(user, address: str | None = None, *, verified: bool = True, **preferences):
    """``user`` with a primary address (``<username>@example.org`` unless given) and the mail
    ``preferences`` set on their profile."""
    EmailAddress.objects.create(user=user, email=address or f"{user.username}@example.org",
                                verified=verified, primary=True)
    if preferences:
        Profile.objects.update_or_create(user=user, defaults=preferences)
    return user


def organizer_of(phase, username: str, **preferences):
    """A new user with a verified address who organizes ``phase``'s challenge."""
    user = with_address(factories.user(username), **preferences)
    phase.task.challenge.organizers.add(user)
    return user


def finished(phase, creator, state: str = State.SUCCEEDED, **fields):
    """A submission of ``creator`` whose evaluation is in ``state`` (succeeded: with results)."""
    if state == State.SUCCEEDED:
        fields.setdefault("aggregate", AGGREGATE)
    return factories.submission(phase, creator, state=state, **fields)


@pytest.fixture
def phase():
    return factories.phase(slug="notified", metrics=["dice", "hd95"], public_score_decimals=2)
