"""REST API: submitting, following and cancelling submissions, and the schema of what they
answer (the serializers below describe evaluation.presentation's payloads)."""

from django.conf import settings
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
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
from challenges.organizer_api import audit_if_organizer
from challenges.resources_api import LabelSerializer
from core.api import (
    PageSerializer,
    SubmitRateThrottle,
    UploadChunkRateThrottle,
    page_of,
    paginated,
    query,
    responses,
    validated,
)
from core.errors import InvalidInput

from . import selection, uploads
from .labels_api import with_label_names
from .models import Evaluation, State, Submission
from .presentation import submission_payload, with_payload_data
from .services.submission import cancel, submit


def visible_submissions(user):
    """Submissions the user may see, as the query layer decides
    (:func:`challenges.visibility.visible_submissions`)."""
    return visibility.visible_submissions(user, Submission.objects.all())


class MetricSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField(allow_blank=True)
    larger_better = serializers.BooleanField()
    decimals = serializers.IntegerField()


@extend_schema_field({"type": "number", "nullable": True,
                      "description": "A metric's value; null where it is undefined."})
class MetricValueField(serializers.FloatField):
    """A metric value in a case row, under the metric's name."""


class CaseValuesSerializer(serializers.Serializer):
    """One case and label; each of the phase's metrics under its name (null: undefined)."""

    case = serializers.CharField()
    label = serializers.IntegerField(help_text="The label value of dataset.json.")
    missing = serializers.BooleanField(help_text="No prediction was sent for the case.")
    label_name = serializers.CharField(required=False, allow_blank=True,
                                       help_text="The label's name, as the pages show it.")
    dice = MetricValueField(required=False)
    nsd = MetricValueField(required=False)
    hd = MetricValueField(required=False)
    hd95 = MetricValueField(required=False)
    assd = MetricValueField(required=False)


class ResultsSerializer(serializers.Serializer):
    ground_truth_version = serializers.IntegerField()
    metrics = MetricSerializer(many=True)
    labels = LabelSerializer(many=True, required=False, help_text=(
        "Segmentation: the scored labels by value and name, to name the aggregate's keys."))
    aggregate = serializers.DictField(allow_null=True, help_text=(
        'Segmentation: label value → {metric: value}, e.g. {"1": {"dice": 0.93}}; detection: '
        '{"mAP", "per_class": {class: AP}, "AP", "AP50", "AP75"}.'))
    cases = CaseValuesSerializer(many=True, required=False, help_text=(
        "Only where the phase shows per-case results (or to its organizers)."))


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(min_value=0)
    total = serializers.IntegerField(min_value=0)


class SubmissionSerializer(serializers.Serializer):
    """A submission as the caller may see it (evaluation.presentation.submission_payload)."""

    id = serializers.UUIDField()
    phase = serializers.UUIDField()
    created = serializers.DateTimeField()
    file_name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    state = serializers.ChoiceField(choices=State.choices,
                                    help_text="The newest evaluation's state.")
    status = serializers.ChoiceField(choices=State.choices,
                                     help_text="Deprecated alias of state.")
    active = serializers.BooleanField(help_text="Whether the newest evaluation is unfinished.")
    message = serializers.CharField(allow_blank=True)
    progress = ProgressSerializer(allow_null=True)
    counts = serializers.BooleanField(allow_null=True, help_text=(
        "Whether the leaderboard ranks this submission for its entrant; null where that would "
        "reveal hidden scores (docs/leaderboard.md, \"Which submission counts\")."))
    selected = serializers.BooleanField(help_text="Whether the entrant chose it to count.")
    logs = serializers.CharField(required=False, allow_blank=True, help_text=(
        "An algorithm's output, where the phase shows it (or to its organizers)."))
    results = ResultsSerializer(required=False, allow_null=True, help_text=(
        "Where the phase shows scores (or to its organizers); null until a result exists."))


# One component for every page of submissions (the phase's, a team's).
SubmissionPage = page_of(SubmissionSerializer)


class SubmittedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=[State.VALIDATING, State.QUEUED])
    status = serializers.ChoiceField(choices=[State.VALIDATING, State.QUEUED],
                                     help_text="Deprecated alias of state.")


class SubmissionFilterSerializer(serializers.Serializer):
    """The filters and order of a phase's submission list."""

    state = serializers.ChoiceField(choices=State.choices, required=False,
                                    help_text="Only submissions whose newest evaluation is in "
                                              "this state.")
    team = serializers.CharField(max_length=100, required=False,
                                 help_text="Only the submissions of the team of this name.")
    created_after = serializers.DateTimeField(required=False,
                                              help_text="Only those sent at or after (ISO 8601).")
    created_before = serializers.DateTimeField(required=False,
                                               help_text="Only those sent before (ISO 8601).")
    ordering = serializers.ChoiceField(choices=["created", "-created"], default="-created",
                                       help_text="-created: newest first (the default).")


def filtered(submissions, filters: dict):
    """``submissions`` narrowed and ordered by a :class:`SubmissionFilterSerializer`'s data."""
    if "state" in filters:
        newest = (Evaluation.objects.filter(submission=OuterRef("pk"))
                  .order_by("-created").values("state")[:1])
        submissions = (submissions.annotate(newest_state=Coalesce(Subquery(newest),
                                                                  Value(State.QUEUED)))
                       .filter(newest_state=filters["state"]))
    if "team" in filters:
        submissions = submissions.filter(team__name=filters["team"])
    if "created_after" in filters:
        submissions = submissions.filter(created__gte=filters["created_after"])
    if "created_before" in filters:
        submissions = submissions.filter(created__lt=filters["created_before"])
    direction = filters["ordering"]
    return submissions.order_by(direction, direction.replace("created", "id"))


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, error_messages={
        "required": 'send the predictions archive as the multipart field "file"',
        "invalid": 'send the predictions archive as the multipart field "file"',
    })
    description = serializers.CharField(default="", allow_blank=True)


@extend_schema(
    methods=["GET"],
    operation_id="phases_submissions_list",
    summary="The caller's submissions to the phase (its organizers: all of them)",
    parameters=[PageSerializer, SubmissionFilterSerializer],
    responses=responses({200: SubmissionPage}, 400, 403, 404),
)
@extend_schema(
    methods=["POST"],
    summary="Submit a predictions archive or algorithm image (multipart)",
    request={"multipart/form-data": UploadSerializer},
    responses=responses({201: SubmittedSerializer}, 400, 403, 404, 409, 413, 415),
)
@api_view(["GET", "POST"])
@permission_classes([IsAuthenticated])
@parser_classes([MultiPartParser, FormParser])
@throttle_classes([*api_settings.DEFAULT_THROTTLE_CLASSES, SubmitRateThrottle])
def phase_submissions(request, phase_id):
    phase = visibility.visible_phase(request.user, phase_id)
    if request.method == "GET":
        filters = query(request, SubmissionFilterSerializer)
        listed = visible_submissions(request.user).filter(phase=phase)
        if not visibility.is_organizer(request.user, phase.challenge):  # organizers: all
            listed = listed.filter(creator=request.user)
        return paginated(request, with_payload_data(filtered(listed, filters), request.user),
                         lambda page: [with_label_names(
                             submission_payload(s, request.user, with_cases=False), phase.task)
                             for s in page])
    upload = validated(request, UploadSerializer)
    submission = submit(phase=phase, user=request.user, upload=upload["file"],
                        description=upload["description"])
    state = submission.current_evaluation().state
    # "status": deprecated alias of "state" (docs/api.md): removed in the next release.
    return Response({"id": str(submission.id), "state": state, "status": state}, status=201)


@extend_schema(summary="One submission: its state and results",
               responses=responses({200: SubmissionSerializer}, 404))
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def submission_detail(request, submission_id):
    submission = get_object_or_404(visible_submissions(request.user), pk=submission_id)
    return Response(with_label_names(submission_payload(submission, request.user),
                                     submission.phase.task))


@extend_schema(summary="Cancel a submission while it is active", request=None,
               responses=responses({200: SubmissionSerializer}, 403, 404, 409))
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def submission_cancel(request, submission_id):
    submission = get_object_or_404(visible_submissions(request.user), pk=submission_id)
    cancel(submission, request.user)
    audit_if_organizer(request, submission.phase.challenge, [submission], "Evaluation cancelled.")
    return Response(with_label_names(
        submission_payload(submission, request.user, with_cases=False), submission.phase.task))


class UploadSessionSerializer(serializers.Serializer):
    file_name = serializers.CharField(max_length=255)
    # 0 passes here so that uploads.start answers it in the words of a direct upload ("the
    # upload is empty"), not the field's generic bound.
    size = serializers.IntegerField(min_value=0, help_text=(
        "The whole file's size in bytes; 0 is refused: the upload is empty."))
    sha256 = serializers.CharField(default="", allow_blank=True, max_length=64,
                                   help_text="The file's SHA-256 (64 hex digits), checked on "
                                             "completion; optional.")
    description = serializers.CharField(default="", allow_blank=True, max_length=200)


class UploadStateSerializer(serializers.Serializer):
    """An upload session (docs/api.md, "Uploading in chunks")."""

    id = serializers.UUIDField()
    phase = serializers.UUIDField()
    file_name = serializers.CharField()
    size = serializers.IntegerField()
    offset = serializers.IntegerField(help_text="Bytes received: where the next chunk starts.")
    chunk_bytes = serializers.IntegerField(help_text="The largest chunk the server takes.")
    expires_at = serializers.DateTimeField()
    submission = serializers.UUIDField(allow_null=True,
                                       help_text="The submission it became, once completed.")


def _offset_headers(statuses: list[int]) -> list[OpenApiParameter]:
    """The offset headers of an upload's answers, as response headers of the schema."""
    return [
        OpenApiParameter("Upload-Offset", int, OpenApiParameter.HEADER, response=statuses,
                         required=True, description="Bytes received."),
        OpenApiParameter("Upload-Length", int, OpenApiParameter.HEADER, response=statuses,
                         required=True, description="The declared size."),
    ]


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


@extend_schema(
    summary="Open an upload in chunks",
    request=UploadSessionSerializer,
    parameters=[
        OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[201],
                         required=True, description="The upload's URL."),
        OpenApiParameter("Upload-Offset", int, OpenApiParameter.HEADER, response=[201],
                         required=True, description="0: no byte received yet."),
    ],
    responses=responses({201: OpenApiResponse(UploadStateSerializer, "The upload, at offset 0; "
                                              "Location: its URL.")},
                        400, 403, 404, 409, 413, 415),
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def phase_uploads(request, phase_id):
    """Open an upload session (docs/api.md, "Uploading in chunks")."""
    phase = visibility.visible_phase(request.user, phase_id)
    session = uploads.start(phase=phase, user=request.user,
                            **validated(request, UploadSessionSerializer))
    return Response(_session_payload(session), status=201, headers={
        "Location": reverse("api-upload", args=[session.id]), "Upload-Offset": "0"})


@extend_schema(methods=["GET"], summary="An upload's offset (also in Upload-Offset)",
               parameters=_offset_headers([200]),
               responses=responses({200: UploadStateSerializer}, 404))
@extend_schema(
    methods=["PUT", "PATCH"],
    summary="Send the chunk that starts at Upload-Offset (raw bytes)",
    request={"application/octet-stream": OpenApiTypes.BINARY},
    parameters=[OpenApiParameter("Upload-Offset", int, OpenApiParameter.HEADER, required=True,
                                 description="Where the chunk starts: the upload's offset."),
                *_offset_headers([200])],
    responses=responses({200: OpenApiResponse(UploadStateSerializer, "The new offset.")},
                        400, 404, 409, 411, 413),
)
@extend_schema(methods=["DELETE"], summary="Abandon the upload and delete what it received",
               responses=responses({204: OpenApiResponse(description="Deleted.")}, 404))
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


@extend_schema(
    summary="Submit the uploaded file once every byte arrived", request=None,
    responses=responses({
        201: OpenApiResponse(SubmittedSerializer, "Submitted now."),
        200: OpenApiResponse(SubmittedSerializer, "Already submitted: the same submission."),
    }, 400, 403, 404, 409, 413),
)
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


# The choice of the submission that counts lives with its rule (evaluation.selection), which
# this module's serializers cannot be imported into (presentation imports that rule).
extend_schema(
    summary="Choose the submission that counts on the leaderboard, where the phase lets "
            "entrants choose",
    request=None,
    responses=responses({200: SubmissionSerializer}, 400, 403, 404, 409),
)(selection.submission_select)
