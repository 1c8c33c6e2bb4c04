"""Organizer console: challenges, tasks, participants and teams. Ground-truth versions and
phases, whose actions re-queue evaluations and recompute leaderboards, are in podium/admin.py.
Organizers see only their own challenges' rows (challenges/console.py)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.template.defaultfilters import pluralize
from django.urls import path
from django.views.decorators.http import require_POST

from accounts.models import Profile

from . import deid_console  # noqa: F401  (registers the de-identification reviews)
from .console import ChallengeScopedAdmin, RecordAdmin
from .markdown import render
from .models import Challenge, DownloadLog, Participation, Task, Team, TrainingData
from .services.participation import approve
from .visibility import is_platform_admin


@admin.register(Challenge)
class ChallengeAdmin(ChallengeScopedAdmin):
    challenge_paths = ("pk",)
    list_display = ["title", "slug", "is_published", "requires_approval", "created"]
    list_filter = ["is_published", "requires_approval"]
    search_fields = ["title", "slug", "description"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["organizers"]
    actions = ["publish", "unpublish"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "description", "is_published", "requires_approval",
                           "organizers", "terms"]}),
        ("Pages (Markdown; docs/organizers.md)", {
            "fields": ["overview", "rules", "data_description", "timeline", "citation"],
            "description": "The Evaluation page is generated from the phases' configuration.",
        }),
    ]

    markdown_fields = ["overview", "rules", "data_description", "timeline", "citation"]
    preview_max_chars = 200_000

    def get_urls(self):
        return [path("preview/", self.admin_site.admin_view(require_POST(self.preview_view)),
                     name="challenges_challenge_preview"),
                *super().get_urls()]

    def preview_view(self, request):
        """A page field's Markdown as its page will show it (the same renderer and sanitizer),
        for the preview under each field of the form (static/console.js)."""
        if not (self._in_scope(request) or self.has_add_permission(request)):
            raise PermissionDenied
        text = request.POST.get("text", "")[: self.preview_max_chars]
        return JsonResponse({"html": str(render(text))})

    def has_add_permission(self, request):
        """A platform administrator, or a user they granted "Can add challenge" (the platform's
        permission to create challenges; docs/organizers.md)."""
        return request.user.has_perm("challenges.add_challenge")

    def has_module_permission(self, request):
        return super().has_module_permission(request) or self.has_add_permission(request)

    def has_view_permission(self, request, obj=None):
        """Whoever may create a challenge sees the list, empty until they have created one."""
        return super().has_view_permission(request, obj) or (
            obj is None and self.has_add_permission(request))

    def save_related(self, request, form, formsets, change):
        """The creator organizes the challenge they create (after the form's organizers are
        saved, which would replace them). A platform administrator names its organizers."""
        super().save_related(request, form, formsets, change)
        if not change and not is_platform_admin(request.user):
            form.instance.organizers.add(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_platform_admin(request.user)

    @admin.action(description="Publish the selected challenges")
    def publish(self, request, queryset):
        self.audit(request, list(queryset), "Published the challenge.")
        self.message_user(request, f"{queryset.update(is_published=True)} published.")

    @admin.action(description="Unpublish the selected challenges")
    def unpublish(self, request, queryset):
        self.audit(request, list(queryset), "Unpublished the challenge.")
        self.message_user(request, f"{queryset.update(is_published=False)} unpublished.")


@admin.register(Task)
class TaskAdmin(ChallengeScopedAdmin):
    """Tasks come from imports (Import jobs, or ``import_msd_task``): a task typed by hand
    would have no test cases and no ground truth. Here only its descriptive texts change."""

    challenge_paths = ("challenge",)
    list_display = ["key", "name", "challenge", "kind", "case_count", "created"]
    list_filter = ["challenge", "kind"]
    search_fields = ["key", "name", "description"]
    fields = ["challenge", "key", "kind", "name", "description", "reference", "licence",
              "release", "tensor_image_size", "label_names", "modalities", "case_count",
              "created"]
    readonly_fields = ["challenge", "key", "kind", "label_names", "modalities", "case_count",
                       "created"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="test cases")
    def case_count(self, task: Task) -> int:
        return len(task.cases)

    @admin.display(description="labels")
    def label_names(self, task: Task) -> str:
        return ", ".join(f"{value}: {name}" for value, name in sorted(
            task.labels.items(), key=lambda item: int(item[0])))

    @admin.display(description="modalities")
    def modalities(self, task: Task) -> str:
        return ", ".join(f"{channel}: {name}" for channel, name in task.modality.items()) or "—"


@admin.register(Participation)
class ParticipationAdmin(ChallengeScopedAdmin):
    challenge_paths = ("challenge",)
    list_display = ["user", "full_name", "affiliation", "challenge", "status", "team",
                    "created"]
    list_select_related = ["user__profile", "team", "challenge"]
    list_filter = ["status", "challenge", "team"]
    search_fields = ["user__username", "user__email", "user__profile__full_name",
                     "user__profile__affiliation", "team__name"]
    actions = ["approve_selected", "reject_selected"]

    def has_add_permission(self, request):
        return is_platform_admin(request.user)  # people join; an organizer cannot pick any user

    @admin.display(description="full name")
    def full_name(self, row: Participation) -> str:
        return participant_profile(row).full_name

    @admin.display(description="affiliation")
    def affiliation(self, row: Participation) -> str:
        return participant_profile(row).affiliation

    @admin.action(description="Approve the selected participants")
    def approve_selected(self, request, queryset):
        self.audit(request, list(queryset.filter(status=Participation.PENDING)), "Approved.")
        approved = approve(queryset)
        self.message_user(request, f"{approved} participant{pluralize(approved)} approved.")

    @admin.action(description="Reject the selected participants")
    def reject_selected(self, request, queryset):
        self.audit(request, list(queryset.exclude(status=Participation.REJECTED)), "Rejected.")
        count = queryset.update(status=Participation.REJECTED)
        self.message_user(request, f"{count} participant{pluralize(count)} rejected.")


def participant_profile(row: Participation) -> Profile:
    """The participant's profile (an empty one, unsaved, if they never saved theirs)."""
    try:
        return row.user.profile
    except Profile.DoesNotExist:
        return Profile(user=row.user)


@admin.register(Team)
class TeamAdmin(ChallengeScopedAdmin):
    challenge_paths = ("challenge",)
    list_display = ["name", "challenge", "created"]
    list_filter = ["challenge"]
    search_fields = ["name"]


@admin.register(TrainingData)
class TrainingDataAdmin(ChallengeScopedAdmin):
    challenge_paths = ("task__challenge",)
    list_display = ["title", "task", "url", "file", "created"]
    list_filter = ["task"]
    search_fields = ["title", "note"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "url":
            kwargs["assume_scheme"] = "https"  # Django 6's default for a link typed bare
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(DownloadLog)
class DownloadLogAdmin(RecordAdmin, ChallengeScopedAdmin):
    """Who downloaded which task data: a record, never edited."""

    challenge_paths = ("task__challenge",)
    list_display = ["created", "user", "task", "item", "bytes", "signed_url", "ip_address"]
    list_filter = ["task", "signed_url"]
    search_fields = ["user__username", "item", "ip_address"]
    date_hierarchy = "created"
