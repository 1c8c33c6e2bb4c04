"""Organizer console: leaderboard snapshots (read-only; a worker computes them)."""

from django.contrib import admin

from challenges.console import ChallengeScopedAdmin

from .models import LeaderboardSnapshot


@admin.register(LeaderboardSnapshot)
class LeaderboardSnapshotAdmin(ChallengeScopedAdmin):
    challenge_paths = ("phase__task__challenge", "challenge")
    list_display = ["__str__", "ranking_method", "ground_truth", "computed_at",
                    "refresh_requested_at"]
    readonly_fields = [f.name for f in LeaderboardSnapshot._meta.fields]

    def has_add_permission(self, request):
        return False  # computed by a worker after evaluations finish
