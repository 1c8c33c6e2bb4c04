"""Organizer console: challenges, tasks, participants and teams. Ground-truth versions and
phases, whose actions re-queue evaluations and recompute leaderboards, are in podium/admin.py.
Organizers see only their own challenges' rows (challenges/console.py)."""

from django.contrib import admin

from .console import ChallengeScopedAdmin
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

    # A platform administrator creates a challenge and names its organizers.
    def has_add_permission(self, request):
        return is_platform_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_platform_admin(request.user)

    @admin.action(description="Publish the selected challenges")
    def publish(self, request, queryset):
        self.message_user(request, f"{queryset.update(is_published=True)} published.")

    @admin.action(description="Unpublish the selected challenges")
    def unpublish(self, request, queryset):
        self.message_user(request, f"{queryset.update(is_published=False)} unpublished.")


@admin.register(Task)
class TaskAdmin(ChallengeScopedAdmin):
    challenge_paths = ("challenge",)
    list_display = ["key", "name", "challenge", "kind", "case_count", "created"]
    list_filter = ["challenge", "kind"]
    search_fields = ["key", "name", "description"]
    readonly_fields = ["cases", "images", "labels", "kind", "key", "created"]

    @admin.display(description="test cases")
    def case_count(self, task: Task) -> int:
        return len(task.cases)


@admin.register(Participation)
class ParticipationAdmin(ChallengeScopedAdmin):
    challenge_paths = ("challenge",)
    list_display = ["user", "challenge", "status", "team", "terms_accepted_at"]
    list_filter = ["status", "challenge"]
    search_fields = ["user__username", "user__email", "team__name"]
    actions = ["approve_selected", "reject_selected"]

    def has_add_permission(self, request):
        return is_platform_admin(request.user)  # people join; an organizer cannot pick any user

    @admin.action(description="Approve the selected participants")
    def approve_selected(self, request, queryset):
        self.message_user(request, f"{approve(queryset)} participants approved.")

    @admin.action(description="Reject the selected participants")
    def reject_selected(self, request, queryset):
        count = queryset.update(status=Participation.REJECTED)
        self.message_user(request, f"{count} participants rejected.")


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
class DownloadLogAdmin(ChallengeScopedAdmin):
    """Who downloaded which task data: a record, never edited."""

    challenge_paths = ("task__challenge",)
    list_display = ["created", "user", "task", "item", "bytes", "signed_url", "ip_address"]
    list_filter = ["task", "signed_url"]
    search_fields = ["user__username", "item", "ip_address"]
    date_hierarchy = "created"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
