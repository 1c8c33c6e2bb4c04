"""Organizer console: challenges, tasks, participants and teams. Ground-truth versions and
phases, whose actions re-queue evaluations and recompute leaderboards, are in podium/admin.py."""

from django.contrib import admin

from .models import Challenge, Participation, Task, Team
from .services.participation import approve


@admin.register(Challenge)
class ChallengeAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "is_published", "requires_approval", "created"]
    list_filter = ["is_published", "requires_approval"]
    search_fields = ["title", "slug", "description"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["organizers"]
    actions = ["publish", "unpublish"]

    @admin.action(description="Publish the selected challenges")
    def publish(self, request, queryset):
        self.message_user(request, f"{queryset.update(is_published=True)} published.")

    @admin.action(description="Unpublish the selected challenges")
    def unpublish(self, request, queryset):
        self.message_user(request, f"{queryset.update(is_published=False)} unpublished.")


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "challenge", "kind", "case_count", "created"]
    list_filter = ["challenge", "kind"]
    search_fields = ["key", "name", "description"]
    readonly_fields = ["cases", "images", "labels", "kind", "key", "created"]

    @admin.display(description="test cases")
    def case_count(self, task: Task) -> int:
        return len(task.cases)


@admin.register(Participation)
class ParticipationAdmin(admin.ModelAdmin):
    list_display = ["user", "challenge", "status", "team", "terms_accepted_at"]
    list_filter = ["status", "challenge"]
    search_fields = ["user__username", "user__email", "team__name"]
    actions = ["approve_selected", "reject_selected"]

    @admin.action(description="Approve the selected participants")
    def approve_selected(self, request, queryset):
        self.message_user(request, f"{approve(queryset)} participants approved.")

    @admin.action(description="Reject the selected participants")
    def reject_selected(self, request, queryset):
        count = queryset.update(status=Participation.REJECTED)
        self.message_user(request, f"{count} participants rejected.")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "challenge", "created"]
    list_filter = ["challenge"]
    search_fields = ["name"]
