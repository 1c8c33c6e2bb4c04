"""The entrant of a phase: a team, or a participant without one. Its submissions, and the row
that serialises them (the limit and duplicate checks run with it locked)."""

from challenges.models import Participation, Team

from ..models import Submission


def submissions_of(phase_id, *, team_id, user_id):
    """The entrant's submissions to the phase: its team's, else the user's own without a team."""
    submissions = Submission.objects.filter(phase_id=phase_id)
    if team_id:
        return submissions.filter(team_id=team_id)
    return submissions.filter(creator_id=user_id, team__isnull=True)


def lock(*, challenge_id, team_id, user_id) -> None:
    """Lock the entrant's row (inside a transaction): the team, else the participation."""
    if team_id:
        Team.objects.select_for_update().get(pk=team_id)
    else:
        Participation.objects.select_for_update().filter(
            challenge_id=challenge_id, user_id=user_id).first()
