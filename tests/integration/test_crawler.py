"""Walk every URL pattern and API endpoint, as anonymous and as a participant, filling every
parameter with every identifier we know, and prove that no hidden label byte, storage name or
private path is ever in a response."""

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from challenges.models import Challenge, GroundTruth, Participation, Phase, Task
from core.storage import private_storage
from evaluation.models import CaseResult, Evaluation, Submission
from evaluation.services import scoring
from tests import factories
from tests.evaluation.helpers import cube_phase, cube_predictions_zip, submit_file

pytestmark = pytest.mark.django_db

_ROUTE_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_REGEX_PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def url_templates(patterns=None, prefix=""):
    """Every URL pattern as (template, parameter names), admin included."""
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        text = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from url_templates(pattern.url_patterns, prefix + text)
        elif isinstance(pattern, URLPattern):
            yield prefix + text


def concrete_urls(template: str, values: list[str]) -> set[str]:
    route = template.lstrip("^").rstrip("$").replace("\\/", "/").replace("\\.", ".")
    route = _REGEX_PARAM.sub("{}", route)
    route = _ROUTE_PARAM.sub("{}", route)
    slots = route.count("{}")
    if slots == 0:
        return {"/" + route}
    urls = set()
    for value in values:
        urls.add("/" + route.replace("{}", value, 1).replace("{}", values[0]))
        if slots > 1:
            urls.add("/" + route.replace("{}", values[0], 1).replace("{}", value))
    return urls


@pytest.fixture
def world(tmp_path):
    phase = cube_phase(tmp_path)
    alice = factories.participant(phase, "alice")
    submission = submit_file(phase, alice, cube_predictions_zip(tmp_path))
    scoring.score(submission.evaluations.get().id, worker="t")
    secrets = []
    for gt in GroundTruth.objects.all():
        for entry in gt.files.values():
            raw = private_storage().open(entry["path"]).read()
            secrets += [raw[10:42], raw[len(raw) // 2: len(raw) // 2 + 32], raw[-32:]]
            secrets += [entry["path"].encode(), entry["sha256"].encode()]
        secrets.append(gt.content_sha256.encode())
    for path in phase.task.images.values():
        secrets.append(path.encode())
    secrets += [str(settings.PRIVATE_DIR).encode(), str(settings.DATA_DIR).encode(),
                b"organizer_log", str(settings.UPLOADS_DIR).encode()]
    return phase, alice, secrets


def identifiers() -> list[str]:
    values = []
    for model in (Challenge, Task, Phase, GroundTruth, Submission, Evaluation, Participation):
        values += [str(pk) for pk in model.objects.values_list("pk", flat=True)]
    values += list(Challenge.objects.values_list("slug", flat=True))
    values += [str(pk) for pk in CaseResult.objects.values_list("pk", flat=True)[:3]]
    values += ["1", "cube_000", "challenges", "evaluation", "groundtruth", "auth", "user",
               "../private", "Task09_Cubes"]
    for gt in GroundTruth.objects.all():
        values += [entry["path"] for entry in gt.files.values()]
    return values


def test_no_response_leaks_hidden_labels(world):
    phase, alice, secrets = world
    values = identifiers()
    urls = set()
    for template in url_templates():
        urls |= concrete_urls(template, values)
    urls |= {"/media/groundtruth/", "/static/../var/private/", "/private/groundtruth/",
             f"/static/{phase.task.images['cube_000']}"}
    assert len(urls) > 300  # the walk really covers the site
    seen_ok = 0
    for who, client in (("anonymous", Client()), ("participant", Client())):
        if who == "participant":
            client.force_login(alice)
        for url in sorted(urls):
            response = client.get(url, follow=False)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            for secret in secrets:
                assert secret not in body, f"{who} GET {url} leaks {secret[:40]!r}"
            seen_ok += response.status_code == 200
    assert seen_ok > 20, seen_ok  # pages and API endpoints answered, not only 404s
