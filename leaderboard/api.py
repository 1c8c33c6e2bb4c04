"""REST API: a phase's leaderboard and a challenge's overall rankings, read from snapshots
(never recomputed on a request)."""

from django.http import Http404
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from challenges.visibility import challenge_by_key, visible_phase

from .presentation import challenge_payload, leaderboard_payload


@api_view(["GET"])
@permission_classes([AllowAny])
def phase_leaderboard(request, phase_id):
    phase = visible_phase(request.user, phase_id)
    organizer = phase.challenge.is_organizer(request.user)
    if not (phase.is_public or organizer):
        raise Http404
    return Response(leaderboard_payload(phase, organizer=organizer))


@api_view(["GET"])
@permission_classes([AllowAny])
def challenge_leaderboard(request, key: str):
    challenge = challenge_by_key(request.user, key)
    return Response(challenge_payload(challenge, organizer=challenge.is_organizer(request.user)))
