"""A database connection dropped in the middle of scoring is retried with backoff and does
not fail the participant's evaluation; the retry resumes the shard it held and writes every
case result exactly once."""

import psycopg
import pytest
from django.db import connection

from evaluation.models import CaseResult, Evaluation, State
from evaluation.services import scoring

from .conftest import postgres_only, scored

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True), postgres_only]


def terminate(pid: int) -> None:
    """End backend ``pid`` from a connection of its own, as an operator or a failover would."""
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"],
                         password=db["PASSWORD"] or None, dbname=db["NAME"],
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_a_dropped_connection_mid_scoring_is_retried_not_failed(queued, monkeypatch,
                                                                 settings):
    settings.PODIUM_SCORING_SHARD_CASES = 1  # two shards: the drop comes after the first one
    real_heartbeat = scoring.heartbeat
    dropped = []

    def heartbeat_after_a_drop(*args, **kwargs):
        if not dropped:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                dropped.append(cursor.fetchone()[0])
            terminate(dropped[0])
        return real_heartbeat(*args, **kwargs)

    monkeypatch.setattr(scoring, "heartbeat", heartbeat_after_a_drop)
    done = scored(queued)
    assert dropped, "the connection was never dropped"
    assert done.state == State.SUCCEEDED, done.participant_message
    assert done.attempts == 1
    rows = list(CaseResult.objects.filter(evaluation=done).values_list("case", "label"))
    assert len(rows) == len(set(rows)) == 2 * 2  # two cases, two labels, none twice
    assert Evaluation.objects.get(pk=done.pk).cases_done == 2
