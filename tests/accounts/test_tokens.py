"""API tokens without a shell: a user creates one on a page (its key shown that once), uses it
on the API, sees only its first characters afterwards, and revokes it; nobody touches another
user's tokens."""

import re

import pytest
from django.test import Client

from accounts.models import ApiToken
from tests import factories

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_token_is_made_shown_once_used_and_revoked():
    user = factories.user("maker")
    client = logged_in(user)
    assert 'href="/accounts/tokens/"' in client.get("/accounts/profile/").content.decode()
    created = client.post("/accounts/tokens/", {"name": "laptop", "lifetime": "30"})
    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    key = re.search(r'<code id="token-key">([^<]+)</code>', created.content.decode()).group(1)
    token = ApiToken.objects.get(user=user)
    assert token.name == "laptop" and token.expires_at is not None and key.startswith(token.prefix)

    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/challenges/").status_code == 200
    listing = client.get("/accounts/tokens/").content.decode()
    assert f"{token.prefix}…" in listing and key not in listing

    revoked = client.post(f"/accounts/tokens/{token.id}/revoke/")
    assert revoked.status_code == 302 and not ApiToken.objects.filter(pk=token.pk).exists()
    assert api.get("/api/v1/challenges/").status_code == 401


def test_nobody_sees_or_revokes_another_users_tokens():
    owner, other = factories.user("owner"), factories.user("other")
    token, _ = ApiToken.issue(owner, name="ci")
    client = logged_in(other)
    assert token.prefix not in client.get("/accounts/tokens/").content.decode()
    assert client.post(f"/accounts/tokens/{token.id}/revoke/").status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert Client().get("/accounts/tokens/").status_code == 302  # anonymous: log in first
    assert Client().post(f"/accounts/tokens/{token.id}/revoke/").status_code == 302


def test_the_number_of_tokens_is_bounded():
    user = factories.user("hoarder")
    for k in range(20):
        ApiToken.issue(user, name=f"t{k}")
    answer = logged_in(user).post("/accounts/tokens/", {"name": "one more", "lifetime": ""})
    assert "the most one may hold" in answer.content.decode()
    assert ApiToken.objects.filter(user=user).count() == 20
