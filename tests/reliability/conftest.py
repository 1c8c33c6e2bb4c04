"""Fixtures of the reliability tests: the imported cube task's phase, a participant, and a
scored helper."""

import pytest
from django.db import connection

from evaluation.models import Evaluation
from evaluation.services import scoring
from tests import factories
from tests.evaluation.helpers import cube_phase, cube_predictions_zip, submit_file


@pytest.fixture
def phase(tmp_path):
    return cube_phase(tmp_path)


@pytest.fixture
def user(phase):
    return factories.participant(phase)


@pytest.fixture
def queued(tmp_path, phase, user) -> Evaluation:
    """A queued evaluation of a valid two-case prediction archive."""
    return submit_file(phase, user, cube_predictions_zip(tmp_path)).evaluations.get()


def scored(evaluation: Evaluation) -> Evaluation:
    """Score ``evaluation`` in this process, as a worker would, and read it back."""
    scoring.score(evaluation.id, worker="test")
    return Evaluation.objects.get(pk=evaluation.pk)

# Tests that terminate PostgreSQL backends run on the stack only (test.sh's second run).
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="terminates PostgreSQL backends (run with DATABASE_URL=postgres://...)")
