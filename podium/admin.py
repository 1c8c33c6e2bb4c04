"""Organizer console for what spans the apps: ground-truth versions and phases, whose actions
activate a version and re-queue evaluations (evaluation) and recompute leaderboards
(leaderboard); the participants' export; the audit log."""

from contextlib import suppress

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import widgets as admin_widgets
from django.contrib.admin.models import LogEntry
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import router
from django.db.models import DateTimeField, Q
from django.db.models.deletion import Collector, ProtectedError, RestrictedError
from django.utils import timezone

from accounts.admin import PlatformAdminOnly
from challenges.admin import ParticipationAdmin, participant_profile
from challenges.console import ChallengeScopedAdmin, RecordAdmin
from challenges.models import GroundTruth, Participation, Phase, Task
from challenges.provenance import EDITABLE_FIELDS as PROVENANCE_FIELDS
from challenges.provenance_console import ProvenanceForm, manifest_html, save_provenance
from challenges.visibility import is_platform_admin
from evaluation.kinds import clinical
from evaluation.services.reevaluation import activate_ground_truth
from leaderboard.exports import csv_response
from leaderboard.services import request_refresh
from scorers.metrics import metric_label, metric_names

admin.site.site_header = "Podium console"
admin.site.site_title = "Podium console"
admin.site.index_title = "Challenges, submissions and records"

CASE_RESULTS_WARNING = (
    "Per-case results are now shown to participants. Each per-case value is an oracle on the "
    "hidden labels: one submission predicting a label everywhere learns every test label's "
    "size from its Dice (|label| = D·N/(2−D) for a case of N voxels), and a few more learn "
    "where it lies. Show them only when the test labels need not stay secret, e.g. after the "
    "challenge (docs/security.md)."
)
"""The warning for a segmentation phase (:func:`case_results_warning` gives each kind's)."""

_SUBMITTED = {Task.CLASSIFICATION: "probabilities", Task.SURVIVAL: "risks and survival curves"}
"""What a clinical kind's per-case export holds of each entrant (leaderboard.exports)."""

_CASE_RESULTS_WARNINGS = {
    Task.DETECTION: (
        "Per-case results are now shown to everyone who sees the leaderboard: the per-case "
        "export lists, per test image and class, the count of hidden boxes (positives) beside "
        "each entrant's detections and matches, so it reveals how many objects each test "
        "image holds. Show them only when the test labels need not stay secret, e.g. after "
        "the challenge (docs/security.md)."),
    **{kind: (
        "Per-case results are now shown to everyone who sees the leaderboard: the per-case "
        f"export lists each entrant's own predictions case by case (the submitted {what}), "
        "never a hidden label; the metrics are values of the whole test set, so there is no "
        "per-case score to show. Each entrant's predictions become public: show them when the "
        "entrants may see each other's submissions, e.g. after the challenge.")
       for kind, what in _SUBMITTED.items()},
}

_CASE_RESULTS_HELP = {
    Task.DETECTION: "Everyone who sees the leaderboard gets the per-case export: per test "
                    "image and class, the count of hidden boxes (positives) and each entrant's "
                    "detections and matches. The counts reveal the test labels: leave off "
                    "while they must stay secret.",
    **{kind: "Everyone who sees the leaderboard gets the per-case export: each entrant's own "
             f"predictions case by case ({what}), never a label (the metrics are values of "
             "the whole test set, with no per-case score). Leave off while the entrants' "
             "predictions should stay private."
       for kind, what in _SUBMITTED.items()},
}
"""The help of "Show case results" for the kinds whose per-case results are not the model's
segmentation values (leaderboard.exports.case_rows says what each kind's export holds)."""

_PRIMARY_METRIC_HELP = {
    Task.SEGMENTATION: "Ranks the leaderboard; the phase must compute it (one of the metrics "
                       "chosen above).",
    Task.DETECTION: "Ranks the leaderboard (a detection phase computes every detection "
                    "metric).",
    Task.CLASSIFICATION: "Ranks the leaderboard: a value of the whole test set, computed from "
                         "the submitted probabilities (a target of two classes: the binary "
                         "metrics; more: macro AUROC).",
    Task.SURVIVAL: "Ranks the leaderboard: a value of the whole test set, computed from the "
                   "submitted risks; td_auc needs survival times, integrated_brier two or "
                   "more and the survival curves at them.",
}


def case_results_warning(phase: Phase) -> str:
    """What an organizer is told when per-case results of ``phase`` become visible: what its
    kind's per-case results reveal (leaderboard.exports.case_rows)."""
    return _CASE_RESULTS_WARNINGS.get(phase.task.kind, CASE_RESULTS_WARNING)


@admin.register(GroundTruth)
class GroundTruthAdmin(ChallengeScopedAdmin):
    """Versions' labels are immutable: created by import_msd_task, activated here; only their
    provenance (collection, version, DOI, licence, URL, reference) may be corrected, each
    change in the audit log."""

    challenge_paths = ("task__challenge",)

    list_display = ["task", "version", "short_hash", "source_collection", "source_version",
                    "note", "active_in", "created"]
    list_filter = ["task__challenge", "task"]
    search_fields = ["task__key", "content_sha256", "note", "source_collection", "source_doi"]
    form = ProvenanceForm
    readonly_fields = ["task", "version", "content_sha256", "note", "created", "imported_by",
                       "source_sha256", "manifest", "provenance_changed"]
    fieldsets = [
        (None, {"fields": ["task", "version", "content_sha256", "note", "created",
                           "imported_by"]}),
        ("Provenance", {"fields": [*PROVENANCE_FIELDS, "source_sha256", "manifest",
                                   "provenance_changed"],
                        "description": "Where the labels come from: shown on the citation "
                                       "page, the leaderboard and every export (the manifest "
                                       "to organizers only)."}),
    ]
    actions = ["activate"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        """A version that a phase scores against or an evaluation was scored with cannot be
        deleted (the database protects it): its page offers no Delete button that would only
        say so. An unused version may be deleted as before."""
        if obj is not None and _deletion_refused(obj):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        save_provenance(obj, form.changed_data)

    @admin.display(description="import manifest")
    def manifest(self, gt: GroundTruth) -> str:
        return manifest_html(gt)

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
                message = f"Ground truth v{ground_truth.version} activated: {queued} " \
                          "evaluations queued."
                self.audit(request, [phase, ground_truth], f"{phase}: {message}")
                self.message_user(request, f"{phase}: {message}")


def _deletion_refused(row) -> bool:
    """Whether deleting ``row`` is refused by a protecting foreign key (as the admin's delete
    page would find)."""
    try:
        Collector(using=router.db_for_write(type(row))).collect([row])
    except (ProtectedError, RestrictedError):
        return True
    return False


def _metric_choice(name: str) -> tuple[str, str]:
    return name, metric_label(name)


class LabelledSplitDateTime(admin_widgets.AdminSplitDateTime):
    """Django's date and time boxes of one field, each with a name that assistive technology
    announces ("opens at: date"), which the stock widget lacks (axe-core: label)."""

    def __init__(self, label: str, attrs=None):
        super().__init__(attrs)
        self.label = label

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        for part, subwidget in zip(("date", "time"), context["widget"]["subwidgets"],
                                   strict=True):
            subwidget["attrs"]["aria-label"] = f"{self.label}: {part}"
        return context


class PhaseForm(forms.ModelForm):
    """A phase's form that offers only its task kind's settings, each as a field of its own:
    segmentation metrics as checkboxes from the metric registry, the NSD tolerance of every
    label by its name; no JSON typed by hand. A new phase gets its task's latest ground truth
    and the kind's default primary metric."""

    class Meta:
        model = Phase
        fields = ["task"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        task = self.instance.task if self.instance.task_id else None
        if task is None:
            return
        if "metrics" in self.fields:
            self.fields["metrics"] = forms.MultipleChoiceField(
                choices=[_metric_choice(n) for n in metric_names(Task.SEGMENTATION)],
                widget=forms.CheckboxSelectMultiple,
                help_text="The metrics computed for every case and label.")
            self.initial["metrics"] = self.instance.scored_metrics()  # none stored: all
        if "primary_metric" in self.fields:
            self.fields["primary_metric"] = PrimaryMetricField(
                phase=self.instance,
                choices=[_metric_choice(n) for n in self.instance.primary_metric_choices()],
                help_text=_PRIMARY_METRIC_HELP.get(task.kind, "Ranks the leaderboard."))
        if "show_case_results" in self.fields and task.kind in _CASE_RESULTS_HELP:
            self.fields["show_case_results"].help_text = _CASE_RESULTS_HELP[task.kind]
        for name, bounds in _BOUNDS.items():
            if name in self.fields:
                # The bound replaces the model field's own weaker one of the same kind (a
                # positive integer's ≥ 0), so a bad value gets one message, not two.
                field = self.fields[name]
                kinds = {type(bound) for bound in bounds}
                field.validators = [v for v in field.validators if type(v) not in kinds] + bounds
        for name, label in _LABELS.items():
            if name in self.fields:
                self.fields[name].label = label
        if "survival_times" in self.fields:
            self.fields["survival_times"] = TimesField(
                required=False, label="Survival times",
                help_text="Times of the time-dependent AUC and of the survival curves a file "
                          "may carry (S@365, …; two or more for the integrated Brier score), "
                          "in the task's time unit, increasing, within the test labels' "
                          "follow-up, separated by commas (e.g. 365, 730, 1095); empty: none.")
        if "limit_period" in self.fields:
            self.fields["limit_period"].choices = LIMIT_PERIODS
        for value in task.foreground_labels:
            if tolerance_field(value) in self.fields:
                self.initial[tolerance_field(value)] = self.instance.tolerance_for(value)

    def clean(self):
        cleaned = super().clean()
        task = cleaned.get("task") or (self.instance.task if self.instance.task_id else None)
        if self.instance._state.adding and task is not None:
            self.instance.primary_metric = Phase(task=task).default_primary_metric()
            self.instance.active_ground_truth = task.ground_truths.order_by("-version").first()
        times = cleaned.get("survival_times")
        if task is not None and times and "survival_times" not in self.errors and (
                problem := clinical.times_problem(
                    task, self.instance.active_ground_truth
                    if self.instance.active_ground_truth_id else None, times)):
            self.add_error("survival_times", problem)
        tolerances = {str(value): cleaned[tolerance_field(value)]
                      for value in (task.foreground_labels if task else [])
                      if cleaned.get(tolerance_field(value)) is not None}
        if tolerances:
            self.instance.nsd_tolerance_mm = tolerances
        # The form leaves the task out when it edits a phase, so Django's own check of the
        # (task, name) constraint is skipped: without this a duplicate name reached the database.
        name = cleaned.get("name")
        if task is not None and name and (
                Phase.objects.filter(task=task, name=name).exclude(pk=self.instance.pk).exists()):
            self.add_error("name", f"The task {task.key} already has a phase named {name!r}.")
        return cleaned


class PrimaryMetricField(forms.ChoiceField):
    """The phase's primary metric among those it can compute; another of its kind's metrics
    is refused saying why (``Phase.metric_problem``: auroc of a multi-class target), and so is
    a metric of another kind (auroc on a survival phase)."""

    def __init__(self, *, phase: Phase, **kwargs):
        super().__init__(**kwargs)
        self.phase = phase

    def validate(self, value):
        try:
            super().validate(value)
        except ValidationError:
            problem = self.phase.metric_problem(value)
            if problem is None:
                raise
            raise ValidationError(problem, code="invalid_choice") from None


class TimesField(forms.CharField):
    """A list of times typed as "365, 730" (or given as a list of numbers, as the organizer
    API does); cleaned to a list of floats, which the model's clean() checks."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(f"{t:g}" if isinstance(t, int | float) else str(t) for t in value)
        return value

    def to_python(self, value):
        if isinstance(value, list):
            parts = value
        else:
            text = super().to_python(value)
            parts = [part for part in text.replace(";", ",").split(",") if part.strip()]
        times = []
        for part in parts:
            try:
                times.append(float(part))
            except (TypeError, ValueError):
                raise ValidationError(f"{part!r} is not a number") from None
        return times


_BOUNDS = {
    "iou_threshold": [MinValueValidator(0.01), MaxValueValidator(1.0)],
    "classification_threshold": [MinValueValidator(0.0), MaxValueValidator(1.0)],
    "seg_fractional_threshold": [MinValueValidator(0.0), MaxValueValidator(1.0)],
    "survival_tau": [MinValueValidator(0.0)],
    "worst_distance_mm": [MinValueValidator(0.0)],
    "algorithm_cpus": [MinValueValidator(0.1)],
    "algorithm_memory_mb": [MinValueValidator(64)],
    "algorithm_time_limit_s": [MinValueValidator(1)],
    "submission_limit": [MinValueValidator(1)],
}


_LABELS = {
    "worst_distance_mm": "Worst distance (mm)",
    "iou_threshold": "IoU threshold",
    "classification_threshold": "Decision threshold",
    "accepts_dicom_seg": "Accept DICOM SEG predictions",
    "seg_fractional_threshold": "Fractional SEG threshold",
    "survival_tau": "τ of Uno's C",
    "voc2007": "VOC2007 11-point AP",
    "algorithm_memory_mb": "Memory (MB)",
    "algorithm_cpus": "CPUs",
    "algorithm_time_limit_s": "Time limit (s)",
    "show_algorithm_logs": "Show the algorithm's logs to its submitter",
}
"""Field labels in words (the model's field names read "Algorithm memory mb")."""

LIMIT_PERIODS = [("day", "per 24 hours (rolling)"), ("week", "per 7 days (rolling)"),
                 ("phase", "for the whole phase")]
"""The limit's windows as the phase pages count them ("in the last 24 hours"): rolling, not
calendar days, which the model's "per day" suggests."""


def tolerance_field(label: int) -> str:
    return f"nsd_tolerance_{label}"


def phase_form_for(task: Task | None) -> type[PhaseForm]:
    """The phase form with one NSD tolerance field per foreground label of ``task``, named."""
    if task is None or task.kind != Task.SEGMENTATION:
        return PhaseForm
    fields = {tolerance_field(value): forms.FloatField(
        label=f"NSD tolerance, {task.labels.get(str(value), value)} (mm)",
        help_text=f"Label {value}.", min_value=0.0) for value in task.foreground_labels}
    return type("PhaseForm", (PhaseForm,), fields)


@admin.register(Phase)
class PhaseAdmin(ChallengeScopedAdmin):
    challenge_paths = ("task__challenge",)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, DateTimeField):
            kwargs["widget"] = LabelledSplitDateTime(str(db_field.verbose_name))
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    list_display = ["__str__", "submission_kind", "primary_metric", "is_public", "show_scores",
                    "opens_at", "closes_at"]
    list_filter = ["task__challenge", "submission_kind", "is_public", "show_scores"]
    search_fields = ["name", "task__key", "task__name"]
    actions = ["publish", "unpublish", "recompute"]
    _COMMON = [
        ("Limits and dates", {"fields": ["submission_limit", "limit_period", "count_failed",
                                         "opens_at", "closes_at"]}),
        ("Visibility", {"fields": ["is_public", "show_scores", "show_case_results",
                                   "public_score_decimals", "leaderboard_selection"]}),
        ("Ranking", {"fields": ["ranking_method", "ranking_ties", "ranking_adjust",
                                "ranking_alpha", "bootstrap_samples", "ranking_seed"],
                     "description": "How the leaderboard ranks (docs/ranking.md). Saving a "
                                    "change recomputes the leaderboard."}),
    ]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {
                "fields": ["task", "name", "submission_kind", "opens_at", "closes_at"],
                "description": "The new phase scores against its task's latest ground truth. "
                               "Save, then choose its metrics, limits and visibility."})]
        head = (None, {"fields": ["task", "name", "submission_kind", "active_ground_truth"]})
        if obj.task.kind == Task.DETECTION:
            return [head, ("Scoring", {"fields": ["primary_metric", "iou_threshold", "voc2007",
                                                  "plus_one"]}), *self._COMMON]
        tolerances = [tolerance_field(value) for value in obj.task.foreground_labels]
        containers = [("Algorithm containers", {
            "fields": ["algorithm_memory_mb", "algorithm_cpus", "algorithm_time_limit_s",
                       "show_algorithm_logs"],
            "description": "Limits of each run of a submitted container (docs/runner.md)."})]
        if obj.task.kind in Task.CLINICAL_KINDS:  # docs/clinical.md
            settings = (["classification_threshold"] if obj.task.kind == Task.CLASSIFICATION
                        else ["survival_tau", "survival_times"])
            return [head, ("Scoring", {"fields": ["primary_metric", *settings]}),
                    *(containers if obj.submission_kind == Phase.ALGORITHM else []),
                    *self._COMMON]
        # Offered where it can be on: a predictions phase of a task imported from DICOM.
        dicom = ([("DICOM SEG predictions", {
            "fields": ["accepts_dicom_seg", "seg_fractional_threshold"],
            "description": "docs/dicom.md, \"DICOM SEG predictions\"."})]
            if obj.submission_kind == Phase.PREDICTIONS
            and any(case.get("dicom") for case in obj.task.cases) else [])
        return [
            head,
            ("Scoring", {"fields": ["metrics", "primary_metric", *tolerances, "surface",
                                    "worst_distance_mm", "allow_partial"]}),
            *dicom,
            *(containers if obj.submission_kind == Phase.ALGORITHM else []),
            *self._COMMON,
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return [*fields, "task", "active_ground_truth"] if obj else fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = phase_form_for(obj.task if obj else None)
        return super().get_form(request, obj, change, **kwargs)

    def response_add(self, request, obj, post_url_continue=None):
        """A new phase goes on to its full form, which offers its task kind's settings."""
        request.POST = request.POST.copy()
        request.POST["_continue"] = "1"
        return super().response_add(request, obj, post_url_continue)

    def save_model(self, request, obj, form, change):
        before = Phase.objects.get(pk=obj.pk) if change else None
        super().save_model(request, obj, form, change)
        if obj.show_case_results and not (before and before.show_case_results):
            self.message_user(request, case_results_warning(obj), messages.WARNING)
        if change and obj.active_ground_truth_id and obj.metric_config() != before.metric_config():
            queued = activate_ground_truth(obj, obj.active_ground_truth)
            message = f"The scoring configuration changed: {queued} submissions queued to " \
                      "be scored with it."
            self.audit(request, [obj], message)
            self.message_user(request, message)

    @admin.action(description="Publish the leaderboards")
    def publish(self, request, queryset):
        self.audit(request, list(queryset), "Published the leaderboard.")
        self.message_user(request, f"{queryset.update(is_public=True)} leaderboards published.")

    @admin.action(description="Unpublish the leaderboards")
    def unpublish(self, request, queryset):
        self.audit(request, list(queryset), "Unpublished the leaderboard.")
        self.message_user(request, f"{queryset.update(is_public=False)} leaderboards hidden.")

    @admin.action(description="Recompute the leaderboards")
    def recompute(self, request, queryset):
        for phase in queryset:
            request_refresh(phase.id)
        self.audit(request, list(queryset), "Asked to recompute the leaderboard.")
        self.message_user(request, f"{queryset.count()} leaderboards will be recomputed.")


class ParticipationConsole(ParticipationAdmin):
    """The participants' table with its CSV export (written by leaderboard's CSV writer, whose
    cells a spreadsheet never runs as formulas)."""

    actions = [*ParticipationAdmin.actions, "export_csv"]

    @admin.action(description="Export the selected participants (CSV)")
    def export_csv(self, request, queryset):
        """For contacting participants, e-mail addresses included: the organizers of a
        challenge may write to those who joined it (docs/organizers.md). Never a password hash
        or a token."""
        rows = list(queryset.select_related("user__profile", "team", "challenge")
                    .order_by("challenge__slug", "user__username"))
        self.audit(request, rows, "Exported in a participants CSV.")
        header = ["challenge", "username", "full_name", "affiliation", "email", "status",
                  "team", "joined_at", "terms_accepted_at"]
        table = [[row.challenge.slug, row.user.get_username(),
                  participant_profile(row).full_name, participant_profile(row).affiliation,
                  row.user.email, row.status, row.team.name if row.team else "",
                  row.created.isoformat(), row.terms_accepted_at.isoformat()] for row in rows]
        return csv_response(f"participants-{timezone.now():%Y%m%d-%H%M}.csv", header, table)


admin.site.unregister(Participation)
admin.site.register(Participation, ParticipationConsole)


class ContentTypeFilter(admin.SimpleListFilter):
    """The kinds of row the viewer's entries are about: an organizer's list never names the
    platform's other tables (sessions, permissions, API tokens, failed logins)."""

    title = "kind of row"
    parameter_name = "content_type"

    def lookups(self, request, model_admin):
        kinds = (model_admin.get_queryset(request).order_by()
                 .values_list("content_type", flat=True).distinct())
        found = [ContentType.objects.get_for_id(pk) for pk in kinds if pk is not None]
        return sorted(((str(kind.pk), kind.name) for kind in found), key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            raise IncorrectLookupParameters(f"{value!r} names no kind of row")
        return queryset.filter(content_type_id=int(value))


@admin.register(LogEntry)
class AuditLogAdmin(RecordAdmin, ChallengeScopedAdmin):
    """The audit log: every add, change and deletion made in the console and every organizer
    action (approve, reject, activate, re-evaluate, cancel, publish, import, export), read-only.
    An organizer sees the entries about rows of their own challenges."""

    list_display = ["action_time", "user", "action", "item", "message"]
    list_filter = ["action_flag", ContentTypeFilter]
    search_fields = ["object_repr", "change_message", "user__username"]
    date_hierarchy = "action_time"

    def get_queryset(self, request):
        rows = admin.ModelAdmin.get_queryset(self, request).select_related("user",
                                                                           "content_type")
        if is_platform_admin(request.user):
            return rows
        scope = Q(pk__in=[])
        for content_type_id in rows.values_list("content_type", flat=True).distinct():
            model = ContentType.objects.get_for_id(content_type_id).model_class()
            scoped = self._scoped_admin(model)
            if scoped is None or scoped is self:
                continue
            logged = rows.filter(content_type_id=content_type_id).values_list("object_id",
                                                                               flat=True)
            ids = [str(pk) for pk in scoped.get_queryset(request).filter(
                pk__in=_valid_keys(model, set(logged))).values_list("pk", flat=True)]
            scope |= Q(content_type_id=content_type_id, object_id__in=ids)
        return rows.filter(scope)

    def get_list_filter(self, request):
        return self.list_filter  # the content types are models' names, not challenges' rows

    @admin.display(description="action")
    def action(self, entry: LogEntry) -> str:
        return {1: "added", 2: "changed", 3: "deleted"}.get(entry.action_flag, "")

    @admin.display(description="concerning", ordering="object_repr")
    def item(self, entry: LogEntry) -> str:
        """The row the entry is about, after its kind: "participation: ines in decathlon
        (accepted)"."""
        kind = entry.content_type.name if entry.content_type_id else ""
        return f"{kind}: {entry.object_repr}" if kind else entry.object_repr

    @admin.display(description="what was done")
    def message(self, entry: LogEntry) -> str:
        return entry.get_change_message()


def _valid_keys(model, keys: set[str]) -> list:
    """The keys among ``keys`` that ``model``'s primary key accepts (a deleted row's entry may
    name anything)."""
    valid = []
    for key in keys:
        with suppress(ValidationError):  # a key the field refuses names no row here
            valid.append(model._meta.pk.to_python(key))
    return valid


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
