"""REST API for a challenge's organizers: publishing, hiding and recomputing a phase's
leaderboard, as the console's phase actions do (docs/api.md, "Organizer endpoints")."""

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from challenges.models import Phase
from challenges.organizer_api import audit, organized_phase
from core.api import responses

from .models import LeaderboardSnapshot
from .services import request_refresh


class LeaderboardStateSerializer(serializers.Serializer):
    phase = serializers.UUIDField()
    is_public = serializers.BooleanField(help_text="Whether everyone sees the leaderboard.")
    computed_at = serializers.DateTimeField(allow_null=True, help_text=(
        "When the leaderboard shown now was computed; null before the first computation."))


def _state(phase: Phase) -> dict:
    computed = (LeaderboardSnapshot.objects.filter(phase=phase)
                .values_list("computed_at", flat=True).first())
    return {"phase": str(phase.id), "is_public": phase.is_public,
            "computed_at": computed.isoformat() if computed else None}


def _show(request, phase_id, *, public: bool) -> Response:
    """As the console's "Publish" and "Unpublish" actions: the same audit message, and an
    update that leaves the snapshot as it is (what the board shows does not change)."""
    phase = organized_phase(request.user, phase_id)
    audit(request, [phase], "Published the leaderboard." if public
          else "Unpublished the leaderboard.")
    Phase.objects.filter(pk=phase.pk).update(is_public=public)
    phase.is_public = public
    return Response(_state(phase))


_SHOW_DOC = {"request": None,
             "responses": responses({200: LeaderboardStateSerializer}, 403, 404)}


@extend_schema(summary="Publish the phase's leaderboard to everyone (organizers)", **_SHOW_DOC)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def leaderboard_publish(request, phase_id):
    return _show(request, phase_id, public=True)


@extend_schema(summary="Hide the phase's leaderboard from all but its organizers "
                       "(organizers)", **_SHOW_DOC)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def leaderboard_unpublish(request, phase_id):
    return _show(request, phase_id, public=False)


@extend_schema(
    summary="Recompute the phase's leaderboard soon (organizers)", request=None,
    responses=responses({202: OpenApiResponse(LeaderboardStateSerializer, (
        "Asked: a worker recomputes it; computed_at changes once it has."))}, 403, 404),
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def leaderboard_recompute(request, phase_id):
    phase = organized_phase(request.user, phase_id)
    request_refresh(phase.id)
    audit(request, [phase], "Asked to recompute the leaderboard.")
    return Response(_state(phase), status=202)


# Included under /api/v1/organizer/ by podium/urls.py.
urlpatterns = [
    path("phases/<uuid:phase_id>/leaderboard/publish/", leaderboard_publish,
         name="api-organizer-leaderboard-publish"),
    path("phases/<uuid:phase_id>/leaderboard/unpublish/", leaderboard_unpublish,
         name="api-organizer-leaderboard-unpublish"),
    path("phases/<uuid:phase_id>/leaderboard/recompute/", leaderboard_recompute,
         name="api-organizer-leaderboard-recompute"),
]
