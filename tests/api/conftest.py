"""A small world for the API tests: a challenge with a ranked phase (two phases, so the
overall ranking has rows), an organizer, an accepted participant with a scored submission and
an open upload, and each role's token."""

from dataclasses import dataclass

import pytest

from challenges.models import Challenge, Phase, Team
from evaluation import uploads
from evaluation.models import Submission
from leaderboard import services
from tests import factories
from tests.leaderboard.helpers import challenge_phases, random_board


@dataclass
class World:
    challenge: Challenge
    phase: Phase
    submission: Submission
    tokens: dict[str, str | None]
    upload_id: str
    team_id: str

    def path_parameters(self) -> dict[str, str]:
        """Real ids for every path parameter of the API, so requests reach real objects."""
        return {"key": self.challenge.slug, "phase_id": str(self.phase.id),
                "submission_id": str(self.submission.id), "upload_id": self.upload_id,
                "task_key": self.phase.task.key, "name": "overview", "team_id": self.team_id,
                "evaluation_id": str(self.submission.evaluations.get().id)}

    def headers(self, role: str) -> dict[str, str]:
        """The role's token; and no gzip, which schemathesis' WSGI transport does not undo."""
        token = self.tokens[role]
        auth = {"Authorization": f"Token {token}"} if token else {}
        return {"Accept-Encoding": "identity", **auth}


@pytest.fixture
def world(db) -> World:
    phases = challenge_phases(["Task01_A", "Task02_B"], cases=["c0", "c1", "c2"], slug="world",
                              show_case_results=True, bootstrap_samples=20)
    for phase in phases:
        random_board(phase, 3, seed=1, names=[f"{phase.task.key}-p{k}" for k in range(3)])
        services.refresh(phase.id)
    phase = phases[0]
    challenge = phase.task.challenge
    services.refresh_challenge(challenge.id)
    organizer = factories.user("world-organizer")
    challenge.organizers.add(organizer)
    participant = factories.participant(phase, "world-participant")
    submission, _ = factories.submission(phase, participant, state="queued")
    upload = uploads.start(phase=phase, user=participant, file_name="preds.zip", size=64)
    # A team the participant is not in: its organizer sees it, the participant gets 404.
    team = Team.objects.create(challenge=challenge, name="world-team")
    tokens = {"anonymous": None, "participant": factories.token(participant),
              "organizer": factories.token(organizer)}
    return World(challenge, phase, submission, tokens, str(upload.id), str(team.id))
