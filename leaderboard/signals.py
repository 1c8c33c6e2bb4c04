"""Keeps snapshots current: a finished evaluation asks for its phase's leaderboard refresh."""

from evaluation.models import Evaluation, State
from evaluation.states import on_finished

from .services import request_refresh


@on_finished
def evaluation_finished(evaluation: Evaluation) -> None:
    if evaluation.state == State.SUCCEEDED:
        request_refresh(evaluation.submission.phase_id)
