"""The login lockout on allauth's login page: a username and its email address count together."""

import pytest
from django.test import Client

from accounts.models import LoginFailure
from tests import factories

from .pages import log_in, logged_in, verified_user

pytestmark = pytest.mark.django_db


def test_failures_by_username_and_by_email_address_lock_the_account_with_429(mailbox, settings):
    settings.PODIUM_LOGIN_FAILURE_LIMIT = 4
    settings.PODIUM_LOGIN_COOLOFF_S = 900
    verified_user(mailbox, "gil", "gil@example.org")
    client = Client()
    for login in ("gil", "GIL@example.org", "gil"):
        assert log_in(client, login, "wrong").status_code == 200
    assert log_in(client, "gil@example.org", "wrong").status_code == 429  # the fourth failure
    assert LoginFailure.objects.get().username == "gil"
    for login in ("gil", "gil@example.org"):
        locked = log_in(client, login)  # the right password
        assert locked.status_code == 429 and not logged_in(client)
        assert 0 < int(locked["Retry-After"]) <= 900
        assert "Too many failed logins; try again in 15 minutes." in locked.content.decode()
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    assert log_in(elsewhere, "gil@example.org").status_code == 302 and logged_in(elsewhere)


def test_an_address_of_no_account_is_counted_as_typed(settings):
    settings.PODIUM_LOGIN_FAILURE_LIMIT = 2
    client = Client()
    assert log_in(client, "Nobody@Example.org", "guess").status_code == 200
    assert log_in(client, "nobody@example.org", "guess").status_code == 429
    assert LoginFailure.objects.get().username == "nobody@example.org"


def test_an_account_made_with_only_a_user_email_counts_as_one_too(settings):
    settings.PODIUM_LOGIN_FAILURE_LIMIT = 2
    user = factories.user("lea", password="lea-password")
    user.email = "lea@example.org"
    user.save()
    client = Client()
    assert log_in(client, "lea@example.org", "wrong").status_code == 200
    assert log_in(client, "lea", "wrong").status_code == 429
    assert log_in(Client(REMOTE_ADDR="198.51.100.9"), "lea@example.org", "lea-password"
                  ).status_code == 302
