"""A real worker process whose database connections are terminated in the middle of scoring
(as a failover or an operator's pg_terminate_backend would) retries and finishes the
evaluation: succeeded, every case result once, the participant never told of the fault."""

import pytest
from django.db import connection

from evaluation.models import CaseResult, Evaluation, State
from evaluation.services.importing import import_task
from tests import factories
from tests.conftest import wait_for
from tests.evaluation.helpers import prediction_zip, submit_file
from tests.integration.test_worker_crash import CASES, big_task

from .conftest import postgres_only

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True), postgres_only]


def terminate_other_backends() -> int:
    """End every other connection to the test database: the worker's."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return len(cursor.fetchall())


def test_terminated_connections_mid_scoring_do_not_fail_the_evaluation(tmp_path, celery_worker):
    folder, prediction = big_task(tmp_path)
    phase = import_task(folder, challenge_slug="dropped").phase
    user = factories.participant(phase)
    archive = prediction_zip(tmp_path / "p.zip", dict.fromkeys(CASES, prediction), (0.8, 0.8, 2.5))
    evaluation = submit_file(phase, user, archive).evaluations.get()
    wait_for(lambda: Evaluation.objects.filter(pk=evaluation.pk, state=State.SCORING,
                                               cases_done__gte=1).exists(),
             timeout=120, interval=0.02, what="the worker to start scoring")
    assert terminate_other_backends() >= 1
    done = wait_for(lambda: Evaluation.objects.filter(
        pk=evaluation.pk, state__in=[State.SUCCEEDED, State.FAILED]).first(),
        timeout=180, what="the evaluation to finish")
    assert done.state == State.SUCCEEDED, done.participant_message
    assert done.attempts == 1  # retried inside the worker, not reaped
    rows = list(CaseResult.objects.filter(evaluation=done).values_list("case", "label"))
    assert len(rows) == len(set(rows)) == 2 * len(CASES)
    assert "transient fault" in celery_worker.output()
