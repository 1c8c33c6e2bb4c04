"""REST API: a challenge's tasks, the caller's participation and team, and a phase's test data
as links (docs/api.md, "Resources"). Who sees what is challenges.visibility's and
challenges.downloads' answer, as on the pages; nothing here reads a ground truth, and the test
data is listed by case and file name, never by a storage path."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from core.api import PageSerializer, page_of, paginated, responses
from core.storage import private_storage
from core.templatetags.people import display_name

from . import downloads
from .models import Participation, Task, Team
from .visibility import challenge_by_key, is_organizer, visible_phase


def label_list(labels: dict) -> list[dict]:
    """A task's ``dataset.json`` labels (``{"1": "liver"}``) as ``[{"value": 1, "name":
    "liver"}]`` in value order, so a client can name what results key by value."""
    return [{"value": int(value), "name": name}
            for value, name in sorted(labels.items(), key=lambda item: int(item[0]))]


class LabelSerializer(serializers.Serializer):
    value = serializers.IntegerField(help_text="The label value of dataset.json (a voxel value "
                                               "for segmentation, a class index for detection).")
    name = serializers.CharField(help_text="Its name, as the pages show it.")


class TaskSerializer(serializers.Serializer):
    """A task as participants see it: its dataset.json description and test case names; never
    its ground truth or where anything is stored."""

    id = serializers.UUIDField()
    challenge = serializers.UUIDField(source="challenge_id")
    key = serializers.CharField(help_text='The MSD folder name, e.g. "Task03_Liver".')
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Task.KINDS)
    description = serializers.CharField(allow_blank=True)
    reference = serializers.CharField(allow_blank=True)
    licence = serializers.CharField(allow_blank=True)
    release = serializers.CharField(allow_blank=True)
    modality = serializers.DictField(child=serializers.CharField(),
                                     help_text='As dataset.json: {"0": "CT"}.')
    tensor_image_size = serializers.CharField(allow_blank=True)
    labels = serializers.SerializerMethodField()
    cases = serializers.ListField(source="case_names", child=serializers.CharField(),
                                  help_text="The test case names.")
    phases = serializers.SerializerMethodField()

    @extend_schema_field(LabelSerializer(many=True))
    def get_labels(self, task: Task) -> list[dict]:
        return label_list(task.labels)

    def get_phases(self, task: Task) -> list[str]:
        return [str(phase.id) for phase in task.phases.all()]


def _tasks(challenge):
    return challenge.tasks.prefetch_related("phases").order_by("key")


@extend_schema(operation_id="challenges_tasks_list", summary="The challenge's tasks",
               parameters=[PageSerializer],
               responses=responses({200: page_of(TaskSerializer)}, 400, 404))
@api_view(["GET"])
@permission_classes([AllowAny])
def challenge_tasks(request, key: str):
    challenge = challenge_by_key(request.user, key)
    return paginated(request, _tasks(challenge),
                     lambda page: TaskSerializer(page, many=True).data)


@extend_schema(summary="One task: labels by value and name, test case names, kind",
               responses=responses({200: TaskSerializer}, 404))
@api_view(["GET"])
@permission_classes([AllowAny])
def task_detail(request, key: str, task_key: str):
    challenge = challenge_by_key(request.user, key)
    return Response(TaskSerializer(get_object_or_404(_tasks(challenge), key=task_key)).data)


class MemberSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The name the pages show: the full name, else the "
                                           "username.")


class TeamSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    challenge = serializers.UUIDField()
    name = serializers.CharField()
    members = MemberSerializer(many=True, help_text="Its accepted members.")
    join_code = serializers.CharField(required=False, help_text=(
        "The code teammates join with: to its members only."))


def team_payload(team: Team, *, member: bool) -> dict:
    """The team as its members and the challenge's organizers see it on its page."""
    members = (team.members.filter(status=Participation.ACCEPTED)
               .select_related("user__profile").order_by("user__username"))
    payload = {"id": str(team.id), "challenge": str(team.challenge_id), "name": team.name,
               "members": [{"name": display_name(m.user)} for m in members]}
    if member:
        payload["join_code"] = team.join_code
    return payload


def visible_team(user, team_id) -> tuple[Team, bool]:
    """A team whose page ``user`` may see (an accepted member, or an organizer of its
    challenge), else 404 — a team's existence is not disclosed to others; and whether ``user``
    is a member."""
    team = get_object_or_404(Team.objects.select_related("challenge"), pk=team_id)
    challenge = challenge_by_key(user, str(team.challenge_id))
    member = (user.is_authenticated and
              team.members.filter(user=user, status=Participation.ACCEPTED).exists())
    if not (member or is_organizer(user, challenge)):
        raise Http404("no such team")
    return team, member


class MyParticipationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    challenge = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Participation.STATUSES, help_text=(
        "The organizers' approval: pending, accepted or rejected."))
    terms_accepted_at = serializers.DateTimeField()
    team = TeamSerializer(allow_null=True, help_text=(
        "The caller's team (null without one), while the participation is accepted."))


@extend_schema(summary="The caller's participation in the challenge, with their team",
               responses=responses({200: MyParticipationSerializer}, 404))
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def my_participation(request, key: str):
    challenge = challenge_by_key(request.user, key)
    participation = (Participation.objects.select_related("team")
                     .filter(challenge=challenge, user=request.user).first())
    if participation is None:
        raise Http404("you have not joined this challenge")
    team = participation.team
    accepted = participation.status == Participation.ACCEPTED
    return Response({
        "id": str(participation.id), "challenge": str(challenge.id),
        "status": participation.status,
        "terms_accepted_at": participation.terms_accepted_at.isoformat(),
        "team": team_payload(team, member=True) if team and accepted else None,
    })


@extend_schema(summary="A team: its members (for its members and the organizers)",
               responses=responses({200: TeamSerializer}, 404))
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def team_detail(request, team_id):
    team, member = visible_team(request.user, team_id)
    return Response(team_payload(team, member=member))


class TestFileSerializer(serializers.Serializer):
    case = serializers.CharField()
    file_name = serializers.CharField(help_text="The image's name in imagesTs/.")
    size = serializers.IntegerField(min_value=0, help_text="Bytes.")
    url = serializers.URLField(help_text=(
        "Where to download it, with the same token; answers one byte range (Range: bytes=N-) "
        "for resuming; on S3 storage it redirects to a short-lived signed URL."))


TestFilePage = page_of(TestFileSerializer)


class TestDataPageSerializer(TestFilePage):
    """A page of a phase's test images, and the link to all of them in one zip."""

    task = serializers.CharField(help_text="The task's key.")
    archive = serializers.URLField(allow_null=True, help_text=(
        "Every test image in one zip, streamed; null where the task has none."))


@extend_schema(
    operation_id="phases_test_data_list",
    summary="The phase's test images as download links (never labels), and the whole archive",
    parameters=[PageSerializer],
    responses=responses({200: TestDataPageSerializer}, 400, 403, 404),
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def phase_test_data(request, phase_id):
    phase = visible_phase(request.user, phase_id)
    task = downloads.downloadable_task(request.user, phase.task_id)  # 403 says why not
    images = downloads.stored_images(task)

    def present(page) -> list[dict]:
        size_of = downloads.sizes(private_storage(), [image.storage_name for image in page])
        return [{"case": image.case, "file_name": image.file_name,
                 "size": size_of[image.storage_name],
                 "url": request.build_absolute_uri(
                     reverse("task-image", args=[task.id, image.file_name]))}
                for image in page]

    response = paginated(request, images, present)
    response.data = {"task": task.key, **response.data, "archive": request.build_absolute_uri(
        reverse("task-archive", args=[task.id])) if images else None}
    return response
