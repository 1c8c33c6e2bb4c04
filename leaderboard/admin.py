"""Organizer console: leaderboard snapshots (read-only; a worker computes them). The console
shows what a snapshot is and links its page; the ranked entries are read there, not as JSON."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from challenges.console import ChallengeScopedAdmin

from .models import LeaderboardSnapshot


@admin.register(LeaderboardSnapshot)
class LeaderboardSnapshotAdmin(ChallengeScopedAdmin):
    challenge_paths = ("phase__task__challenge", "challenge")
    list_display = ["__str__", "ranking_method", "ground_truth", "entry_count", "computed_at",
                    "refresh_requested_at"]
    fields = ["phase", "challenge", "ground_truth", "ranking_method", "seed", "entry_count",
              "page", "computed_at", "refresh_requested_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("plots", "statistics")

    def has_add_permission(self, request):
        return False  # computed by a worker after evaluations finish

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="entrants ranked")
    def entry_count(self, snapshot: LeaderboardSnapshot) -> int:
        return len(snapshot.entries) if snapshot.phase_id else len(snapshot.rankings)

    @admin.display(description="page")
    def page(self, snapshot: LeaderboardSnapshot) -> str:
        url = (reverse("phase-leaderboard", args=[snapshot.phase_id]) if snapshot.phase_id
               else reverse("challenge-leaderboard", args=[snapshot.challenge.slug]))
        return format_html('<a href="{}">{}</a>', url, url)
