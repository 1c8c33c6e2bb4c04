"""API rates: per address for anonymous clients, per user, and stricter for submitting."""

import pytest
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from tests import factories
from tests.factories import api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(monkeypatch):
    """Set a scope's rate for this test, with counts starting from zero."""
    cache.clear()
    yield lambda scope, rate: monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)
    cache.clear()


def assert_throttled(response):
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "throttled" in response.json()["detail"]


def test_anonymous_clients_are_throttled_per_address(rates):
    rates("anon", "2/hour")
    client = api_client()
    for _ in range(2):
        assert client.get("/api/v1/challenges/").status_code == 200
    assert_throttled(client.get("/api/v1/challenges/"))
    assert api_client().get("/api/v1/challenges/", REMOTE_ADDR="192.0.2.5").status_code == 200


def test_users_are_throttled_per_user(rates):
    rates("user", "3/hour")
    user, other = factories.user(), factories.user()
    client = api_client(user)
    for _ in range(3):
        assert client.get("/api/v1/challenges/").status_code == 200
    assert_throttled(client.get("/api/v1/challenges/"))
    assert api_client(other).get("/api/v1/challenges/").status_code == 200


def test_sending_submissions_has_a_stricter_rate(rates):
    rates("submit", "1/hour")
    phase = factories.phase()
    client = api_client(factories.participant(phase))
    url = f"/api/v1/phases/{phase.id}/submissions/"
    assert client.post(url, {}).status_code == 400  # no file, but the attempt counts
    assert_throttled(client.post(url, {}))
    assert client.get(url).status_code == 200
