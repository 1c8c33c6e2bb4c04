"""REST API: challenges, phases, joining."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from core.api import PageSerializer, page_of, paginated, responses, validated

from . import deid_gate, provenance
from .models import Challenge, Participation, Phase, Task
from .services.participation import join
from .visibility import challenge_by_key, visible_challenges, visible_phase


class PhaseSummarySerializer(serializers.ModelSerializer):
    """A phase in a list. ``open`` says whether it takes submissions now; ``held_for_review``
    whether its test images are held back by the de-identification gate (then ``open`` is
    false: no submission is taken until an organizer accepts or fixes the findings);
    ``status`` ("open", "closed" or "held") is the deprecated alias of ``open``, removed in
    the next release (docs/api.md).

    Whether a task is held is read from its stored review (``deid_gate.held_tasks``: nothing
    is checked here); a list passes the held task ids in the context (``"held"``) so that it
    asks once for all its phases."""

    task = serializers.CharField(source="task.key")
    task_id = serializers.UUIDField(source="task.id")
    open = serializers.SerializerMethodField()
    held_for_review = serializers.SerializerMethodField(help_text=(
        "The test images await the organizers' de-identification review: no download and no "
        "submission until it is done (docs/dicom.md, \"The gate\")."))
    status = serializers.SerializerMethodField()

    class Meta:
        model = Phase
        fields = ["id", "task", "task_id", "name", "submission_kind", "open", "held_for_review",
                  "status"]

    def get_held_for_review(self, phase: Phase) -> bool:
        held = self.context.get("held")
        if held is None:  # one phase: asked once, for its three fields
            asked = self.context.setdefault("_held", {})
            if phase.task_id not in asked:
                asked[phase.task_id] = phase.task_id in deid_gate.held_tasks([phase.task_id])
            return asked[phase.task_id]
        return phase.task_id in held

    def get_open(self, phase: Phase) -> bool:
        return phase.is_open() and not self.get_held_for_review(phase)

    @extend_schema_field(serializers.ChoiceField(choices=["open", "closed", "held"]))
    def get_status(self, phase: Phase) -> str:
        if self.get_held_for_review(phase):
            return "held"
        return "open" if phase.is_open() else "closed"


class ChallengeSerializer(serializers.ModelSerializer):
    phases = serializers.SerializerMethodField()

    class Meta:
        model = Challenge
        fields = ["id", "slug", "title", "description", "terms", "requires_approval", "phases"]

    @extend_schema_field(PhaseSummarySerializer(many=True))
    def get_phases(self, challenge: Challenge) -> list:
        phases = list(Phase.objects.filter(task__challenge=challenge).select_related("task"))
        held = deid_gate.held_tasks({phase.task_id for phase in phases})
        return PhaseSummarySerializer(phases, many=True, context={"held": held}).data


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
            "classification_threshold", "survival_tau", "survival_times",
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

    classification_threshold = serializers.SerializerMethodField(help_text=(
        "Classification: a case whose probability of the positive class is at least this is "
        "called positive (balanced accuracy, sensitivity, specificity); null for other kinds "
        "and for a target of more than two classes (docs/clinical.md)."))
    survival_tau = serializers.SerializerMethodField(help_text=(
        "Survival: the truncation time τ of Uno's C in the task's time unit (null: none, the "
        "largest observed time); null for other kinds (docs/clinical.md)."))
    survival_times = serializers.SerializerMethodField(help_text=(
        "Survival: the times of the time-dependent AUC and of the survival curves a "
        "predictions file may carry (S@<time> columns; two or more for the integrated Brier "
        "score), increasing, in the task's time unit; null for other kinds."))

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_classification_threshold(self, phase: Phase) -> float | None:
        binary = len((phase.task.clinical or {}).get("classes") or []) == 2
        return (phase.classification_threshold
                if phase.task.kind == Task.CLASSIFICATION and binary else None)

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_survival_tau(self, phase: Phase) -> float | None:
        return phase.survival_tau if phase.task.kind == Task.SURVIVAL else None

    @extend_schema_field(serializers.ListField(child=serializers.FloatField(),
                                               allow_null=True))
    def get_survival_times(self, phase: Phase) -> list[float] | None:
        if phase.task.kind != Task.SURVIVAL:
            return None
        return [float(t) for t in phase.survival_times or []]

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
