"""REST API for a challenge's organizers, the console's actions over HTTP (docs/api.md,
"Organizer endpoints"): here the participants (list, approve, reject) and what the organizer
endpoints of every app share — who may act, and the audit log.

Who may act is the query layer's decision (:mod:`challenges.visibility`): a challenge the caller
cannot see answers 404, one they see but do not organize 403. Every write is recorded with the
console's own audit (:meth:`challenges.console.ChallengeScopedAdmin.audit`), so that what is done
through the API appears in the console's audit log beside what is done there.
"""

from django.contrib import admin
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core.api import PageSerializer, page_of, paginated, query, responses, validated
from core.errors import InvalidInput, Refused

from .admin import participant_profile
from .models import Challenge, Participation, Phase
from .services.participation import approve
from .visibility import challenge_by_key, is_organizer, visible_phase

MAX_IDS = 100
"""The most rows one bulk action names (a page of the lists)."""


def organized_challenge(user, key: str) -> Challenge:
    """The challenge ``key`` (id or slug) if ``user`` organizes it: 404 where they cannot see
    it, 403 where they can but do not organize it."""
    challenge = challenge_by_key(user, key)
    if not is_organizer(user, challenge):
        raise Refused("only the challenge's organizers may do this")
    return challenge


def organized_phase(user, phase_id) -> Phase:
    """The phase ``phase_id`` if ``user`` organizes its challenge: 404 or 403 as
    :func:`organized_challenge`."""
    phase = visible_phase(user, phase_id)
    if not is_organizer(user, phase.challenge):
        raise Refused("only the challenge's organizers may do this")
    return phase


def audit(request, rows: list, message: str) -> None:
    """Record the organizer's action on ``rows`` in the console's audit log, by the console's
    own audit of the first row's table (one entry per row, on each row's History page too)."""
    if rows:
        admin.site.get_model_admin(type(rows[0])).audit(request, rows, message)


def audit_if_organizer(request, challenge, rows: list, message: str) -> None:
    """:func:`audit`, when the caller acted on ``rows`` as an organizer of ``challenge`` rather
    than as their submitter (an organizer cancelling another team's submission from its page
    or the participants' API)."""
    rows = [row for row in rows if getattr(row, "creator_id", None) != request.user.pk]
    if rows and is_organizer(request.user, challenge):
        audit(request, rows, message)


class IdsSerializer(serializers.Serializer):
    """The rows a bulk action applies to."""

    ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=MAX_IDS,
                                help_text=f"The rows' ids (1 to {MAX_IDS}).")


def rows_by_id(rows, ids: list, what: str) -> list:
    """The rows of ``rows`` (a queryset) whose ids are ``ids``, in that order; an id that names
    none of them answers 400 naming it."""
    found = rows.in_bulk(ids)
    missing = [str(pk) for pk in ids if pk not in found]
    if missing:
        raise InvalidInput(f"no {what} has the id {', '.join(missing)}")
    return [found[pk] for pk in dict.fromkeys(ids)]


class ParticipantSerializer(serializers.Serializer):
    """A participant as the console's table shows them (and its CSV export, e-mail included:
    the organizers may write to those who joined, docs/organizers.md)."""

    id = serializers.UUIDField()
    username = serializers.CharField()
    full_name = serializers.CharField(allow_blank=True)
    affiliation = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=Participation.STATUSES)
    team = serializers.CharField(allow_null=True)
    created = serializers.DateTimeField(help_text="When they joined.")
    terms_accepted_at = serializers.DateTimeField()


def participant_payload(row: Participation) -> dict:
    profile = participant_profile(row)
    return {"id": str(row.id), "username": row.user.get_username(),
            "full_name": profile.full_name, "affiliation": profile.affiliation,
            "email": row.user.email, "status": row.status,
            "team": row.team.name if row.team_id else None,
            "created": row.created.isoformat(),
            "terms_accepted_at": row.terms_accepted_at.isoformat()}


class ParticipantFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Participation.STATUSES, required=False,
                                     help_text="Only the participants of this status.")


class ParticipantsChangedSerializer(serializers.Serializer):
    changed = serializers.IntegerField(min_value=0, help_text=(
        "How many of them this request changed (the others already had that status)."))
    participants = ParticipantSerializer(many=True, help_text="The named participants, now.")


def _participants(challenge: Challenge):
    return (Participation.objects.filter(challenge=challenge)
            .select_related("user__profile", "team"))


@extend_schema(
    operation_id="organizer_participants_list",
    summary="The challenge's participants, oldest first (organizers)",
    parameters=[PageSerializer, ParticipantFilterSerializer],
    responses=responses({200: page_of(ParticipantSerializer)}, 400, 403, 404),
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def participant_list(request, key: str):
    challenge = organized_challenge(request.user, key)
    filters = query(request, ParticipantFilterSerializer)
    rows = _participants(challenge).order_by("created", "id")
    if "status" in filters:
        rows = rows.filter(status=filters["status"])
    return paginated(request, rows, lambda page: [participant_payload(row) for row in page])


def _change(request, key: str, *, to: str) -> Response:
    """Approve or reject the participants the body names, as the console's actions do: the
    same service, the same audit message, and no mail (the console sends none either)."""
    challenge = organized_challenge(request.user, key)
    ids = validated(request, IdsSerializer)["ids"]
    rows = rows_by_id(_participants(challenge), ids, "participant of this challenge")
    named = _participants(challenge).filter(pk__in=[row.pk for row in rows])
    if to == Participation.ACCEPTED:
        changing = [row.pk for row in rows if row.status == Participation.PENDING]
        changed = approve(named)
        message = "Approved."
    else:
        changing = [row.pk for row in rows if row.status != Participation.REJECTED]
        changed = named.exclude(status=Participation.REJECTED).update(
            status=Participation.REJECTED)
        message = "Rejected."
    now = rows_by_id(_participants(challenge), [row.pk for row in rows], "participant")
    audit(request, [row for row in now if row.pk in changing], message)
    return Response({"changed": changed,
                     "participants": [participant_payload(row) for row in now]})


_CHANGE_DOC = {"request": IdsSerializer,
               "responses": responses({200: ParticipantsChangedSerializer},
                                      400, 403, 404, 415)}


@extend_schema(summary="Approve participants awaiting approval (organizers)", **_CHANGE_DOC)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def participants_approve(request, key: str):
    return _change(request, key, to=Participation.ACCEPTED)


@extend_schema(summary="Reject participants (organizers)", **_CHANGE_DOC)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def participants_reject(request, key: str):
    return _change(request, key, to=Participation.REJECTED)


# Included under /api/v1/organizer/ by podium/urls.py.
urlpatterns = [
    path("challenges/<str:key>/participants/", participant_list,
         name="api-organizer-participants"),
    path("challenges/<str:key>/participants/approve/", participants_approve,
         name="api-organizer-participants-approve"),
    path("challenges/<str:key>/participants/reject/", participants_reject,
         name="api-organizer-participants-reject"),
]
