from django.contrib import admin

from .models import LeaderboardSnapshot


@admin.register(LeaderboardSnapshot)
class LeaderboardSnapshotAdmin(admin.ModelAdmin):
    list_display = ["__str__", "method", "ground_truth", "computed_at", "refresh_requested_at"]
    readonly_fields = [f.name for f in LeaderboardSnapshot._meta.fields]
