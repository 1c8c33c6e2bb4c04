"""Forming teams on the challenge page: create, join with the code, leave; teams share limits."""

import pytest
from django.test import Client

from challenges.models import Participation, Team
from core.errors import Refused
from tests import factories
from tests.evaluation.helpers import cube_phase, cube_predictions_zip, submit_file

pytestmark = pytest.mark.django_db


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def team_action(user, phase, **data):
    url = f"/challenges/{phase.task.challenge.slug}/team/"
    return page_client(user).post(url, data, follow=True)


def test_create_join_and_share_the_limit(tmp_path):
    phase = cube_phase(tmp_path, submission_limit=1)
    alice, bob = factories.participant(phase, "alice"), factories.participant(phase, "bob")
    page = team_action(alice, phase, action="create", name="  Deep   Liver ")
    assert "Team Deep Liver created" in page.content.decode()
    team = Team.objects.get()
    assert team.name == "Deep Liver" and len(team.join_code) >= 12
    assert team.join_code in page.content.decode()  # shown to its members only
    outsider_page = page_client(bob).get(f"/challenges/{phase.task.challenge.slug}/")
    assert team.join_code not in outsider_page.content.decode()

    wrong = team_action(bob, phase, action="join", code="not-the-code")
    assert "no team of this challenge has that code" in wrong.content.decode()
    team_action(bob, phase, action="join", code=team.join_code)
    assert Participation.objects.get(user=bob).team == team

    submission = submit_file(phase, alice, cube_predictions_zip(tmp_path))
    assert submission.team == team and submission.participant_name == "Deep Liver"
    with pytest.raises(Refused, match="limit reached"):  # the team's limit, used by alice
        submit_file(phase, bob, cube_predictions_zip(tmp_path))


def test_names_are_unique_and_teams_are_fixed_after_submitting(tmp_path):
    phase = cube_phase(tmp_path)
    alice, bob = factories.participant(phase, "alice"), factories.participant(phase, "bob")
    team_action(alice, phase, action="create", name="Alpha")
    clash = team_action(bob, phase, action="create", name="alpha")
    assert "already exists" in clash.content.decode()
    submit_file(phase, alice, cube_predictions_zip(tmp_path))
    leave = team_action(alice, phase, action="leave")
    assert "already submitted" in leave.content.decode()
    assert Participation.objects.get(user=alice).team.name == "Alpha"


def test_pending_participants_cannot_form_teams(tmp_path):
    phase = cube_phase(tmp_path)
    pending = factories.participant(phase, "pending", status=Participation.PENDING)
    page = team_action(pending, phase, action="create", name="Early")
    assert "only accepted participants" in page.content.decode()
    assert not Team.objects.exists()
