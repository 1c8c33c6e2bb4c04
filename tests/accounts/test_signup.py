"""Sign-up, email verification and login by username or email address, over real SMTP."""

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

from accounts.models import Profile
from tests import factories

from .pages import PASSWORD, confirm, log_in, logged_in, sign_up

pytestmark = pytest.mark.django_db


def test_sign_up_verify_by_mail_then_log_in_by_email_and_by_username(mailbox):
    client = Client()
    assert client.get("/accounts/signup/").status_code == 200
    response = sign_up(client, "ada", "Ada@Example.org", full_name="Ada Lovelace",
                       affiliation="Analytical Engines Ltd")
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    assert not logged_in(client)
    user = get_user_model().objects.get(username="ada")
    assert Profile.objects.get(user=user).affiliation == "Analytical Engines Ltd"

    # Not before the address is verified: the login sends the link again instead.
    refused = log_in(Client(), "ada")
    assert refused.status_code == 302 and refused["Location"] == "/accounts/confirm-email/"
    assert not EmailAddress.objects.get(user=user).verified

    message = mailbox.wait_for("ada@example.org")
    assert message["Subject"].startswith("[Podium] ")
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Hello from Podium (") and "\n-- \r\nPodium, " in body
    assert confirm(client, mailbox, "ada@example.org").status_code == 302
    assert EmailAddress.objects.get(user=user).verified

    by_email = Client()
    assert log_in(by_email, "ADA@example.org").status_code == 302 and logged_in(by_email)
    assert by_email.post("/accounts/logout/").status_code == 302
    assert not logged_in(by_email)
    by_username = Client()
    assert log_in(by_username, "ada").status_code == 302 and logged_in(by_username)
    assert log_in(Client(), "ada", "wrong-password").status_code == 200


def test_an_unverified_account_cannot_log_in(mailbox):
    assert sign_up(Client(), "bea", "bea@example.org").status_code == 302
    for login in ("bea", "bea@example.org"):
        client = Client()
        response = log_in(client, login)
        assert response.status_code == 302 and not logged_in(client)
        page = client.get(response["Location"])
        assert "Verify Your Email Address" in page.content.decode()
    assert client.get("/accounts/profile/").status_code == 302


def test_a_taken_email_address_is_refused_and_its_owner_told(mailbox):
    assert sign_up(Client(), "cy", "cy@example.org").status_code == 302
    mailbox.wait_for("cy@example.org")
    cache.clear()  # later than allauth's cool-off of one mail per address per 3 minutes
    again = sign_up(Client(), "cy2", "CY@example.org")
    # The page is the same as for a new address (it tells no one whether an address has an
    # account); the account is not made, and the address's owner gets a mail saying so.
    assert again.status_code == 302 and again["Location"] == "/accounts/confirm-email/"
    assert not get_user_model().objects.filter(username="cy2").exists()
    notice = mailbox.wait_for("cy@example.org", 2)
    assert "already" in notice.get_body(("plain",)).get_content()
    taken = sign_up(Client(), "cy", "other@example.org")
    assert taken.status_code == 200 and "already exists" in taken.content.decode()


def test_accounts_an_organizer_made_without_an_address_log_in_as_before():
    factories.user("made-by-organizer", password=PASSWORD)
    client = Client()
    assert log_in(client, "made-by-organizer").status_code == 302 and logged_in(client)
