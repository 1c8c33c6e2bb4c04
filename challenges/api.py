"""REST API: challenges, phases, joining."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from core.api import PageSerializer, page_of, paginated, responses, validated

from . import provenance
from .models import Challenge, Participation, Phase, Task
from .services.participation import join
from .visibility import challenge_by_key, visible_challenges, visible_phase


class PhaseSummarySerializer(serializers.ModelSerializer):
    """A phase in a list. ``open`` says whether it takes submissions now; ``status`` ("open" or
    "closed") is the deprecated alias of ``open``, removed in the next release (docs/api.md)."""

    task = serializers.CharField(source="task.key")
    task_id = serializers.UUIDField(source="task.id")
    open = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()

    class Meta:
        model = Phase
        fields = ["id", "task", "task_id", "name", "submission_kind", "open", "status"]

    def get_open(self, phase: Phase) -> bool:
        return phase.is_open()

    @extend_schema_field(serializers.ChoiceField(choices=["open", "closed"]))
    def get_status(self, phase: Phase) -> str:
        return "open" if phase.is_open() else "closed"


class ChallengeSerializer(serializers.ModelSerializer):
    phases = serializers.SerializerMethodField()

    class Meta:
        model = Challenge
        fields = ["id", "slug", "title", "description", "terms", "requires_approval", "phases"]

    @extend_schema_field(PhaseSummarySerializer(many=True))
    def get_phases(self, challenge: Challenge) -> list:
        phases = Phase.objects.filter(task__challenge=challenge).select_related("task")
        return PhaseSummarySerializer(phases, many=True).data


class TaskDetailSerializer(serializers.Serializer):
    """The phase's task as a participant needs it: never the ground truth or its paths."""

    id = serializers.UUIDField()
    key = serializers.CharField(help_text='The MSD folder name, e.g. "Task03_Liver".')
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Task.KINDS)
    description = serializers.CharField(allow_blank=True)
    modality = serializers.DictField(child=serializers.CharField(),
                                     help_text='As dataset.json: {"0": "CT"}.')
    labels = serializers.DictField(child=serializers.CharField(), help_text=(
        'Label value → name, as dataset.json: {"0": "background", "1": "liver"}.'))
    tensor_image_size = serializers.CharField(allow_blank=True)
    cases = serializers.ListField(child=serializers.CharField(), help_text="Test case names.")


class PhaseSerializer(PhaseSummarySerializer):
    challenge = serializers.UUIDField(source="task.challenge_id")
    task_detail = serializers.SerializerMethodField()
    ground_truth_version = serializers.IntegerField(
        source="active_ground_truth.version", default=None
    )
    metrics = serializers.SerializerMethodField()
    ground_truth = serializers.SerializerMethodField(help_text=(
        "The active ground-truth version and where its labels come from (collection, "
        "version, DOI, licence, URL, hashes); never a label file or path. Null without one."))

    class Meta(PhaseSummarySerializer.Meta):
        fields = [
            *PhaseSummarySerializer.Meta.fields,
            "challenge", "task_detail", "opens_at", "closes_at", "metrics", "primary_metric",
            "nsd_tolerance_mm", "default_tolerance_mm", "surface", "allow_partial",
            "submission_limit", "limit_period", "count_failed", "show_scores",
            "show_case_results", "public_score_decimals", "is_public", "ground_truth_version",
            "ground_truth", "accepts_dicom_seg", "seg_fractional_threshold",
        ]
        extra_kwargs = {
            "accepts_dicom_seg": {"help_text": (
                "Segmentation: besides a NIfTI label map, a case may be predicted by one DICOM "
                "SEG file <case>.dcm on its test series, its segments labelled with the task's "
                "label names (docs/dicom.md, \"DICOM SEG predictions\").")},
            "seg_fractional_threshold": {"help_text": (
                "Where DICOM SEG is accepted: a FRACTIONAL SEG's pixel is inside its segment "
                "when value / MaximumFractionalValue is at least this.")},
        }

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_ground_truth(self, phase: Phase) -> dict | None:
        ground_truth = phase.active_ground_truth
        return provenance.public(ground_truth) if ground_truth is not None else None

    def get_metrics(self, phase: Phase) -> list[str]:
        return phase.scored_metrics()

    @extend_schema_field(TaskDetailSerializer)
    def get_task_detail(self, phase: Phase) -> dict:
        task = phase.task
        return {
            "id": str(task.id), "key": task.key, "name": task.name, "kind": task.kind,
            "description": task.description, "modality": task.modality, "labels": task.labels,
            "tensor_image_size": task.tensor_image_size, "cases": task.case_names,
        }


class JoinSerializer(serializers.Serializer):
    accept_terms = serializers.BooleanField(
        default=True, help_text="Accepting the challenge's terms; false is refused (400).")


class ParticipationSerializer(serializers.ModelSerializer):
    challenge = serializers.UUIDField(source="challenge_id")
    team = serializers.CharField(source="team.name", default=None, allow_null=True)

    class Meta:
        model = Participation
        fields = ["id", "challenge", "status", "terms_accepted_at", "team"]


@extend_schema(
    operation_id="challenges_list",
    summary="Published challenges (and those the caller organizes), newest first",
    parameters=[PageSerializer],
    responses=responses({200: page_of(ChallengeSerializer)}, 400, 404),
)
@api_view(["GET"])
@permission_classes([AllowAny])
def challenge_list(request):
    challenges = visible_challenges(request.user).order_by("-created", "id")
    return paginated(request, challenges,
                     lambda page: ChallengeSerializer(page, many=True).data)


@extend_schema(summary="One challenge, by id or slug",
               responses=responses({200: ChallengeSerializer}, 404))
@api_view(["GET"])
@permission_classes([AllowAny])
def challenge_detail(request, key: str):
    return Response(ChallengeSerializer(challenge_by_key(request.user, key)).data)


@extend_schema(
    summary="Join the challenge, accepting its terms",
    request=JoinSerializer,
    responses=responses({
        201: OpenApiResponse(ParticipationSerializer, "Joined now: accepted, or pending the "
                                                      "organizers' approval."),
        200: OpenApiResponse(ParticipationSerializer, "Already joined: the participation."),
    }, 400, 403, 404, 415),
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def challenge_join(request, key: str):
    challenge = challenge_by_key(request.user, key)
    accept = validated(request, JoinSerializer)["accept_terms"]
    participation, created = join(challenge, request.user, accept_terms=accept)
    return Response(ParticipationSerializer(participation).data, status=201 if created else 200)


@extend_schema(summary="One phase: its task, metrics, tolerances, limits and dates",
               responses=responses({200: PhaseSerializer}, 404))
@api_view(["GET"])
@permission_classes([AllowAny])
def phase_detail(request, phase_id):
    return Response(PhaseSerializer(visible_phase(request.user, phase_id)).data)
