"""Organizer console for what spans the apps: ground-truth versions and phases, whose actions
activate a version and re-queue evaluations (evaluation) and recompute leaderboards
(leaderboard)."""

from django.contrib import admin, messages

from accounts.admin import PlatformAdminOnly
from challenges.console import ChallengeScopedAdmin
from challenges.models import GroundTruth, Phase
from evaluation.services.reevaluation import activate_ground_truth
from leaderboard.services import request_refresh

CASE_RESULTS_WARNING = (
    "Per-case results are now shown to participants. Each per-case value is an oracle on the "
    "hidden labels: one submission predicting a label everywhere learns every test label's "
    "size from its Dice (|label| = D·N/(2−D) for a case of N voxels), and a few more learn "
    "where it lies. Show them only when the test labels need not stay secret, e.g. after the "
    "challenge (docs/security.md)."
)


@admin.register(GroundTruth)
class GroundTruthAdmin(ChallengeScopedAdmin):
    """Versions are immutable: created by import_msd_task, only activated here."""

    challenge_paths = ("task__challenge",)

    list_display = ["task", "version", "short_hash", "note", "active_in", "created"]
    list_filter = ["task__challenge", "task"]
    search_fields = ["task__key", "content_sha256", "note"]
    readonly_fields = ["task", "version", "content_sha256", "note", "created"]
    exclude = ["files"]
    actions = ["activate"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="hash")
    def short_hash(self, gt: GroundTruth) -> str:
        return gt.content_sha256[:12]

    @admin.display(description="active in phases")
    def active_in(self, gt: GroundTruth) -> str:
        return ", ".join(p.name for p in Phase.objects.filter(active_ground_truth=gt)) or "—"

    @admin.action(description="Activate for every phase of its task (re-queues submissions)")
    def activate(self, request, queryset):
        if queryset.values("task").distinct().count() != queryset.count():
            self.message_user(request, "Choose at most one version per task.", messages.ERROR)
            return
        for ground_truth in queryset:
            for phase in ground_truth.task.phases.all():
                queued = activate_ground_truth(phase, ground_truth)
                self.message_user(request, f"{phase}: v{ground_truth.version} active, "
                                           f"{queued} evaluations queued.")


@admin.register(Phase)
class PhaseAdmin(ChallengeScopedAdmin):
    challenge_paths = ("task__challenge",)
    list_display = ["__str__", "submission_kind", "primary_metric", "is_public", "show_scores",
                    "opens_at", "closes_at"]
    list_filter = ["task__challenge", "submission_kind", "is_public", "show_scores"]
    search_fields = ["name", "task__key", "task__name"]
    readonly_fields = ["active_ground_truth"]
    fieldsets = [
        (None, {"fields": ["task", "name", "submission_kind", "active_ground_truth"]}),
        ("Scoring", {"fields": ["metrics", "primary_metric", "nsd_tolerance_mm",
                                "default_tolerance_mm", "surface", "worst_distance_mm",
                                "allow_partial", "iou_threshold", "voc2007", "plus_one"]}),
        ("Limits and dates", {"fields": ["submission_limit", "limit_period", "count_failed",
                                         "opens_at", "closes_at"]}),
        ("Visibility", {"fields": ["is_public", "show_scores", "show_case_results",
                                   "public_score_decimals", "leaderboard_selection"]}),
        ("Ranking", {"fields": ["ranking_method", "ranking_ties", "ranking_adjust",
                                "ranking_alpha", "bootstrap_samples", "ranking_seed"],
                     "description": "How the leaderboard ranks (docs/ranking.md). Saving a "
                                    "change recomputes the leaderboard."}),
    ]
    actions = ["publish", "unpublish", "recompute"]

    def save_model(self, request, obj, form, change):
        before = Phase.objects.get(pk=obj.pk) if change else None
        super().save_model(request, obj, form, change)
        if obj.show_case_results and not (before and before.show_case_results):
            self.message_user(request, CASE_RESULTS_WARNING, messages.WARNING)
        if change and obj.active_ground_truth_id and obj.metric_config() != before.metric_config():
            queued = activate_ground_truth(obj, obj.active_ground_truth)
            self.message_user(request, f"The scoring configuration changed: {queued} "
                                       "submissions queued to be scored with it.")

    @admin.action(description="Publish the leaderboards")
    def publish(self, request, queryset):
        self.message_user(request, f"{queryset.update(is_public=True)} leaderboards published.")

    @admin.action(description="Unpublish the leaderboards")
    def unpublish(self, request, queryset):
        self.message_user(request, f"{queryset.update(is_public=False)} leaderboards hidden.")

    @admin.action(description="Recompute the leaderboards")
    def recompute(self, request, queryset):
        for phase in queryset:
            request_refresh(phase.id)
        self.message_user(request, f"{queryset.count()} leaderboards will be recomputed.")


def _platform_tables_for_administrators(site: admin.AdminSite) -> None:
    """Every console table whose rows belong to no challenge (users, groups, profiles, e-mail
    addresses, identity providers) is for platform administrators only. Runs last: podium is
    the last installed app, so every other app has registered its tables."""
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, ChallengeScopedAdmin | PlatformAdminOnly):
            continue
        site.unregister(model)
        site.register(model, type(type(model_admin).__name__,
                                  (PlatformAdminOnly, type(model_admin)), {}))


_platform_tables_for_administrators(admin.site)
