"""Authentication: the login lockout (pages and admin) and hashed REST API tokens."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts import lockout
from accounts.models import ApiToken, LoginFailure
from tests import factories

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed logins; try again in 15 minutes."


def log_in(client: Client, username: str, password: str, *, url="/accounts/login/", **extra):
    # allauth's login page names its field "login" (a username or an email address).
    field = "username" if url.startswith("/admin/") else "login"
    return client.post(url, {field: username, "password": password}, **extra)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_failed_logins_lock_the_username_and_address_even_for_the_right_password(settings):
    settings.PODIUM_LOGIN_FAILURE_LIMIT = 5
    settings.PODIUM_LOGIN_COOLOFF_S = 900
    factories.user("alice", password="right-password")
    client = Client()
    for _ in range(4):
        response = log_in(client, "alice", "wrong")
        assert response.status_code == 200
        assert "did not match" in response.content.decode()
    fifth = log_in(client, "alice", "wrong")
    assert fifth.status_code == 429 and LOCKED in fifth.content.decode()
    right = log_in(client, "alice", "right-password")
    assert right.status_code == 429 and LOCKED in right.content.decode()
    assert 0 < int(right["Retry-After"]) <= 900
    assert not logged_in(client)
    # The address is the connection's, not a header the client chooses.
    spoofed = log_in(client, "alice", "right-password", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert spoofed.status_code == 429
    # Another address may still log in; after the cool-off this one may too.
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    assert log_in(elsewhere, "alice", "right-password").status_code == 302
    LoginFailure.objects.update(last_failed_at=timezone.now() - timedelta(seconds=901))
    assert log_in(client, "alice", "right-password").status_code == 302
    assert logged_in(client)
    assert not LoginFailure.objects.filter(username="alice").exists()


def test_one_address_trying_many_usernames_is_locked_out_for_all(settings):
    settings.PODIUM_LOGIN_FAILURE_LIMIT = 5
    settings.PODIUM_LOGIN_ADDRESS_FAILURE_LIMIT = 6
    factories.user("carol", password="right-password")
    client = Client()
    for name in ("u1", "u2", "u1", "u2", "u3"):  # no single pair reaches its limit
        assert log_in(client, name, "guess").status_code == 200
    assert log_in(client, "u3", "guess").status_code == 429  # the address's sixth failure
    refused = log_in(client, "carol", "right-password")
    assert refused.status_code == 429 and LOCKED in refused.content.decode()
    assert log_in(Client(REMOTE_ADDR="198.51.100.8"), "carol", "right-password").status_code == 302


def test_a_successful_login_clears_the_count(settings):
    settings.PODIUM_LOGIN_FAILURE_LIMIT = 5
    factories.user("bob", password="right-password")
    for _ in range(2):
        client = Client()
        for _ in range(4):
            assert log_in(client, "bob", "wrong").status_code == 200
        assert log_in(client, "bob", "right-password").status_code == 302


def test_attempts_in_flight_count_against_the_limit(settings):
    """Each attempt is counted before its password is checked, so a burst of parallel attempts
    cannot try more passwords than the limit."""
    settings.PODIUM_LOGIN_FAILURE_LIMIT = 3
    factories.user("dave", password="right-password")
    for _ in range(3):
        assert lockout.count_attempt("dave", "127.0.0.1") == 0  # three checks under way
    assert lockout.count_attempt("dave", "127.0.0.1") > 0
    assert log_in(Client(), "dave", "right-password").status_code == 429


def test_the_admin_login_is_locked_too(settings):
    settings.PODIUM_LOGIN_FAILURE_LIMIT = 3
    factories.user("root", password="right-password", staff=True)
    client = Client()
    for _ in range(3):
        log_in(client, "root", "wrong", url="/admin/login/")
    response = log_in(client, "root", "right-password", url="/admin/login/")
    assert response.status_code == 429
    assert "Too many failed logins; try again in" in response.content.decode()
    assert not logged_in(client)
    assert client.get("/admin/").status_code == 302  # to the login page


def test_api_token_is_stored_hashed_and_shown_only_once(capsys):
    user = factories.user("carol")
    call_command("api_token", "carol", "--name", "laptop")
    key = capsys.readouterr().out.strip()
    row = ApiToken.objects.filter(user=user).values().get()
    assert len(key) >= 40
    assert not any(key in str(value) for value in row.values())
    assert row["prefix"] == key[:8] and row["name"] == "laptop"
    phase = factories.phase()
    url = f"/api/v1/phases/{phase.id}/submissions/"
    assert Client().get(url, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    assert Client().get(url, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    assert ApiToken.objects.get(user=user).last_used_at is not None


def test_wrong_expired_and_inactive_tokens_are_refused():
    phase = factories.phase()
    url = f"/api/v1/phases/{phase.id}/submissions/"
    user = factories.user()
    key = factories.token(user)

    def status(header: str) -> int:
        response = Client().get(url, HTTP_AUTHORIZATION=header)
        if response.status_code == 401:
            assert response.json()["detail"] and response["WWW-Authenticate"] == "Token"
        return response.status_code

    assert status(f"Token {key}") == 200
    assert status(f"Token {key}x") == 401
    assert status(f"Token {key[:8]}") == 401
    assert status("Token") == 401
    assert status("Token a b") == 401
    assert status("Token \u00e9t\u00e9") == 401
    assert status(f"Token {factories.token(user, expires_at=timezone.now())}") == 401
    assert status(f"Token {factories.token(user, expires_at=timezone.now() + timedelta(days=1))}"
                  ) == 200
    user.is_active = False
    user.save()
    assert status(f"Token {key}") == 401


def test_the_console_lists_tokens_without_their_keys():
    user = factories.user()
    key = factories.token(user, name="ci")
    token = ApiToken.objects.get(user=user)
    client = Client()
    client.force_login(factories.user(staff=True))
    for url in ("/admin/accounts/apitoken/", f"/admin/accounts/apitoken/{token.pk}/change/"):
        page = client.get(url)
        assert page.status_code == 200 and token.prefix in page.content.decode()
        assert key not in page.content.decode() and token.key_hash not in page.content.decode()
