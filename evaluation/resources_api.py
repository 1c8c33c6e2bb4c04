"""REST API: a team's submissions, the evaluations of a submission, the algorithm images the
caller may see, and the label names that results carry beside their label values (docs/api.md,
"Resources"). Visibility is challenges.visibility's, as on the pages: organizer logs, storage
names and label content never leave the server."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from challenges import visibility
from challenges.models import Phase
from challenges.resources_api import visible_team
from core.api import PageSerializer, page_of, paginated, query, responses

from .api import (
    ProgressSerializer,
    ResultsSerializer,
    SubmissionFilterSerializer,
    SubmissionPage,
    filtered,
)
from .labels_api import with_label_names
from .models import ACTIVE_STATES, Evaluation, State, Submission
from .presentation import results_payload, submission_payload, with_payload_data


def submissions_page(request, submissions):
    """A page of ``submissions`` (already narrowed to what the caller may see) as the
    submission list answers them, label names included."""
    filters = query(request, SubmissionFilterSerializer)
    return paginated(request, with_payload_data(filtered(submissions, filters), request.user),
                     lambda page: [with_label_names(
                         submission_payload(s, request.user, with_cases=False), s.phase.task)
                         for s in page])


@extend_schema(
    operation_id="teams_submissions_list",
    summary="The team's submissions to every phase of its challenge (for its members and the "
            "organizers)",
    parameters=[PageSerializer, SubmissionFilterSerializer],
    responses=responses({200: SubmissionPage}, 400, 404),
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def team_submissions(request, team_id):
    team, _ = visible_team(request.user, team_id)
    listed = visibility.visible_submissions(request.user, Submission.objects.filter(team=team))
    return submissions_page(request, listed)


class EvaluationSerializer(serializers.Serializer):
    """One scoring of a submission (a re-evaluation against a new ground-truth version is
    another): its state, the message for the participant, and its results where the phase
    shows scores (or to its organizers)."""

    id = serializers.UUIDField()
    submission = serializers.UUIDField()
    state = serializers.ChoiceField(choices=State.choices)
    active = serializers.BooleanField(help_text="Whether it is unfinished.")
    created = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    message = serializers.CharField(allow_blank=True)
    progress = ProgressSerializer(help_text="Cases scored.")
    ground_truth_version = serializers.IntegerField()
    results = ResultsSerializer(required=False, allow_null=True, help_text=(
        "As a submission's results (labels by value and name); null unless it succeeded. "
        "Present only where the phase shows scores (or to its organizers)."))


def evaluation_payload(evaluation: Evaluation, *, organizer: bool, with_cases: bool) -> dict:
    """An evaluation as a participant (or, ``organizer``, an organizer) may see it: never the
    organizer log, the algorithm's logs or the worker."""
    submission = evaluation.submission
    phase = submission.phase
    payload = {
        "id": str(evaluation.id), "submission": str(submission.id), "state": evaluation.state,
        "active": evaluation.state in ACTIVE_STATES,
        "created": evaluation.created.isoformat(),
        "finished_at": evaluation.finished_at.isoformat() if evaluation.finished_at else None,
        "message": evaluation.participant_message,
        "progress": {"done": evaluation.cases_done, "total": evaluation.cases_total},
        "ground_truth_version": evaluation.ground_truth.version,
    }
    if phase.show_scores or organizer:
        results = None
        if evaluation.state == State.SUCCEEDED:
            results = results_payload(
                evaluation, with_cases=with_cases and (phase.show_case_results or organizer),
                decimals=None if organizer else phase.public_score_decimals)
        payload["results"] = with_label_names({"results": results}, phase.task)["results"]
    return payload


def _visible_submission(user, submission_id) -> Submission:
    return get_object_or_404(
        visibility.visible_submissions(user, Submission.objects.select_related(
            "phase__task__challenge")), pk=submission_id)


@extend_schema(operation_id="submissions_evaluations_list",
               summary="The submission's evaluations, newest first",
               parameters=[PageSerializer],
               responses=responses({200: page_of(EvaluationSerializer)}, 400, 404))
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def submission_evaluations(request, submission_id):
    submission = _visible_submission(request.user, submission_id)
    organizer = visibility.is_organizer(request.user, submission.phase.challenge)
    evaluations = (submission.evaluations.select_related("ground_truth")
                   .defer("organizer_log", "logs").order_by("-created", "id"))

    def present(page) -> list[dict]:
        for evaluation in page:
            evaluation.submission = submission  # one phase, read once
        return [evaluation_payload(e, organizer=organizer, with_cases=False)
                for e in page]

    return paginated(request, evaluations, present)


@extend_schema(summary="One evaluation, with per-case results where the phase shows them",
               responses=responses({200: EvaluationSerializer}, 404))
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def evaluation_detail(request, evaluation_id):
    evaluation = get_object_or_404(
        Evaluation.objects.select_related("ground_truth", "submission__phase__task__challenge")
        .defer("organizer_log", "logs")
        .filter(submission__in=visibility.visible_submissions(
            request.user, Submission.objects.all())), pk=evaluation_id)
    organizer = visibility.is_organizer(request.user, evaluation.submission.phase.challenge)
    return Response(evaluation_payload(evaluation, organizer=organizer, with_cases=True))


class AlgorithmImageSerializer(serializers.Serializer):
    """An uploaded algorithm image (a ``docker save`` archive) as its submission recorded it."""

    submission = serializers.UUIDField()
    image_id = serializers.CharField(allow_blank=True, help_text=(
        "sha256 of the image's config; empty until a worker has checked the archive."))
    file_name = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes uploaded.")
    sha256 = serializers.CharField(help_text="Of the uploaded archive.")
    valid = serializers.BooleanField(allow_null=True, help_text=(
        "Whether it passed its checks; null while a worker checks it."))
    created = serializers.DateTimeField()
    team = serializers.CharField(allow_null=True, help_text="The team's name, or null.")


class AlgorithmImageFilterSerializer(serializers.Serializer):
    team = serializers.CharField(max_length=100, required=False,
                                 help_text="Only the images of the team of this name.")
    ordering = serializers.ChoiceField(choices=["created", "-created"], default="-created",
                                       help_text="-created: newest first (the default).")


@extend_schema(operation_id="phases_algorithm_images_list",
               summary="The algorithm images sent to the phase that the caller may see (their "
                       "own and their team's; organizers: all)",
               parameters=[PageSerializer, AlgorithmImageFilterSerializer],
               responses=responses({200: page_of(AlgorithmImageSerializer)}, 400, 404))
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def phase_algorithm_images(request, phase_id):
    phase = visibility.visible_phase(request.user, phase_id)
    filters = query(request, AlgorithmImageFilterSerializer)
    listed = visibility.visible_submissions(request.user, Submission.objects.filter(
        phase=phase, kind=Phase.ALGORITHM)).select_related("team")
    if "team" in filters:
        listed = listed.filter(team__name=filters["team"])
    direction = filters["ordering"]
    listed = listed.order_by(direction, direction.replace("created", "id"))
    return paginated(request, listed, lambda page: [{
        "submission": str(s.id), "image_id": s.image_id, "file_name": s.file_name,
        "size": s.file_size, "sha256": s.file_sha256, "valid": s.is_valid,
        "created": s.created.isoformat(), "team": s.team.name if s.team else None,
    } for s in page])
