"""API tokens through the API (accounts/token_api.py): a user lists, creates and revokes their
own tokens; the key is in the creating answer only and never in the database; a token that
expires cannot create one that outlives it."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, hash_key
from tests import factories

pytestmark = pytest.mark.django_db


def with_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_create_list_use_and_revoke():
    user = factories.user("scripter")
    key = factories.token(user, name="laptop")
    api = with_key(key)
    created = api.post("/api/v1/tokens/", {"name": "CI", "expires_in_days": 30}, format="json")
    assert created.status_code == 201, created.content
    assert created["Cache-Control"] == "no-store"
    body = created.json()
    new_key = body["key"]
    assert body["name"] == "CI" and new_key.startswith(body["prefix"]) and not body["current"]
    expires = timezone.datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    stored = ApiToken.objects.get(pk=body["id"])
    assert stored.key_hash == hash_key(new_key)
    assert new_key not in {value for row in ApiToken.objects.values() for value in row.values()}

    listed = with_key(new_key).get("/api/v1/tokens/").json()
    assert listed["count"] == 2 and listed["next"] is None
    rows = {row["name"]: row for row in listed["results"]}
    assert rows["CI"]["current"] and not rows["laptop"]["current"]
    assert all("key" not in row for row in listed["results"])
    assert with_key(new_key).get(f"/api/v1/tokens/{body['id']}/").json()["prefix"] == \
        body["prefix"]

    assert api.post(f"/api/v1/tokens/{body['id']}/revoke/").status_code == 204
    refused = with_key(new_key).get("/api/v1/tokens/")
    assert refused.status_code == 401 and refused.json() == {"detail": "invalid token"}
    laptop = ApiToken.objects.get(user=user).id
    assert api.delete(f"/api/v1/tokens/{laptop}/").status_code == 204  # itself, by DELETE
    assert not ApiToken.objects.filter(user=user).exists()


def test_nobody_sees_or_revokes_another_users_tokens():
    owner, other = factories.user("owner"), factories.user("other")
    token, _ = ApiToken.issue(owner, name="ci")
    api = with_key(factories.token(other))
    assert [row["name"] for row in api.get("/api/v1/tokens/").json()["results"]] == [""]
    for answer in (api.get(f"/api/v1/tokens/{token.id}/"),
                   api.delete(f"/api/v1/tokens/{token.id}/"),
                   api.post(f"/api/v1/tokens/{token.id}/revoke/")):
        assert answer.status_code == 404
        assert answer.json() == {"detail": f"you have no token with id {token.id}"}
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert APIClient().get("/api/v1/tokens/").status_code == 401
    assert APIClient().post("/api/v1/tokens/", {}, format="json").status_code == 401


def test_an_expiring_token_creates_no_token_that_outlives_it():
    user = factories.user("careful")
    api = with_key(factories.token(user, expires_at=timezone.now() + timedelta(days=10)))
    for body in ({}, {"expires_in_days": None}, {"expires_in_days": 11}):
        refused = api.post("/api/v1/tokens/", body, format="json")
        assert refused.status_code == 403, body
        assert "must expire by then (expires_in_days at most 9)" in refused.json()["detail"]
    assert api.post("/api/v1/tokens/", {"expires_in_days": 9}, format="json").status_code == 201
    # Logged in with the password (the page's session): any lifetime.
    session = APIClient()
    session.force_login(user)
    assert session.post("/api/v1/tokens/", {}, format="json").json()["expires_at"] is None


@pytest.mark.parametrize("body, message", [
    ({"expires_in_days": 0}, "expires_in_days: Ensure this value is greater than or equal to 1."),
    ({"expires_in_days": "soon"}, "expires_in_days: A valid integer is required."),
    ({"name": "x" * 101}, "name: Ensure this field has no more than 100 characters."),
    (["name"], "send a JSON object (fields: name, expires_in_days), not an array"),
])
def test_a_bad_body_answers_400_with_the_reason(body, message):
    api = with_key(factories.token(factories.user()))
    answer = api.post("/api/v1/tokens/", body, format="json")
    assert answer.status_code == 400 and answer.json() == {"detail": message}


def test_the_number_of_tokens_is_bounded():
    user = factories.user("hoarder")
    api = with_key(factories.token(user))
    for k in range(19):
        ApiToken.issue(user, name=f"t{k}")
    refused = api.post("/api/v1/tokens/", {"name": "one more"}, format="json")
    assert refused.status_code == 429 and "the most one may hold" in refused.json()["detail"]
    assert ApiToken.objects.filter(user=user).count() == 20
