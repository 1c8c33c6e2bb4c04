"""REST API: submitting, following and cancelling submissions."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import reverse
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
from rest_framework.throttling import AnonRateThrottle

from challenges import visibility
from core.api import SubmitRateThrottle, UploadChunkRateThrottle, validated
from core.errors import InvalidInput

from . import uploads
from .models import Submission
from .presentation import submission_payload, with_payload_data
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
        listed = visible_submissions(request.user).filter(phase=phase)
        if not visibility.is_organizer(request.user, phase.challenge):  # organizers: all
            listed = listed.filter(creator=request.user)
        return Response([submission_payload(s, request.user, with_cases=False)
                         for s in with_payload_data(listed, request.user)])
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


class UploadSessionSerializer(serializers.Serializer):
    file_name = serializers.CharField(max_length=255)
    size = serializers.IntegerField(min_value=1)
    sha256 = serializers.CharField(default="", allow_blank=True, max_length=64)
    description = serializers.CharField(default="", allow_blank=True, max_length=200)


def _session_payload(session) -> dict:
    return {
        "id": str(session.id),
        "phase": str(session.phase_id),
        "file_name": session.file_name,
        "size": session.size,
        "offset": session.received,
        "chunk_bytes": settings.PODIUM_UPLOAD_CHUNK_BYTES,
        "expires_at": session.expires_at.isoformat(),
        "submission": str(session.submission_id) if session.submission_id else None,
    }


def _header_int(request, meta_key: str, what: str, status: int = 400) -> int:
    value = request.META.get(meta_key, "")
    if not value.isdigit():
        raise InvalidInput(f"send the {what} as a whole number of bytes", http_status=status)
    return int(value)


@api_view(["POST"])
@permission_classes([IsAuthenticated])
def phase_uploads(request, phase_id):
    """Open an upload session (docs/api.md, "Uploading in chunks")."""
    phase = visibility.visible_phase(request.user, phase_id)
    session = uploads.start(phase=phase, user=request.user,
                            **validated(request, UploadSessionSerializer))
    return Response(_session_payload(session), status=201, headers={
        "Location": reverse("api-upload", args=[session.id]), "Upload-Offset": "0"})


@api_view(["GET", "HEAD", "PUT", "PATCH", "DELETE"])
@permission_classes([IsAuthenticated])
@parser_classes([])  # a chunk is streamed to its file, never parsed nor read whole
@throttle_classes([AnonRateThrottle, UploadChunkRateThrottle])
def upload_session(request, upload_id):
    """An upload session: its offset (GET, HEAD), a chunk at ``Upload-Offset`` (PUT, PATCH),
    or abandoning it (DELETE)."""
    session = uploads.own_session(request.user, upload_id)
    if request.method == "DELETE":
        uploads.abandon(session)
        return Response(status=204)
    if request.method in ("PUT", "PATCH"):
        offset = _header_int(request, "HTTP_UPLOAD_OFFSET", "Upload-Offset header")
        length = _header_int(request, "CONTENT_LENGTH", "Content-Length", status=411)
        session.received = uploads.append(session, offset=offset, length=length,
                                          stream=request.stream)
    headers = {"Upload-Offset": str(session.received), "Upload-Length": str(session.size),
               "Cache-Control": "no-store"}
    if request.method == "HEAD":
        return Response(headers=headers)
    return Response(_session_payload(session), headers=headers)


@api_view(["POST"])
@permission_classes([IsAuthenticated])
@throttle_classes([*api_settings.DEFAULT_THROTTLE_CLASSES, SubmitRateThrottle])
def upload_complete(request, upload_id):
    """Submit the session's file once every byte arrived: the same answer as posting it whole
    (201), or the submission it already became (200)."""
    session = uploads.own_session(request.user, upload_id)
    submission, created = uploads.complete(session)
    state = submission.current_evaluation().state
    return Response({"id": str(submission.id), "state": state, "status": state},
                    status=201 if created else 200)
