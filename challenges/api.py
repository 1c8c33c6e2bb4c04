"""REST API: challenges, phases, joining."""

from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from core.api import validated

from .models import Challenge, Participation, Phase
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

    def get_status(self, phase: Phase) -> str:
        return "open" if phase.is_open() else "closed"


class ChallengeSerializer(serializers.ModelSerializer):
    phases = serializers.SerializerMethodField()

    class Meta:
        model = Challenge
        fields = ["id", "slug", "title", "description", "terms", "requires_approval", "phases"]

    def get_phases(self, challenge: Challenge) -> list:
        phases = Phase.objects.filter(task__challenge=challenge).select_related("task")
        return PhaseSummarySerializer(phases, many=True).data


class PhaseSerializer(PhaseSummarySerializer):
    challenge = serializers.UUIDField(source="task.challenge_id")
    task_detail = serializers.SerializerMethodField()
    ground_truth_version = serializers.IntegerField(
        source="active_ground_truth.version", default=None
    )
    metrics = serializers.SerializerMethodField()

    class Meta(PhaseSummarySerializer.Meta):
        fields = [
            *PhaseSummarySerializer.Meta.fields,
            "challenge", "task_detail", "opens_at", "closes_at", "metrics", "primary_metric",
            "nsd_tolerance_mm", "default_tolerance_mm", "surface", "allow_partial",
            "submission_limit", "limit_period", "count_failed", "show_scores",
            "show_case_results", "public_score_decimals", "is_public", "ground_truth_version",
        ]

    def get_metrics(self, phase: Phase) -> list[str]:
        return phase.scored_metrics()

    def get_task_detail(self, phase: Phase) -> dict:
        task = phase.task
        return {
            "id": str(task.id), "key": task.key, "name": task.name, "kind": task.kind,
            "description": task.description, "modality": task.modality, "labels": task.labels,
            "tensor_image_size": task.tensor_image_size, "cases": task.case_names,
        }


class JoinSerializer(serializers.Serializer):
    accept_terms = serializers.BooleanField(default=True)


class ParticipationSerializer(serializers.ModelSerializer):
    challenge = serializers.UUIDField(source="challenge_id")
    team = serializers.CharField(source="team.name", default=None)

    class Meta:
        model = Participation
        fields = ["id", "challenge", "status", "terms_accepted_at", "team"]


@api_view(["GET"])
@permission_classes([AllowAny])
def challenge_list(request):
    return Response(ChallengeSerializer(visible_challenges(request.user), many=True).data)


@api_view(["GET"])
@permission_classes([AllowAny])
def challenge_detail(request, key: str):
    return Response(ChallengeSerializer(challenge_by_key(request.user, key)).data)


@api_view(["POST"])
@permission_classes([IsAuthenticated])
def challenge_join(request, key: str):
    challenge = challenge_by_key(request.user, key)
    accept = validated(request, JoinSerializer)["accept_terms"]
    participation, created = join(challenge, request.user, accept_terms=accept)
    return Response(ParticipationSerializer(participation).data, status=201 if created else 200)


@api_view(["GET"])
@permission_classes([AllowAny])
def phase_detail(request, phase_id):
    return Response(PhaseSerializer(visible_phase(request.user, phase_id)).data)
