"""Fixtures of the evaluation tests: the imported cube task's phase and a participant."""

import pytest

from tests import factories

from .helpers import cube_phase


@pytest.fixture
def phase(tmp_path):
    return cube_phase(tmp_path)


@pytest.fixture
def user(phase):
    return factories.participant(phase)
