"""REST API: a phase's leaderboard and a challenge's overall rankings, read from snapshots
(never recomputed on a request)."""

from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from challenges.visibility import challenge_by_key, is_organizer, leaderboard_phase

from .presentation import challenge_payload, leaderboard_payload


@api_view(["GET"])
@permission_classes([AllowAny])
def phase_leaderboard(request, phase_id):
    phase, organizer = leaderboard_phase(request.user, phase_id)
    return Response(leaderboard_payload(phase, organizer=organizer))


@api_view(["GET"])
@permission_classes([AllowAny])
def challenge_leaderboard(request, key: str):
    challenge = challenge_by_key(request.user, key)
    return Response(challenge_payload(challenge, organizer=is_organizer(request.user, challenge)))
