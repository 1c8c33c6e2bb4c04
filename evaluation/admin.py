"""Organizer console: submissions and their evaluations (organizer logs live here only), of
the challenges each organizer organizes (challenges/console.py)."""

from django.contrib import admin

from challenges.console import ChallengeScopedAdmin, ChallengeScopedInline
from scorers.metrics import metric

from .models import ACTIVE_STATES, CaseResult, Evaluation, State, Submission
from .services.reevaluation import reevaluate
from .states import InvalidTransition, transition


class EvaluationInline(ChallengeScopedInline):
    model = Evaluation
    extra = 0
    can_delete = False
    fields = ["state", "ground_truth", "participant_message", "created", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Submission)
class SubmissionAdmin(ChallengeScopedAdmin):
    challenge_paths = ("phase__task__challenge",)
    list_display = ["id", "phase", "participant", "kind", "state", "created"]
    list_filter = ["phase__task__challenge", "phase", "kind"]
    search_fields = ["id", "creator__username", "team__name", "file_name", "description"]
    readonly_fields = ["phase", "creator", "team", "kind", "file", "file_name", "file_size",
                       "file_sha256", "created"]
    inlines = [EvaluationInline]
    actions = ["reevaluate_selected"]

    def has_add_permission(self, request):
        return False  # participants submit; a row made by hand would have no file or phase

    @admin.display(description="participant")
    def participant(self, submission: Submission) -> str:
        return submission.participant_name

    @admin.display(description="state")
    def state(self, submission: Submission) -> str:
        latest = submission.current_evaluation()
        return latest.state if latest else "—"

    @admin.action(description="Re-evaluate against the active ground truth")
    def reevaluate_selected(self, request, queryset):
        self.message_user(request, f"{reevaluate(queryset)} evaluations queued.")


@admin.register(Evaluation)
class EvaluationAdmin(ChallengeScopedAdmin):
    challenge_paths = ("submission__phase__task__challenge",)
    list_display = ["id", "submission", "state", "ground_truth", "attempts", "created",
                    "finished_at"]
    list_filter = ["state", "submission__phase"]
    search_fields = ["id", "submission__id", "submission__creator__username"]
    readonly_fields = [f.name for f in Evaluation._meta.fields]
    actions = ["cancel_selected"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Cancel the selected evaluations")
    def cancel_selected(self, request, queryset):
        cancelled = 0
        for evaluation in queryset.filter(state__in=ACTIVE_STATES):
            try:
                transition(evaluation.id, State.CANCELLED,
                           participant_message="Cancelled by the organizers.")
                cancelled += 1
            except InvalidTransition:
                continue
        self.message_user(request, f"{cancelled} evaluations cancelled.")


@admin.register(CaseResult)
class CaseResultAdmin(ChallengeScopedAdmin):
    """Read-only: results change only by scoring again."""

    challenge_paths = ("evaluation__submission__phase__task__challenge",)

    list_display = ["evaluation", "case", "label", "metric_values", "missing"]
    list_filter = ["missing"]
    search_fields = ["case", "evaluation__id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="values")
    def metric_values(self, row: CaseResult) -> str:
        """Each metric with the registry's label, unit and decimals ("—": undefined)."""
        shown = []
        for name, value in row.values.items():
            entry = metric(name)
            number = "—" if value is None else f"{value:.{entry.decimals}f}"
            shown.append(f"{entry.label} {number}{' ' + entry.unit if entry.unit else ''}")
        return ", ".join(shown)
