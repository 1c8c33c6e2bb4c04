"""Schema-driven tests: schemathesis reads the live schema (/api/schema/) from the running
application and sends every operation generated requests, valid and malformed, as an anonymous
client, a participant and an organizer (each with a real token). No answer may be a 5xx, and
every answer must conform to the schema: its status documented, its body and headers of the
documented shape.

Deterministic (hypothesis' derandomize: the same requests on every run) and bounded
(EXAMPLES per operation and mode), so the three roles take about a minute on a 2-core machine.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from podium.wsgi import application

pytestmark = pytest.mark.django_db

EXAMPLES = 6
# A request valid by the schema may still be refused for what it means (a declined term, an
# archive without the test cases, a size over the phase's cap): 400, 409 or 413, each
# documented. So positive_data_acceptance, which wants such requests accepted, is left out.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]


@pytest.fixture(autouse=True)
def _one_connection():
    """The WSGI application serves the requests in this thread, inside the test's transaction:
    like Django's test client, keep it from closing that connection after each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def served(environ, start_response):
    """The application as a WSGI server runs it: each response read whole, then closed, which
    is when Django closes the request (its uploaded files) and sends request_finished.
    schemathesis' WSGI transport reads a response without closing it."""
    response = application(environ, start_response)
    try:
        return [b"".join(response)]
    finally:
        response.close()


def operations():
    """The operations of the schema the application serves at /api/schema/."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", served)
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 16, [op.label for op in found]
    return found


@pytest.mark.parametrize("role", ["anonymous", "participant", "organizer"])
def test_every_operation_answers_as_its_schema_says(world, role):
    failures = []
    for operation in operations():
        modes = [GenerationMode.POSITIVE]
        if operation.body or operation.query:  # malformed input beyond the credentials
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            strategy = operation.as_strategy(mode, path_parameters=world.path_parameters())

            @given(case=strategy)
            @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck), print_blob=False)
            def check(case):
                case.call_and_validate(headers=world.headers(role), excluded_checks=EXCLUDED)

            try:
                check()
            except (AssertionError, BaseExceptionGroup) as error:  # all operations reported
                failures.append(f"{operation.label} [{mode.value}]: {error}")
    assert not failures, "\n\n".join(failures)
