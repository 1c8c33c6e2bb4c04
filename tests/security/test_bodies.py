"""No input answers 5xx: malformed request bodies on every API URL, empty admin add forms."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiToken
from challenges.models import Team
from evaluation import uploads
from tests import factories

pytestmark = pytest.mark.django_db

JSON = "application/json"
BODIES = [
    (JSON, b"[]"),
    (JSON, b'"str"'),
    (JSON, b"123"),
    (JSON, b"null"),
    (JSON, b"{"),
    (JSON, b"\xff\xfe\x00{\xc3("),
    (JSON, b"1" * 5000),
    (JSON, b"1e999"),
    (JSON, b"[" * 100_000 + b"]" * 100_000),
    (JSON, b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
    (JSON, b'{"accept_terms": {"yes": 1}, "description": ["x"], "file": 3}'),
    (JSON, b'{"accept_terms": "maybe", "description": null}'),
    (JSON, b'{"accept_terms": 1e999, "description": "' + b"x" * 10_000 + b'"}'),
    ("application/x-www-form-urlencoded", b"\xff\xfe=%ff&accept_terms=%zz&description=%00"),
    ("multipart/form-data; boundary=xx", b"--xx\r\n\xff\xfe garbage"),
    ("multipart/form-data", b"no boundary"),
    ("text/plain", b"accept_terms=true"),
]


def api_patterns() -> list[URLPattern]:
    """The URL patterns under /api/v1/, nested includes flattened (their converters kept)."""
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and str(entry.pattern) == "api/v1/":
            return list(_flatten(entry.url_patterns))
    raise AssertionError("no api/v1/ include in the URL map")


def _flatten(entries):
    for entry in entries:
        if isinstance(entry, URLResolver):
            yield from _flatten(entry.url_patterns)
        else:
            yield entry


@pytest.fixture
def world():
    """A phase with an organizer, an accepted participant and the participant's submission."""
    phase = factories.phase(slug="bodies")
    organizer = factories.user("organizer-of-bodies")
    phase.task.challenge.organizers.add(organizer)
    participant = factories.participant(phase, "participant-of-bodies")
    submission, _ = factories.submission(phase, participant)
    params = {"key": phase.task.challenge.slug, "phase_id": phase.id,
              "submission_id": submission.id,
              "upload_id": uploads.start(phase=phase, user=participant, file_name="x", size=9).id,
              "token_id": ApiToken.issue(participant, name="bodies")[0].id,
              "task_key": phase.task.key, "name": "overview",
              "team_id": Team.objects.create(challenge=phase.task.challenge, name="bodies").id,
              "evaluation_id": submission.evaluations.get().id,
              "version": phase.active_ground_truth.version}
    return params, {"participant": participant, "organizer": organizer}


@pytest.fixture(autouse=True)
def no_throttling(monkeypatch):
    """Every request must reach the view: no rate applies during this test."""
    for scope in list(SimpleRateThrottle.THROTTLE_RATES):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, None)


def test_malformed_bodies_never_answer_5xx(world):
    params, users = world
    clients = {"anonymous": Client(raise_request_exception=False)}
    for role, user in users.items():
        clients[role] = Client(raise_request_exception=False)
        clients[role].force_login(user)
    failures = []
    patterns = api_patterns()
    assert len(patterns) >= 9
    for pattern in patterns:
        names = set(pattern.pattern.converters)
        assert names <= set(params), f"fill {names - set(params)} for {pattern.name}"
        url = reverse(pattern.name, kwargs={n: params[n] for n in names})
        methods = pattern.callback.cls().allowed_methods
        for method in methods:
            for content_type, body in BODIES:
                for role, client in clients.items():
                    response = client.generic(method, url, body, content_type=content_type)
                    if response.status_code >= 500:
                        failures.append(f"{role} {method} {url} {content_type} {body[:20]!r}: "
                                        f"{response.status_code}")
    assert not failures, "\n".join(failures)


def test_malformed_bodies_answer_400_with_a_message(world):
    params, _ = world
    client = Client(raise_request_exception=False)
    client.force_login(factories.user("newcomer-of-bodies"))
    url = reverse("api-challenge-join", kwargs={"key": params["key"]})
    for body in (b"[]", b'"str"', b"123", b"null", b"{", b"[" * 100_000 + b"]" * 100_000,
                 b'{"accept_terms": {"yes": 1}}', b'{"accept_terms": "maybe"}'):
        response = client.post(url, body, content_type=JSON)
        assert response.status_code == 400, body[:20]
        assert response.json()["detail"], body[:20]
    assert client.post(url, b'{"accept_terms": "yes"}', content_type=JSON).status_code == 201


def test_every_admin_add_form_saved_empty_shows_errors_or_is_forbidden():
    client = Client(raise_request_exception=False)
    superuser = factories.user("root-of-bodies", staff=True)
    client.force_login(superuser)
    failures = []
    for model in admin.site._registry:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
        response = client.post(url, {})
        if response.status_code >= 500:
            failures.append(f"{url}: {response.status_code}")
        elif response.status_code == 200:
            form = response.context["adminform"].form
            if not form.errors:
                failures.append(f"{url}: saved an empty form")
        elif response.status_code != 403:
            failures.append(f"{url}: {response.status_code}")
    assert not failures, "\n".join(failures)
