"""REST API: submitting, following and cancelling submissions."""

from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.decorators import (
    api_view,
    parser_classes,
    permission_classes,
    throttle_classes,
)
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings

from challenges import visibility
from core.api import SubmitRateThrottle, validated

from .models import Submission
from .presentation import submission_payload
from .services.submission import cancel, submit


def visible_submissions(user):
    """Submissions the user may see, as the query layer decides
    (:func:`challenges.visibility.visible_submissions`)."""
    return visibility.visible_submissions(user, Submission.objects.all())


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, error_messages={
        "required": 'send the predictions archive as the multipart field "file"',
        "invalid": 'send the predictions archive as the multipart field "file"',
    })
    description = serializers.CharField(default="", allow_blank=True)


@api_view(["GET", "POST"])
@permission_classes([IsAuthenticated])
@parser_classes([MultiPartParser, FormParser])
@throttle_classes([*api_settings.DEFAULT_THROTTLE_CLASSES, SubmitRateThrottle])
def phase_submissions(request, phase_id):
    phase = visibility.visible_phase(request.user, phase_id)
    if request.method == "GET":
        mine = visible_submissions(request.user).filter(phase=phase, creator=request.user)
        return Response([submission_payload(s, request.user, with_cases=False) for s in mine])
    upload = validated(request, UploadSerializer)
    submission = submit(phase=phase, user=request.user, upload=upload["file"],
                        description=upload["description"])
    state = submission.current_evaluation().state
    # "status": deprecated alias of "state" (docs/api.md): removed in the next release.
    return Response({"id": str(submission.id), "state": state, "status": state}, status=201)


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def submission_detail(request, submission_id):
    submission = get_object_or_404(visible_submissions(request.user), pk=submission_id)
    return Response(submission_payload(submission, request.user))


@api_view(["POST"])
@permission_classes([IsAuthenticated])
def submission_cancel(request, submission_id):
    submission = get_object_or_404(visible_submissions(request.user), pk=submission_id)
    cancel(submission, request.user)
    return Response(submission_payload(submission, request.user, with_cases=False))
