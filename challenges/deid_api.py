"""Organizer API of the de-identification gate (docs/api.md, "Organizer endpoints";
challenges/deid_gate.py): the review of a phase's task — its findings, values included, for the
organizers only — and the console's two actions, accept (a reason required) and re-check, each
recorded in the console's audit log."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core.api import responses, validated
from core.errors import Refused

from . import deid_gate
from .deid_console import ACCEPT_MESSAGE, RECHECK_MESSAGE
from .models import DeidReview, Phase
from .organizer_api import audit, organized_phase


class FindingSerializer(serializers.Serializer):
    file = serializers.CharField(help_text="The test image, as participants know its name.")
    attribute = serializers.CharField(help_text='e.g. "PatientName (0010,0010)".')
    rule = serializers.CharField(help_text="The profile's row and action code.")
    value_preview = serializers.CharField(allow_blank=True, help_text="At most 40 characters.")
    severity = serializers.ChoiceField(choices=["high", "medium"])


class DeidReviewSerializer(serializers.Serializer):
    task = serializers.CharField(help_text="The task's key.")
    status = serializers.ChoiceField(choices=DeidReview.STATUSES, help_text=(
        "findings: participants cannot have the test images until they are accepted."))
    files_checked = serializers.IntegerField()
    finding_count = serializers.IntegerField(help_text="All findings; the list may hold fewer.")
    findings = FindingSerializer(many=True)
    declared = serializers.DictField(child=serializers.CharField(), help_text=(
        "DICOM files' own de-identification record, by file."))
    checked_at = serializers.DateTimeField(allow_null=True)
    accepted_by = serializers.CharField(allow_null=True)
    accepted_at = serializers.DateTimeField(allow_null=True)
    accepted_reason = serializers.CharField(allow_blank=True)


class AcceptSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text=(
        "Why these values may go to participants (recorded in the audit log)."))


def review_payload(review: DeidReview) -> dict:
    return {"task": review.task.key, "status": review.status,
            "files_checked": review.files_checked, "finding_count": review.finding_count,
            "findings": review.findings, "declared": review.declared,
            "checked_at": review.checked_at.isoformat() if review.checked_at else None,
            "accepted_by": review.accepted_by.get_username() if review.accepted_by else None,
            "accepted_at": review.accepted_at.isoformat() if review.accepted_at else None,
            "accepted_reason": review.accepted_reason}


def _review(phase: Phase, *, check: bool = True) -> DeidReview:
    """The review of the phase's task, checked first if it is due (``check``); 404 if none."""
    review = (deid_gate.current_review(phase.task) if check
              else DeidReview.objects.filter(task=phase.task).first())
    if review is None:
        raise Refused(f"task {phase.task.key} has no de-identification review (it was not "
                      "made by an import, so its images are not gated)", http_status=404)
    return review


@extend_schema(summary="The de-identification review of the phase's test images (organizers)",
               responses=responses({200: DeidReviewSerializer}, 403, 404))
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def deid_review(request, phase_id):
    """Checked now if it never was, or the task's stored images changed since."""
    return Response(review_payload(_review(organized_phase(request.user, phase_id))))


@extend_schema(summary="Accept the review's findings, releasing the test images (organizers)",
               request=AcceptSerializer,
               responses=responses({200: DeidReviewSerializer}, 400, 403, 404, 415))
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def deid_review_accept(request, phase_id):
    """As the console's "Accept these findings": only a review with findings; 400 otherwise."""
    review = _review(organized_phase(request.user, phase_id))
    reason = validated(request, AcceptSerializer)["reason"]
    review = deid_gate.accept(review, request.user, reason)
    audit(request, [review], ACCEPT_MESSAGE.format(
        count=review.finding_count, task=review.task.key, reason=review.accepted_reason))
    return Response(review_payload(review))


@extend_schema(summary="Check the phase's test images again (organizers)", request=None,
               responses=responses({200: DeidReviewSerializer}, 403, 404))
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def deid_review_recheck(request, phase_id):
    """As the console's "Re-check"; findings accepted before stay accepted if unchanged."""
    phase = organized_phase(request.user, phase_id)
    _review(phase, check=False)
    review = deid_gate.check_task(phase.task)
    audit(request, [review], RECHECK_MESSAGE.format(
        task=review.task.key, count=review.finding_count,
        status=review.get_status_display().lower()))
    return Response(review_payload(review))


# Included under /api/v1/organizer/ by podium/urls.py.
urlpatterns = [
    path("phases/<uuid:phase_id>/deid-review/", deid_review, name="api-organizer-deid-review"),
    path("phases/<uuid:phase_id>/deid-review/accept/", deid_review_accept,
         name="api-organizer-deid-review-accept"),
    path("phases/<uuid:phase_id>/deid-review/recheck/", deid_review_recheck,
         name="api-organizer-deid-review-recheck"),
]
