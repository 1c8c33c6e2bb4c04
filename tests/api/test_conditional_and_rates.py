"""Leaderboards answer 304 to a client that has the current copy (ETag / If-None-Match), a
new snapshot or another viewer's view is another tag; past a rate every endpoint answers 429
with Retry-After; a body of the wrong type answers 415 and malformed JSON 400, never 5xx."""

import pytest
from rest_framework.throttling import SimpleRateThrottle

from leaderboard import services
from tests import factories
from tests.factories import api_client
from tests.leaderboard.helpers import random_board

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/phases/{phase}/leaderboard/",
                                  "/api/v1/challenges/{slug}/leaderboard/"])
def test_an_unchanged_leaderboard_answers_304_without_a_body(world, path):
    url = path.format(phase=world.phase.id, slug=world.challenge.slug)
    client = api_client()
    first = client.get(url)
    assert first.status_code == 200 and first.json()["computed_at"]
    etag = first["ETag"]
    assert etag.startswith('"') and first["Cache-Control"] == "private, no-cache"
    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    # The weak form GZipMiddleware gives a compressed answer's tag matches too.
    assert client.get(url, HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304
    assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_a_new_snapshot_or_an_organizers_view_is_another_tag(world):
    url = f"/api/v1/phases/{world.phase.id}/leaderboard/"
    world.phase.show_scores = False
    world.phase.save()
    public = api_client().get(url)
    assert all("score" not in entry for entry in public.json()["entries"])
    organizer = api_client(world.challenge.organizers.get()).get(
        url, HTTP_IF_NONE_MATCH=public["ETag"])
    assert organizer.status_code == 200 and "score" in organizer.json()["entries"][0]
    assert organizer["ETag"] != public["ETag"]

    random_board(world.phase, 1, seed=7, names=["late-entrant"])
    services.refresh(world.phase.id)
    fresh = api_client().get(url, HTTP_IF_NONE_MATCH=public["ETag"])
    assert fresh.status_code == 200 and fresh["ETag"] != public["ETag"]
    assert "late-entrant" in {entry["entrant"] for entry in fresh.json()["entries"]}


def test_gzip_keeps_the_tag_and_the_304(world):
    url = f"/api/v1/phases/{world.phase.id}/leaderboard/"
    first = api_client().get(url, HTTP_ACCEPT_ENCODING="gzip")
    assert first["Content-Encoding"] == "gzip" and first["ETag"].startswith('W/"')
    again = api_client().get(url, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


@pytest.fixture
def rate(monkeypatch):
    return lambda scope, value: monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope,
                                                    value)


def test_past_the_rate_a_leaderboard_answers_429_with_retry_after(world, rate):
    rate("anon", "3/minute")
    url = f"/api/v1/phases/{world.phase.id}/leaderboard/"
    client = api_client()
    assert [client.get(url).status_code for _ in range(3)] == [200] * 3
    throttled = client.get(url)
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert throttled.json()["detail"].startswith("Request was throttled.")


@pytest.mark.parametrize("content_type, body, status, message", [
    ("application/json", b'[{"file_name": "a.zip", "size": 3}]', 400, "send a JSON object"),
    ("application/json", b'{"file_name": "a.zip", "size": "3 bytes"}', 400,
     "size: A valid integer is required."),
    ("application/json", b'{"file_name": "a.zip", "size": 1' + b"0" * 5000 + b"}", 400,
     "JSON parse error"),
    ("application/json", b'{"file_name": "a.zip", "size": 1e999}', 400,
     "size: A valid integer is required."),
    ("application/json", b'{"file_name": "a.zip",', 400, "JSON parse error"),
    ("application/x-www-form-urlencoded", b"file_name=a.zip&size=3", 415,
     'Unsupported media type "application/x-www-form-urlencoded"'),
    ("text/plain", b"a.zip 3", 415, 'Unsupported media type "text/plain"'),
])
def test_a_malformed_body_answers_4xx_with_a_message(content_type, body, status, message):
    phase = factories.phase()
    client = api_client(factories.participant(phase))
    response = client.generic("POST", f"/api/v1/phases/{phase.id}/uploads/", body,
                              content_type=content_type)
    assert response.status_code == status
    assert message in response.json()["detail"]


def test_a_huge_size_is_refused_as_too_large_not_a_server_error():
    phase = factories.phase()
    client = api_client(factories.participant(phase))
    response = client.post(f"/api/v1/phases/{phase.id}/uploads/",
                           {"file_name": "a.zip", "size": 10**40}, format="json")
    assert response.status_code == 413 and "larger than" in response.json()["detail"]


def test_an_unknown_api_path_answers_json_404():
    response = api_client().get("/api/v1/phases/not-a-uuid/")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "no API endpoint at this path (the endpoints: /api/schema/)"}
    assert "<h1>Not found</h1>" in api_client().get("/no-such-page/").content.decode()


def test_a_server_error_under_the_api_answers_json_and_echoes_nothing(client, monkeypatch):
    from challenges import api as challenges_api

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail /srv/podium/private/labels")

    monkeypatch.setattr(challenges_api.Challenge.objects, "filter", broken)
    client.raise_request_exception = False
    response = client.get("/api/v1/challenges/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert "try again" in response.json()["detail"]
    assert "secret" not in response.content.decode()
    page = client.get("/")
    assert page.status_code == 500 and "Something went wrong" in page.content.decode()
