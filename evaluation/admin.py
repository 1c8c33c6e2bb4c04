"""Organizer console: submissions and their evaluations (organizer logs live here only), and
task imports, of the challenges each organizer organizes (challenges/console.py)."""

from django import forms
from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime

from challenges.console import ChallengeScopedAdmin, ChallengeScopedInline
from challenges.visibility import is_platform_admin
from scorers.metrics import metric

from .models import ACTIVE_STATES, CaseResult, Evaluation, ImportJob, State, Submission
from .results import primary_score
from .services.import_jobs import queue_import
from .services.reevaluation import reevaluate
from .states import InvalidTransition, transition

PROGRESS_LINES = 30
"""The latest lines of an import's progress that its page shows while it runs."""


class EvaluationInline(ChallengeScopedInline):
    model = Evaluation
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["state", "ground_truth", "participant_message", "created", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class StateFilter(admin.SimpleListFilter):
    """A submission's state: its newest evaluation's."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return State.choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        newest = Evaluation.objects.filter(submission=OuterRef("pk")).order_by("-created")
        return queryset.annotate(newest_state=Subquery(newest.values("state")[:1])).filter(
            newest_state=self.value())


def cancel(evaluations) -> list[Evaluation]:
    """Cancel the evaluations still in flight; returns those cancelled."""
    cancelled = []
    for evaluation in evaluations.filter(state__in=ACTIVE_STATES):
        try:
            transition(evaluation.id, State.CANCELLED,
                       participant_message="Cancelled by the organizers.")
        except InvalidTransition:
            continue
        cancelled.append(evaluation)
    return cancelled


@admin.register(Submission)
class SubmissionAdmin(ChallengeScopedAdmin):
    challenge_paths = ("phase__task__challenge",)
    list_display = ["entry", "phase", "state", "score", "kind", "description"]
    list_select_related = ["phase__task", "team", "creator"]
    list_filter = [StateFilter, "phase__task__challenge", "phase", "kind", "is_valid"]
    search_fields = ["id", "creator__username", "team__name", "file_name", "description"]
    date_hierarchy = "created"
    fields = ["phase", "creator", "team", "kind", "description", "file_name", "file_size",
              "file_sha256", "image_id", "is_valid", "created"]
    readonly_fields = ["phase", "creator", "team", "kind", "file_name", "file_size",
                       "file_sha256", "image_id", "is_valid", "created"]
    inlines = [EvaluationInline]
    actions = ["reevaluate_selected", "cancel_selected"]

    def has_add_permission(self, request):
        return False  # participants submit; a row made by hand would have no file or phase

    @admin.display(description="submission", ordering="created")
    def entry(self, submission: Submission) -> str:
        """Who and when, the row's link: readable where the id (a UUID) is not."""
        created = date_format(localtime(submission.created), "DATETIME_FORMAT")
        return f"{submission.participant_name} · {created}"

    @admin.display(description="score")
    def score(self, submission: Submission) -> str:
        """The primary metric as its leaderboard ranks it, exact, with the registry's places."""
        latest = submission.current_evaluation()
        value = primary_score(latest.aggregate, submission.phase.primary_metric) if latest \
            else None
        if value is None:
            return "—"
        entry = metric(submission.phase.primary_metric)
        return f"{entry.label} {value:.{entry.decimals}f}"

    @admin.display(description="state")
    def state(self, submission: Submission) -> str:
        latest = submission.current_evaluation()
        return latest.state if latest else "—"

    @admin.action(description="Re-evaluate against the active ground truth")
    def reevaluate_selected(self, request, queryset):
        rows = list(queryset)
        queued = reevaluate(rows)
        self.audit(request, rows, "Re-evaluation requested.")
        self.message_user(request, f"{queued} evaluations queued.")

    @admin.action(description="Cancel the selected submissions' evaluations in flight")
    def cancel_selected(self, request, queryset):
        cancelled = cancel(Evaluation.objects.filter(submission__in=queryset))
        self.audit(request, list(queryset.filter(evaluations__in=cancelled).distinct()),
                   "Evaluation cancelled.")
        self.message_user(request, f"{len(cancelled)} evaluations cancelled.")


@admin.register(Evaluation)
class EvaluationAdmin(ChallengeScopedAdmin):
    """An evaluation's record: its state, messages, logs and results. What only the worker
    machinery reads (the lease, shards, worker and heartbeat) is for platform administrators."""

    challenge_paths = ("submission__phase__task__challenge",)
    list_display = ["id", "submission", "state", "ground_truth", "attempts", "created",
                    "finished_at"]
    list_filter = ["state", "submission__phase", "ground_truth"]
    search_fields = ["id", "submission__id", "submission__creator__username"]
    date_hierarchy = "created"
    fields = ["submission", "ground_truth", "state", "participant_message", "organizer_log",
              "logs", "scoring", "scores", "progress", "attempts", "created", "enqueued_at",
              "started_at", "finished_at"]
    internals = ["worker", "heartbeat_at", "lease", "shards_total", "shards_taken",
                 "shards_finished", "outputs"]
    actions = ["cancel_selected"]

    def get_fields(self, request, obj=None):
        return self.fields + (self.internals if is_platform_admin(request.user) else [])

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request):
        return False

    @admin.display(description="scoring configuration")
    def scoring(self, evaluation: Evaluation) -> str:
        return _pairs(evaluation.metric_config)

    @admin.display(description="aggregate")
    def scores(self, evaluation: Evaluation) -> str:
        return _pairs(evaluation.aggregate or {})

    @admin.display(description="cases scored")
    def progress(self, evaluation: Evaluation) -> str:
        return f"{evaluation.cases_done} of {evaluation.cases_total}"

    @admin.action(description="Cancel the selected evaluations")
    def cancel_selected(self, request, queryset):
        cancelled = cancel(queryset)
        self.audit(request, cancelled, "Cancelled.")
        self.message_user(request, f"{len(cancelled)} evaluations cancelled.")


def _pairs(mapping: dict) -> str:
    """A JSON object as "key: value" lines, never as raw JSON."""
    return "\n".join(f"{key}: {_shown(value)}" for key, value in mapping.items()) or "—"


def _shown(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key} {_shown(item)}" for key, item in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(_shown(item) for item in value) or "—"
    return "—" if value is None else str(value)


@admin.register(CaseResult)
class CaseResultAdmin(ChallengeScopedAdmin):
    """Read-only: results change only by scoring again."""

    challenge_paths = ("evaluation__submission__phase__task__challenge",)

    list_display = ["evaluation", "case", "label", "metric_values", "missing"]
    list_filter = ["missing"]
    search_fields = ["case", "evaluation__id"]
    fields = ["evaluation", "case", "label", "metric_values", "missing"]
    readonly_fields = fields

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


class ImportForm(forms.ModelForm):
    class Meta:
        model = ImportJob
        fields = ["challenge", "file", "note", "activate", "deidentify"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "file" in self.fields:  # the add form; a job's own page shows it read-only
            self.fields["file"].required = True
            self.fields["file"].label = "Task archive"
            self.fields["file"].help_text += (
                " Or a DICOM collection as .zip/.tar(.gz): the series and SEG files, "
                "manifest.csv (subject,split) and optionally metadata.json, without "
                "dataset.json; it is converted to NIfTI first (docs/dicom.md, \"Import\").")


@admin.register(ImportJob)
class ImportJobAdmin(ChallengeScopedAdmin):
    """Import a task, or a new ground-truth version of one, from an uploaded MSD archive: the
    upload streams to the data folder, a worker imports it (the code of ``import_msd_task``),
    and the job's page follows its progress."""

    challenge_paths = ("challenge",)
    form = ImportForm
    list_display = ["created", "file_name", "challenge", "state", "task", "ground_truth",
                    "requeued", "user"]
    list_filter = ["state", "challenge"]
    search_fields = ["file_name", "note", "task__key"]
    fields = ["challenge", "file_name", "note", "activate", "deidentify", "state",
              "attempts", "progress", "error", "summary", "task", "ground_truth", "phase",
              "requeued", "rescored", "user", "created", "started_at", "finished_at"]

    def get_fields(self, request, obj=None):
        return (["challenge", "file", "note", "activate", "deidentify"] if obj is None
                else self.fields)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.fields

    def has_change_permission(self, request, obj=None):
        return False  # a record: what an import did stays as it was

    @admin.display(description="re-scored")
    def rescored(self, job: ImportJob) -> str:
        """The evaluations against the imported version, to follow what it re-scored."""
        if not job.requeued:
            return "—"
        url = reverse("admin:evaluation_evaluation_changelist")
        return format_html('<a href="{}?ground_truth__id__exact={}">the evaluations against '
                           "v{}</a>", url, job.ground_truth_id, job.ground_truth.version)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.user = request.user
        obj.file_name = form.cleaned_data["file"].name[:255]
        super().save_model(request, obj, form, change)
        queue_import(obj)

    def log_addition(self, request, obj, message):
        return super().log_addition(
            request, obj, f"Queued the import of {obj.file_name}"
                          f"{' (activate a new ground truth)' if obj.activate else ''}.")

    def response_add(self, request, obj, post_url_continue=None):
        """On to the job's page, which follows the import."""
        return redirect(reverse("admin:evaluation_importjob_change", args=[obj.pk]))

    def get_urls(self):
        return [path("<path:object_id>/progress/",
                     self.admin_site.admin_view(self.progress_view),
                     name="evaluation_importjob_progress"),
                *super().get_urls()]

    def progress_view(self, request, object_id):
        """The job's state and latest progress lines, for the page's poller (static/console.js)."""
        job = self.get_object(request, object_id)
        if job is None or not self.has_view_permission(request, job):
            return JsonResponse({"error": "not found"}, status=404)
        return JsonResponse({"state": job.state, "state_label": job.get_state_display(),
                             "finished": job.is_finished,
                             "progress": job.progress.splitlines()[-PROGRESS_LINES:]})
