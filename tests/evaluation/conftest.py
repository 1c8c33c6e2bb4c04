"""Fixtures of the evaluation tests: the imported cube task's phase, a participant, and a
queued evaluation."""

import pytest

from tests import factories

from .helpers import cube_phase


@pytest.fixture
def phase(tmp_path):
    return cube_phase(tmp_path)


@pytest.fixture
def user(phase):
    return factories.participant(phase)


@pytest.fixture
def evaluation():
    """A queued evaluation of a placeholder submission (nothing to score: for state tests)."""
    phase = factories.phase()
    _, evaluation = factories.submission(phase, factories.participant(phase))
    return evaluation
