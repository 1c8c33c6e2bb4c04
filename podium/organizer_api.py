"""REST API for a challenge's organizers (docs/api.md, "Organizer endpoints"): a phase's
configuration, read and changed through the console's own phase form; all of a phase's
submissions, re-evaluated or cancelled as the console's actions do; and the ground-truth
versions of the phase's task, their metadata only — never a label or a storage path.

Who may act, and the audit log every write goes to, are challenges.organizer_api's.
"""

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.forms import modelform_factory
from django.http import QueryDict
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from challenges import provenance
from challenges.models import Phase
from challenges.organizer_api import (
    IdsSerializer,
    audit,
    organized_phase,
    rows_by_id,
)
from challenges.provenance_console import save_provenance
from core.api import PageSerializer, page_of, paginated, query, responses, validated
from core.errors import InvalidInput
from evaluation.admin import cancel
from evaluation.api import SubmissionFilterSerializer, SubmissionSerializer, filtered
from evaluation.models import Evaluation
from evaluation.presentation import submission_payload, with_payload_data
from evaluation.services.reevaluation import activate_ground_truth, reevaluate

from .admin import case_results_warning, phase_form_for, tolerance_field

TOLERANCES = "nsd_tolerance_mm"
"""The API's one field for the console's NSD tolerance fields, one per label: label name → mm."""

_CHOICES = "The console's choices; another value answers 400 with the console's message."


class PhaseConfigurationSerializer(serializers.Serializer):
    """A phase's settings as the console's phase form has them. Only the settings of the
    phase's kind appear (detection: no metrics or tolerances; predictions: no container
    limits); a PATCH names any of them and leaves the others as they are."""

    name = serializers.CharField(required=False)
    submission_kind = serializers.CharField(required=False, help_text=_CHOICES)
    metrics = serializers.ListField(child=serializers.CharField(), required=False,
                                    help_text="Segmentation metrics computed (names).")
    primary_metric = serializers.CharField(required=False, help_text="Ranks the leaderboard.")
    nsd_tolerance_mm = serializers.DictField(
        child=serializers.FloatField(allow_null=True), required=False,
        help_text='NSD tolerance in mm by label name, e.g. {"liver": 2.0, "tumour": 1.0}.')
    surface = serializers.CharField(required=False, help_text=_CHOICES)
    worst_distance_mm = serializers.FloatField(required=False, allow_null=True)
    allow_partial = serializers.BooleanField(required=False)
    accepts_dicom_seg = serializers.BooleanField(
        required=False, help_text="Segmentation tasks imported from DICOM: a case may be "
                                  "predicted by a DICOM SEG (<case>.dcm).")
    seg_fractional_threshold = serializers.FloatField(
        required=False, help_text="A FRACTIONAL SEG's pixel is inside at value / maximum of at "
                                  "least this (above 0, at most 1).")
    iou_threshold = serializers.FloatField(required=False)
    voc2007 = serializers.BooleanField(required=False)
    plus_one = serializers.BooleanField(required=False)
    classification_threshold = serializers.FloatField(
        required=False, help_text="Classification: a case is positive at a probability of at "
                                  "least this (0 to 1).")
    survival_tau = serializers.FloatField(
        required=False, allow_null=True,
        help_text="Survival: truncation time τ of Uno's C (null: none).")
    survival_times = serializers.ListField(
        child=serializers.FloatField(), required=False,
        help_text="Survival: times of the time-dependent AUC, increasing.")
    algorithm_memory_mb = serializers.IntegerField(required=False)
    algorithm_cpus = serializers.FloatField(required=False)
    algorithm_time_limit_s = serializers.IntegerField(required=False)
    show_algorithm_logs = serializers.BooleanField(required=False)
    submission_limit = serializers.IntegerField(required=False, allow_null=True)
    limit_period = serializers.CharField(required=False, help_text=_CHOICES)
    count_failed = serializers.BooleanField(required=False)
    opens_at = serializers.DateTimeField(required=False, allow_null=True)
    closes_at = serializers.DateTimeField(required=False, allow_null=True)
    is_public = serializers.BooleanField(required=False)
    show_scores = serializers.BooleanField(required=False)
    show_case_results = serializers.BooleanField(required=False)
    public_score_decimals = serializers.IntegerField(required=False, allow_null=True)
    leaderboard_selection = serializers.CharField(required=False, help_text=_CHOICES)
    ranking_method = serializers.CharField(required=False, help_text=_CHOICES)
    ranking_ties = serializers.CharField(required=False, help_text=_CHOICES)
    ranking_adjust = serializers.CharField(required=False, help_text=_CHOICES)
    ranking_alpha = serializers.FloatField(required=False)
    bootstrap_samples = serializers.IntegerField(required=False)
    ranking_seed = serializers.IntegerField(required=False)


class PhaseSettingsSerializer(PhaseConfigurationSerializer):
    """A phase's configuration as read: its settings, and what is not changed here."""

    id = serializers.UUIDField()
    task = serializers.CharField(help_text="The task's key.")
    task_kind = serializers.CharField()
    ground_truth_version = serializers.IntegerField(
        allow_null=True, help_text="The active version (changed by activating another).")


class PhaseConfigurationChangedSerializer(PhaseSettingsSerializer):
    queued = serializers.IntegerField(min_value=0, help_text=(
        "Submissions queued to be scored again because the scoring configuration changed."))
    warnings = serializers.ListField(child=serializers.CharField(), help_text=(
        "What the console would warn of (per-case results shown to participants)."))


def _form(request, phase: Phase, data: dict | None = None):
    """The console's form of ``phase`` with the console's settings of it: the fields its page
    shows (by the phase's kind) less those read-only there, validated by the same form class
    (podium.admin.PhaseForm), model validation included. Dates are single ISO 8601 values
    rather than the page's date and time boxes."""
    console = admin.site.get_model_admin(Phase)
    read_only = set(console.get_readonly_fields(request, phase))
    names = [name for name in flatten_fieldsets(console.get_fieldsets(request, phase))
             if name not in read_only]
    form_class = modelform_factory(Phase, form=phase_form_for(phase.task), fields=names)
    return form_class(data, instance=phase)


def _tolerance_fields(phase: Phase, form) -> dict[str, str]:
    """The tolerance fields of the console's ``form`` of ``phase`` (one per foreground label of
    a segmentation task) → the label's name."""
    return {tolerance_field(value): phase.task.labels.get(str(value), str(value))
            for value in phase.task.foreground_labels if tolerance_field(value) in form.fields}


def _settings(request, phase: Phase) -> dict:
    form = _form(request, phase)
    payload = {"id": str(phase.id), "task": phase.task.key, "task_kind": phase.task.kind,
               "ground_truth_version": (phase.active_ground_truth.version
                                        if phase.active_ground_truth_id else None)}
    tolerances = _tolerance_fields(phase, form)
    for field in form.fields:
        value = form[field].initial
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        if field in tolerances:
            payload.setdefault(TOLERANCES, {})[tolerances[field]] = value
        else:
            payload[field] = value
    return payload


def _form_data(request, phase: Phase, given: dict) -> dict:
    """The form's data: the phase's current settings with the ``given`` ones in their place;
    a setting this phase does not have answers 400 naming it."""
    current = _form(request, phase)
    data = {field: current[field].initial for field in current.fields}
    by_name = {name: field for field, name in _tolerance_fields(phase, current).items()}
    unknown = [field for field in given if field != TOLERANCES and field not in data]
    if TOLERANCES in given and not by_name:
        unknown.append(TOLERANCES)
    elif TOLERANCES in given:
        unknown += [f"{TOLERANCES}.{name}" for name in given[TOLERANCES] if name not in by_name]
    if unknown:
        settings = sorted(field for field in data if field not in by_name.values())
        labels = f" (labels: {', '.join(by_name)})" if by_name else ""
        raise InvalidInput(f"not a setting of this phase: {', '.join(unknown)}; its settings: "
                           f"{', '.join(settings + ([TOLERANCES] if by_name else []))}{labels}")
    data.update({by_name[name]: value for name, value in given.get(TOLERANCES, {}).items()})
    data.update({field: value for field, value in given.items() if field != TOLERANCES})
    # A field whose default is computed (the ranking seed) compares with the initial value the
    # console's page sends along, hidden; without it the field would always count as changed.
    data.update({current.add_initial_prefix(field): current[field].initial
                 for field, form_field in current.fields.items()
                 if form_field.show_hidden_initial})
    return data


def _errors(phase: Phase, form) -> dict:
    """The form's errors under the API's names (a tolerance: ``nsd_tolerance_mm.<label>``)."""
    tolerances = _tolerance_fields(phase, form)
    return {(f"{TOLERANCES}.{tolerances[field]}" if field in tolerances else field):
            list(messages) for field, messages in form.errors.items()}


def _check_fields(request) -> None:
    """Refuse a body naming what is not a setting at all (a read-only field, a typo): DRF
    would drop it silently."""
    if isinstance(request.data, dict):
        known = set(PhaseConfigurationSerializer().fields)
        unknown = sorted(str(field) for field in request.data if field not in known)
        if unknown:
            raise InvalidInput(f"not a setting that can be changed: {', '.join(unknown)}")


@extend_schema(methods=["GET"], summary="A phase's configuration (organizers)",
               responses=responses({200: PhaseSettingsSerializer}, 403, 404))
@extend_schema(
    methods=["PATCH"],
    summary="Change a phase's configuration, validated as the console's phase form (organizers)",
    request=PhaseConfigurationSerializer,
    responses=responses({200: OpenApiResponse(PhaseConfigurationChangedSerializer,
                                              "The configuration as saved.")},
                        400, 403, 404, 415),
)
@api_view(["GET", "PATCH"])
@permission_classes([IsAuthenticated])
def phase_configuration(request, phase_id):
    phase = organized_phase(request.user, phase_id)
    if request.method == "GET":
        return Response(_settings(request, phase))
    _check_fields(request)
    given = validated(request, PhaseConfigurationSerializer)
    before = Phase.objects.select_related("task").get(pk=phase.pk)
    form = _form(request, phase, _form_data(request, phase, given))
    if not form.is_valid():
        raise ValidationError(_errors(phase, form))
    console = admin.site.get_model_admin(Phase)
    phase = form.save()
    queued = 0
    if form.has_changed():
        console.log_change(request, phase, console.construct_change_message(request, form, None))
    if phase.active_ground_truth_id and phase.metric_config() != before.metric_config():
        queued = activate_ground_truth(phase, phase.active_ground_truth)
        audit(request, [phase], f"The scoring configuration changed: {queued} submissions "
                                "queued to be scored with it.")
    warnings = ([case_results_warning(phase)]
                if phase.show_case_results and not before.show_case_results else [])
    phase.refresh_from_db()
    return Response({**_settings(request, phase), "queued": queued, "warnings": warnings})


class OrganizerSubmissionSerializer(SubmissionSerializer):
    """A submission as its organizers see it: also who sent it."""

    creator = serializers.CharField(help_text="The submitter's username.")
    team = serializers.CharField(allow_null=True, help_text="The submitter's team, if any.")
    entrant = serializers.CharField(help_text="The team's name, or the submitter's.")


def _submissions(phase: Phase, user):
    return with_payload_data(phase.submissions.all(), user).select_related("team", "creator")


def _submission_payload(submission, user) -> dict:
    return {**submission_payload(submission, user, with_cases=False),
            "creator": submission.creator.get_username(),
            "team": submission.team.name if submission.team_id else None,
            "entrant": submission.participant_name}


@extend_schema(
    operation_id="organizer_phase_submissions_list",
    summary="All of a phase's submissions, with who sent them (organizers)",
    parameters=[PageSerializer, SubmissionFilterSerializer],
    responses=responses({200: page_of(OrganizerSubmissionSerializer)}, 400, 403, 404),
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def phase_submissions(request, phase_id):
    phase = organized_phase(request.user, phase_id)
    filters = query(request, SubmissionFilterSerializer)
    return paginated(request, filtered(_submissions(phase, request.user), filters),
                     lambda page: [_submission_payload(s, request.user) for s in page])


class SubmissionsQueuedSerializer(serializers.Serializer):
    queued = serializers.IntegerField(min_value=0, help_text=(
        "Evaluations queued (none for a refused upload, or without an active ground truth)."))
    submissions = OrganizerSubmissionSerializer(many=True)


class SubmissionsCancelledSerializer(serializers.Serializer):
    cancelled = serializers.IntegerField(min_value=0, help_text=(
        "Evaluations cancelled (the others had already finished)."))
    submissions = OrganizerSubmissionSerializer(many=True)


def _named_submissions(request, phase: Phase) -> list:
    ids = validated(request, IdsSerializer)["ids"]
    return rows_by_id(phase.submissions.all(), ids, "submission of this phase")


def _answer(request, phase: Phase, rows: list) -> list[dict]:
    """The named submissions as they are now, in the order named."""
    now = _submissions(phase, request.user).in_bulk([row.pk for row in rows])
    return [_submission_payload(now[row.pk], request.user) for row in rows]


@extend_schema(
    summary="Re-evaluate submissions against the active ground truth (organizers)",
    request=IdsSerializer,
    responses=responses({200: SubmissionsQueuedSerializer}, 400, 403, 404, 415),
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def submissions_reevaluate(request, phase_id):
    """As the console's "Re-evaluate" action: a new evaluation of each, its active one
    superseded; the algorithm run again for a container."""
    phase = organized_phase(request.user, phase_id)
    rows = _named_submissions(request, phase)
    queued = reevaluate(rows)
    audit(request, rows, "Re-evaluation requested.")
    return Response({"queued": queued, "submissions": _answer(request, phase, rows)})


@extend_schema(
    summary="Cancel the evaluations in flight of submissions (organizers)",
    request=IdsSerializer,
    responses=responses({200: SubmissionsCancelledSerializer}, 400, 403, 404, 415),
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def submissions_cancel(request, phase_id):
    """As the console's "Cancel" action: a submission already finished is left as it is."""
    phase = organized_phase(request.user, phase_id)
    rows = _named_submissions(request, phase)
    cancelled = cancel(Evaluation.objects.filter(submission__in=rows))
    stopped = {evaluation.submission_id for evaluation in cancelled}
    audit(request, [row for row in rows if row.pk in stopped], "Evaluation cancelled.")
    return Response({"cancelled": len(cancelled),
                     "submissions": _answer(request, phase, rows)})


class GroundTruthSerializer(serializers.Serializer):
    """A ground-truth version's metadata: never its labels or where they are stored."""

    id = serializers.UUIDField()
    version = serializers.IntegerField()
    created = serializers.DateTimeField()
    note = serializers.CharField(allow_blank=True, help_text=(
        "Where the version comes from, as its import noted it (a source, a DOI)."))
    case_count = serializers.IntegerField(min_value=0)
    content_sha256 = serializers.CharField(help_text="The digest of the version's content.")
    active = serializers.BooleanField(help_text="Whether this phase scores against it.")
    active_in = serializers.ListField(child=serializers.UUIDField(), help_text=(
        "The phases of the task that score against it."))
    provenance = serializers.DictField(help_text=(
        "Where the labels come from (docs/dicom.md, Provenance): collection, version, doi, "
        "licence, url, reference (editable); as imported: source_sha256, manifest, imported_by, "
        "imported_at; and ground_truth_version, ground_truth_sha256, doi_url, "
        "manifest_sha256, provenance_changed."))


class ProvenanceChangeSerializer(serializers.Serializer):
    """The provenance fields a PATCH may change; empty text clears one."""

    collection = serializers.CharField(required=False, allow_blank=True, help_text=(
        "The source collection's name, e.g. NSCLC Radiogenomics."))
    version = serializers.CharField(required=False, allow_blank=True, help_text=(
        "The collection's version, as its publisher names it."))
    doi = serializers.CharField(required=False, allow_blank=True, help_text=(
        "10.NNNN/suffix (a https://doi.org/ link is accepted and stored as the DOI)."))
    licence = serializers.CharField(required=False, allow_blank=True)
    url = serializers.CharField(required=False, allow_blank=True, help_text="http(s) only.")
    reference = serializers.CharField(required=False, allow_blank=True)


def _ground_truth_payload(ground_truth, phase: Phase, active_in: dict) -> dict:
    return {"id": str(ground_truth.id), "version": ground_truth.version,
            "created": ground_truth.created.isoformat(), "note": ground_truth.note,
            "case_count": len(ground_truth.files),
            "content_sha256": ground_truth.content_sha256,
            "active": phase.active_ground_truth_id == ground_truth.id,
            "active_in": [str(pk) for pk in active_in.get(ground_truth.id, [])],
            "provenance": provenance.organizer_view(ground_truth)}


def _active_in(phase: Phase) -> dict:
    active_in: dict = {}
    for pk, version in phase.task.phases.values_list("pk", "active_ground_truth"):
        active_in.setdefault(version, []).append(pk)
    return active_in


@extend_schema(
    operation_id="organizer_phase_ground_truths_list",
    summary="The ground-truth versions of the phase's task, newest first: metadata only "
            "(organizers)",
    parameters=[PageSerializer],
    responses=responses({200: page_of(GroundTruthSerializer)}, 400, 403, 404),
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def ground_truths(request, phase_id):
    phase = organized_phase(request.user, phase_id)
    active_in = _active_in(phase)
    versions = phase.task.ground_truths.order_by("-version").select_related("imported_by")
    return paginated(request, versions, lambda page: [
        _ground_truth_payload(ground_truth, phase, active_in) for ground_truth in page])


@extend_schema(methods=["GET"], summary="One ground-truth version's metadata and provenance "
                                         "(organizers)",
               responses=responses({200: GroundTruthSerializer}, 403, 404))
@extend_schema(
    methods=["PATCH"],
    summary="Correct a ground-truth version's provenance (organizers); its labels, manifest "
            "and source hash stay as imported",
    request=ProvenanceChangeSerializer,
    responses=responses({200: GroundTruthSerializer}, 400, 403, 404, 415),
)
@api_view(["GET", "PATCH"])
@permission_classes([IsAuthenticated])
def ground_truth_detail(request, phase_id, version: int):
    phase = organized_phase(request.user, phase_id)
    ground_truth = phase.task.ground_truths.select_related("imported_by").filter(
        version=version).first()
    if ground_truth is None:
        raise NotFound(f"task {phase.task.key} has no ground-truth version {version}")
    if request.method == "PATCH":
        given = request.data.dict() if isinstance(request.data, QueryDict) else request.data
        if not isinstance(given, dict):
            raise InvalidInput("send a JSON object of provenance fields (collection, version, "
                               "doi, licence, url, reference)")
        stored, errors = provenance.clean(given)
        if errors:
            raise ValidationError({name: [message] for name, message in errors.items()})
        changed = [field for field, value in stored.items()
                   if getattr(ground_truth, field) != value]
        for field in changed:
            setattr(ground_truth, field, stored[field])
        save_provenance(ground_truth, changed)
        if changed:
            names = [name for name, (field, _) in provenance.FIELDS.items() if field in changed]
            audit(request, [ground_truth], f"Provenance changed: {', '.join(names)}.")
    return Response(_ground_truth_payload(ground_truth, phase, _active_in(phase)))


class ActivateSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The version to score against.")


class PhaseQueuedSerializer(serializers.Serializer):
    phase = serializers.UUIDField()
    name = serializers.CharField()
    queued = serializers.IntegerField(min_value=0)


class ActivatedSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    phases = PhaseQueuedSerializer(many=True, help_text=(
        "Every phase of the task, now scoring against the version, and how many of its "
        "submissions were queued to be scored against it."))


@extend_schema(
    summary="Activate a ground-truth version for every phase of the task, re-queueing their "
            "submissions (organizers)",
    request=ActivateSerializer,
    responses=responses({200: ActivatedSerializer}, 400, 403, 404, 415),
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def ground_truth_activate(request, phase_id):
    """As the console's "Activate" action: the version becomes active in every phase of the
    task, and each phase's submissions are queued against it (those already scored against it
    with the current configuration are not queued again)."""
    phase = organized_phase(request.user, phase_id)
    version = validated(request, ActivateSerializer)["version"]
    ground_truth = phase.task.ground_truths.filter(version=version).first()
    if ground_truth is None:
        versions = ", ".join(str(v) for v in phase.task.ground_truths.order_by("version")
                             .values_list("version", flat=True))
        raise InvalidInput(f"task {phase.task.key} has no ground-truth version {version}; its "
                           f"versions: {versions or 'none'}")
    phases = []
    for each in phase.task.phases.order_by("created"):
        queued = activate_ground_truth(each, ground_truth)
        message = f"Ground truth v{ground_truth.version} activated: {queued} evaluations queued."
        audit(request, [each, ground_truth], f"{each}: {message}")
        phases.append({"phase": str(each.id), "name": each.name, "queued": queued})
    return Response({"version": ground_truth.version, "phases": phases})


# Included under /api/v1/organizer/ by podium/urls.py.
urlpatterns = [
    path("phases/<uuid:phase_id>/configuration/", phase_configuration,
         name="api-organizer-phase-configuration"),
    path("phases/<uuid:phase_id>/submissions/", phase_submissions,
         name="api-organizer-phase-submissions"),
    path("phases/<uuid:phase_id>/submissions/reevaluate/", submissions_reevaluate,
         name="api-organizer-submissions-reevaluate"),
    path("phases/<uuid:phase_id>/submissions/cancel/", submissions_cancel,
         name="api-organizer-submissions-cancel"),
    path("phases/<uuid:phase_id>/ground-truths/", ground_truths,
         name="api-organizer-ground-truths"),
    path("phases/<uuid:phase_id>/ground-truths/activate/", ground_truth_activate,
         name="api-organizer-ground-truth-activate"),
    path("phases/<uuid:phase_id>/ground-truths/<int:version>/", ground_truth_detail,
         name="api-organizer-ground-truth"),
]
