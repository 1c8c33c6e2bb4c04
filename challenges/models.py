"""Challenges, their tasks and phases, hidden ground truth, and who takes part."""

import itertools
import math
import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from core.storage import private_storage
from leaderboard.stats import ranking_methods
from scorers import metrics as metric_registry


def new_ranking_seed() -> int:
    """A phase's bootstrap seed: drawn once when the phase is created, then fixed."""
    return secrets.randbelow(2**31)


MARKDOWN_HELP = "Markdown; raw HTML is limited to safe tags, links to http(s) and mailto."


class Challenge(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(
        blank=True, help_text="One line, shown on the challenge's card and at the top of its pages."
    )
    terms = models.TextField(blank=True, help_text="Participants accept these terms to join.")
    # The challenge's pages, written in Markdown (challenges/markdown.py says what is kept).
    overview = models.TextField(blank=True, help_text=MARKDOWN_HELP)
    rules = models.TextField(blank=True, help_text=MARKDOWN_HELP)
    data_description = models.TextField(blank=True, help_text=MARKDOWN_HELP)
    timeline = models.TextField(
        blank=True, help_text="Shown under the dates of the phases. " + MARKDOWN_HELP
    )
    citation = models.TextField(
        blank=True, help_text="How to cite the challenge, shown with each task's dataset. "
                              + MARKDOWN_HELP,
    )
    requires_approval = models.BooleanField(
        default=False, help_text="New participants wait for an organizer's approval."
    )
    is_published = models.BooleanField(default=True, help_text="Listed and visible to everyone.")
    organizers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="organized_challenges"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.title

    def is_organizer(self, user) -> bool:
        """Whether ``user`` organizes this challenge: asks the one query layer
        (:func:`challenges.visibility.is_organizer`); staff status alone never makes one."""
        from .visibility import is_organizer  # the layer imports the models

        return is_organizer(user, self)


class Task(models.Model):
    """One MSD-style task: its dataset.json fields and its test cases (never their labels)."""

    SEGMENTATION = metric_registry.SEGMENTATION
    DETECTION = metric_registry.DETECTION
    CLASSIFICATION = metric_registry.CLASSIFICATION
    SURVIVAL = metric_registry.SURVIVAL
    CLINICAL_KINDS = (CLASSIFICATION, SURVIVAL)
    KINDS = [(SEGMENTATION, "Segmentation"), (DETECTION, "Detection"),
             (CLASSIFICATION, "Classification"), (SURVIVAL, "Survival")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="tasks")
    key = models.CharField(max_length=100, help_text='Folder name, e.g. "Task03_Liver".')
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=KINDS, default=SEGMENTATION)
    description = models.TextField(blank=True)
    reference = models.TextField(blank=True)
    licence = models.CharField(max_length=200, blank=True)
    release = models.CharField(max_length=100, blank=True)
    modality = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(
        default=dict,
        help_text='Segmentation: {"0": "background", "1": "liver"}; detection: class names.',
    )
    tensor_image_size = models.CharField(max_length=10, blank=True)
    cases = models.JSONField(
        default=list,
        help_text="Test cases: [{name, image, geometry}] (geometry of the test image, public).",
    )
    images = models.JSONField(
        default=dict, blank=True, help_text="Private storage paths of the test images, by case."
    )
    clinical = models.JSONField(
        default=dict, blank=True,
        help_text='Classification and survival: the "clinical" block of dataset.json (target, '
                  "classes, positive class, time unit; docs/clinical.md).",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["challenge", "key"]
        constraints = [
            models.UniqueConstraint(fields=["challenge", "key"], name="unique_task_key"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.challenge.slug})"

    @property
    def case_names(self) -> list[str]:
        return [case["name"] for case in self.cases]

    @property
    def foreground_labels(self) -> list[int]:
        """Integer label values scored for a segmentation task (every label but 0)."""
        return sorted(int(value) for value in self.labels if int(value) != 0)

    @property
    def class_names(self) -> list[str]:
        return sorted(self.labels.values())

    def geometry_of(self, case: str) -> dict:
        """The stored geometry of test case ``case`` (KeyError if there is no such case)."""
        by_name = self.__dict__.get("_geometries")
        if by_name is None or by_name[0] is not self.cases:  # built once per list of cases
            by_name = (self.cases, {entry["name"]: entry["geometry"] for entry in self.cases})
            self.__dict__["_geometries"] = by_name
        return by_name[1][case]


class GroundTruth(models.Model):
    """An immutable, content-hashed version of a task's hidden labels (in private storage)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="ground_truths")
    version = models.PositiveIntegerField()
    content_sha256 = models.CharField(max_length=64)
    files = models.JSONField(help_text="{case: {path, sha256, size}} in private storage.")
    note = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    # Provenance (challenges/provenance.py): where the labels come from. Public metadata, the
    # manifest excepted (it may name the test subjects); the only fields that may change.
    source_collection = models.CharField(max_length=200, blank=True)
    source_version = models.CharField(max_length=100, blank=True)
    source_doi = models.CharField(max_length=200, blank=True, help_text="e.g. 10.7937/K9/TCIA.")
    source_licence = models.CharField(max_length=200, blank=True)
    source_url = models.URLField(max_length=500, blank=True)
    source_reference = models.CharField(max_length=1000, blank=True)
    source_manifest = models.JSONField(default=dict, blank=True, help_text=(
        "The import's manifest (subjects → split, series); organizers only."))
    source_sha256 = models.CharField(max_length=64, blank=True, help_text=(
        "The source's own content hash, as the import computed it."))
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    provenance_changed = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["task", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["task", "version"], name="unique_gt_version"),
            models.UniqueConstraint(fields=["task", "content_sha256"], name="unique_gt_content"),
        ]

    def __str__(self) -> str:
        return f"{self.task.key} ground truth v{self.version} ({self.content_sha256[:12]})"

    def save(self, *args, **kwargs):
        from .provenance import EDITABLE_FIELDS

        # The labels never change; their provenance may be corrected (update_fields names it).
        fields = set(kwargs.get("update_fields") or ())
        editing = fields and fields <= {*EDITABLE_FIELDS, "provenance_changed"}
        if not self._state.adding and not editing:
            raise ValidationError("A ground-truth version is immutable; import a new version.")
        super().save(*args, **kwargs)


TIMED_METRICS = ("td_auc", "integrated_brier")
"""Survival metrics evaluated at the phase's ``survival_times``: computed only when it has some
(the integrated Brier score: at least two)."""
CURVE_METRICS = ("integrated_brier",)
"""Survival metrics of predicted survival curves (S(t) at the phase's times), which a
predictions file carries optionally, and must when the phase ranks by one (docs/clinical.md)."""
MULTICLASS_METRICS = ("macro_auroc",)
"""The classification metrics of more than two classes (one-vs-rest); the others are binary."""


class Phase(models.Model):
    """Where submissions for one task go, and how they are scored, limited and shown."""

    PREDICTIONS = "predictions"
    ALGORITHM = "algorithm"
    SUBMISSION_KINDS = [(PREDICTIONS, "Predictions archive"), (ALGORITHM, "Algorithm container")]
    PERIODS = [("day", "per day"), ("week", "per week"), ("phase", "for the whole phase")]
    SURFACES = [("surfel", "Surfels (DeepMind surface-distance, as MSD)"),
                ("voxel", "Voxel borders (MONAI, MetricsReloaded)")]
    LATEST = "latest"
    BEST = "best"
    SELECTED = "selected"
    SELECTIONS = [(LATEST, "latest successful submission"), (BEST, "best submission"),
                  (SELECTED, "chosen submission (until the team chooses: its latest "
                             "successful one)")]
    RANKING_METHODS = [(method.name, method.label) for method in ranking_methods()]
    RANKING_TIES = [("min", "competition ranking (1, 2, 2, 4)"),
                    ("average", "average ranks (1, 2.5, 2.5, 4)")]
    RANKING_ADJUSTMENTS = [("none", "none"), ("holm", "Holm"), ("bonferroni", "Bonferroni")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="phases")
    name = models.CharField(max_length=100, default="Test")
    submission_kind = models.CharField(max_length=20, choices=SUBMISSION_KINDS, default=PREDICTIONS)
    active_ground_truth = models.ForeignKey(
        GroundTruth, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Scoring
    metrics = models.JSONField(
        default=list, blank=True, help_text="Segmentation metrics to compute (empty: all)."
    )
    nsd_tolerance_mm = models.JSONField(
        default=dict, blank=True, help_text='NSD tolerance per label in mm, e.g. {"1": 2.0}.'
    )
    default_tolerance_mm = models.FloatField(default=1.0)
    surface = models.CharField(max_length=10, choices=SURFACES, default="surfel")
    primary_metric = models.CharField(max_length=40, default="dice",
                                      help_text="A metric of scorers.metrics that the phase "
                                                "computes; it ranks the leaderboard.")
    worst_distance_mm = models.FloatField(
        null=True, blank=True,
        help_text="Value for an undefined distance; empty = the case's image diagonal in mm.",
    )
    allow_partial = models.BooleanField(
        default=False, help_text="Accept archives with missing cases (scored as the worst value)."
    )
    iou_threshold = models.FloatField(default=0.5)
    voc2007 = models.BooleanField(default=False, help_text="11-point interpolated AP.")
    plus_one = models.BooleanField(default=True, help_text="VOC devkit +1-pixel convention.")
    # DICOM SEG predictions (docs/dicom.md, "DICOM SEG predictions")
    accepts_dicom_seg = models.BooleanField(
        default=False,
        help_text="Besides a NIfTI label map, a case may be predicted by one DICOM SEG file "
                  "(<case>.dcm) on its test series. Needs a task imported from DICOM.",
    )
    seg_fractional_threshold = models.FloatField(
        default=0.5, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="A FRACTIONAL SEG's pixel is in its segment when value / "
                  "MaximumFractionalValue is at least this (above 0, at most 1).",
    )
    # Classification and survival (docs/clinical.md)
    classification_threshold = models.FloatField(
        default=0.5, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="A case whose probability of the positive class is at least this is called "
                  "positive (balanced accuracy, sensitivity, specificity).",
    )
    survival_tau = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0)],
        help_text="Truncation time τ of Uno's C, in the task's time unit; empty: no truncation "
                  "(the largest observed time).",
    )
    survival_times = models.JSONField(
        default=list, blank=True,
        help_text="Times of the time-dependent AUC and integrated Brier score, in the task's "
                  "time unit, increasing.",
    )
    # Algorithm containers (docs/runner.md)
    algorithm_memory_mb = models.PositiveIntegerField(
        default=8192, help_text="Memory limit (also the memory+swap limit)."
    )
    algorithm_cpus = models.FloatField(default=4.0)
    algorithm_time_limit_s = models.PositiveIntegerField(default=3600)
    show_algorithm_logs = models.BooleanField(
        default=False, help_text="Participants see the tails of their algorithm's stdout/stderr."
    )
    # Limits and dates
    submission_limit = models.PositiveIntegerField(null=True, blank=True)
    limit_period = models.CharField(max_length=10, choices=PERIODS, default="day")
    count_failed = models.BooleanField(
        default=False, help_text="Failed and cancelled submissions count against the limit."
    )
    opens_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    # Visibility
    is_public = models.BooleanField(default=True, help_text="Leaderboard visible to everyone.")
    show_scores = models.BooleanField(default=True)
    # Off by default: a per-case Dice is an oracle on the hidden labels (docs/security.md).
    show_case_results = models.BooleanField(
        default=False,
        help_text="Participants see each case's values. Each one reveals a hidden label's "
                  "size: a submission predicting one label everywhere scores Dice D on a case "
                  "of N voxels exactly when the label has D·N/(2−D) voxels. Leave off while the "
                  "test labels must stay secret.",
    )
    public_score_decimals = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(6)],
        help_text="Round every score participants and visitors see (pages, API, exports) to "
                  "this many decimals; empty = exact. Organizers see exact values, and "
                  "rankings always use them.",
    )
    leaderboard_selection = models.CharField(
        max_length=10, choices=SELECTIONS, default=LATEST,
        help_text="Which submission of each entrant the leaderboard ranks. With a choice, any "
                  "accepted member picks one of the team's succeeded submissions until the "
                  "phase closes.")
    # Ranking (docs/ranking.md; leaderboard.stats.RankingConfig)
    ranking_method = models.CharField(max_length=20, choices=RANKING_METHODS,
                                      default="aggregate-mean")
    ranking_ties = models.CharField(max_length=10, choices=RANKING_TIES, default="min")
    ranking_adjust = models.CharField(
        max_length=12, choices=RANKING_ADJUSTMENTS, default="none",
        help_text="p-value adjustment over the K(K−1) tests (test-then-rank, significance map).",
    )
    ranking_alpha = models.FloatField(
        default=0.05, validators=[MinValueValidator(0.0001), MaxValueValidator(0.5)],
        help_text="Significance level of the one-sided Wilcoxon tests.",
    )
    bootstrap_samples = models.PositiveIntegerField(
        default=1000, validators=[MaxValueValidator(10000)],
        help_text="Bootstrap resamples of the test cases for rank uncertainty (0 = off).",
    )
    ranking_seed = models.BigIntegerField(
        default=new_ranking_seed, validators=[MinValueValidator(0)],
        help_text="Seed of the bootstrap resamples, shown on the leaderboard.",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "created"]
        constraints = [
            models.UniqueConstraint(fields=["task", "name"], name="unique_phase_name"),
        ]

    def __str__(self) -> str:
        return f"{self.task.key} / {self.name}"

    @property
    def challenge(self) -> Challenge:
        return self.task.challenge

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        if self.opens_at and now < self.opens_at:
            return False
        return not (self.closes_at and now >= self.closes_at)

    def is_closed(self, now=None) -> bool:
        """Whether the phase's closing time has passed (a phase that has not opened yet is not
        closed)."""
        return bool(self.closes_at and (now or timezone.now()) >= self.closes_at)

    def scored_metrics(self) -> list[str]:
        """The metrics this phase computes, in registry order: the chosen segmentation metrics
        (none chosen: all), or every detection metric (one pass computes them all)."""
        names = metric_registry.metric_names(self.task.kind)
        if self.task.kind == Task.DETECTION:
            return names
        if self.task.kind in Task.CLINICAL_KINDS:
            if self.task.kind == Task.CLASSIFICATION:  # two classes: binary metrics
                binary = len(self.task.clinical.get("classes") or []) == 2
                return [m for m in names if (m in MULTICLASS_METRICS) != binary]
            times = len(self.survival_times or [])
            return [m for m in names if m not in TIMED_METRICS
                    or times >= (2 if m in CURVE_METRICS else 1)]
        return [m for m in names if m in (self.metrics or names)]

    def primary_metric_choices(self) -> list[str]:
        """The metrics this phase may rank by: its kind's, less (classification, survival)
        those it cannot compute for its task — a survival phase's td_auc needs times, which
        :meth:`clean` asks for when it is chosen."""
        names = metric_registry.metric_names(self.task.kind)
        if self.task.kind not in Task.CLINICAL_KINDS:
            return names
        scored = set(Phase(task=self.task, survival_times=[1.0, 2.0]).scored_metrics())
        return [name for name in names if name in scored]

    def default_primary_metric(self) -> str:
        """What a new phase of its task ranks by: the kind's default
        (``scorers.metrics.default_metric``) where the phase can compute it, else the first
        metric it can (a classification target of more than two classes: macro_auroc)."""
        default = metric_registry.default_metric(self.task.kind)
        choices = self.primary_metric_choices()
        return default if default in choices or not choices else choices[0]

    def metric_problem(self, name: str) -> str | None:
        """Why this phase cannot rank by the metric ``name`` of its kind, in words (what its
        task lacks, and what to choose instead); None where it can (td_auc: once it has
        times, which :meth:`clean` checks) and for a name no metric has. A metric of another
        kind (auroc on a survival phase) is named as such."""
        if name not in metric_registry.metric_names(self.task.kind):
            return self._other_kind_problem(name)
        if self.task.kind not in Task.CLINICAL_KINDS or name in self.primary_metric_choices():
            return None
        choices = ", ".join(self.primary_metric_choices())
        clinical = self.task.clinical or {}
        classes = list(clinical.get("classes") or [])
        target = clinical.get("target", "the target")
        if name in MULTICLASS_METRICS:
            return (f"{name} is for a target of more than two classes; {target} has two "
                    f"({', '.join(classes)}): choose one of {choices}")
        return (f"{name} needs a target of two classes; {target} has {len(classes)} "
                f"({', '.join(classes)}): choose one of {choices} (macro_auroc: the mean of "
                "the one-vs-rest AUROCs)")

    def _other_kind_problem(self, name: str) -> str | None:
        """``name`` is a metric of other task kinds than this phase's: say whose, and what
        this phase may rank by instead (None: no metric has that name)."""
        if name not in metric_registry.metric_names():
            return None
        kinds = " and ".join(metric_registry.metric(name).kinds)
        return (f"{name} is a {kinds} metric, not a {self.task.kind} one: choose one of "
                f"{', '.join(self.primary_metric_choices())}")

    def tolerance_for(self, label: int) -> float:
        return float(self.nsd_tolerance_mm.get(str(label), self.default_tolerance_mm))

    def metric_config(self) -> dict:
        """The scoring configuration an evaluation records, so a score can be reproduced."""
        if self.task.kind == Task.DETECTION:
            return {
                "kind": Task.DETECTION,
                "iou_threshold": self.iou_threshold,
                "voc2007": self.voc2007,
                "plus_one": self.plus_one,
            }
        if self.task.kind in Task.CLINICAL_KINDS:
            return {
                "kind": self.task.kind,
                "metrics": self.scored_metrics(),
                "threshold": self.classification_threshold,
                "tau": self.survival_tau,
                "times": [float(t) for t in self.survival_times or []],
            }
        labels = self.task.foreground_labels
        return {
            "kind": Task.SEGMENTATION,
            "metrics": self.scored_metrics(),
            "labels": labels,
            "nsd_tolerance_mm": {str(label): self.tolerance_for(label) for label in labels},
            "surface": self.surface,
            "worst_distance_mm": self.worst_distance_mm,
            # Only where SEG is accepted: other phases' recorded configurations stay as they were.
            **({"seg_fractional_threshold": self.seg_fractional_threshold}
               if self.accepts_dicom_seg else {}),
        }

    def larger_is_better(self, metric: str | None = None) -> bool:
        return metric_registry.larger_is_better(metric or self.primary_metric)

    def clean(self):
        if self.opens_at and self.closes_at and self.opens_at >= self.closes_at:
            raise ValidationError({"closes_at": "the phase must close after it opens"})
        if self.task_id is None:
            return  # the form reports the missing task
        allowed = metric_registry.metric_names(self.task.kind)
        if self.primary_metric not in allowed:
            raise ValidationError({"primary_metric": self.metric_problem(self.primary_metric)
                                   or f"choose one of {', '.join(allowed)}"})
        if self.task.kind in Task.CLINICAL_KINDS:
            self._clean_clinical()
        if self.task.kind != Task.DETECTION and self.primary_metric not in self.scored_metrics():
            raise ValidationError({"primary_metric": "the primary metric must be computed"})
        if self.submission_kind == self.ALGORITHM and self.task.kind == Task.DETECTION:
            raise ValidationError({"submission_kind": "algorithm containers are supported for "
                                                      "segmentation, classification and "
                                                      "survival tasks"})
        unknown = set(self.metrics or []) - set(
            metric_registry.metric_names(metric_registry.SEGMENTATION))
        if unknown:
            raise ValidationError({"metrics": f"unknown metrics: {', '.join(sorted(unknown))}"})
        self._clean_dicom_seg()
        if self.active_ground_truth and self.active_ground_truth.task_id != self.task_id:
            raise ValidationError({"active_ground_truth": "belongs to another task"})

    def _clean_dicom_seg(self) -> None:
        if not 0 < self.seg_fractional_threshold <= 1:
            raise ValidationError({"seg_fractional_threshold": "the threshold must lie above 0 "
                                                               "and at most 1"})
        if not self.accepts_dicom_seg:
            return
        if self.task.kind != Task.SEGMENTATION or self.submission_kind != self.PREDICTIONS:
            raise ValidationError({"accepts_dicom_seg": "DICOM SEG is accepted in predictions "
                                                        "archives of segmentation tasks only"})
        if not any(case.get("dicom") for case in self.task.cases):
            raise ValidationError({"accepts_dicom_seg": "the task's test cases have no DICOM "
                                                        "series; import the task from a DICOM "
                                                        "collection to accept DICOM SEG"})

    def _clean_clinical(self) -> None:
        if problem := self.metric_problem(self.primary_metric):
            raise ValidationError({"primary_metric": problem})
        times = self.survival_times
        if not isinstance(times, list) or not all(
                isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t)
                and t > 0 for t in times):
            raise ValidationError({"survival_times": "give positive, finite times (numbers)"})
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise ValidationError({"survival_times": "the times must increase"})
        if self.primary_metric in TIMED_METRICS and not times:
            raise ValidationError({"primary_metric": f"{self.primary_metric} needs survival "
                                                     "times"})
        if self.primary_metric in CURVE_METRICS and len(times) < 2:
            raise ValidationError({"primary_metric": f"{self.primary_metric} needs at least "
                                                     "two survival times (the submitted curves "
                                                     "give S(t) at each)"})
        if self.survival_tau is not None and not (math.isfinite(self.survival_tau)
                                                  and self.survival_tau > 0):
            raise ValidationError({"survival_tau": "τ must be a positive time"})


def new_join_code() -> str:
    return secrets.token_urlsafe(9)


class Team(models.Model):
    """Participants who submit and rank together; members join with the team's code."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    join_code = models.CharField(max_length=20, default=new_join_code, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["challenge", "name"], name="unique_team_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Participation(models.Model):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    STATUSES = [(PENDING, "Pending approval"), (ACCEPTED, "Accepted"), (REJECTED, "Rejected")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    challenge = models.ForeignKey(
        Challenge, on_delete=models.CASCADE, related_name="participations"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participations"
    )
    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING)
    terms_accepted_at = models.DateTimeField()
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["challenge", "user"], name="unique_participation"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.challenge.slug} ({self.status})"

    def clean(self):
        if self.team and self.team.challenge_id != self.challenge_id:
            raise ValidationError({"team": "belongs to another challenge"})


def training_data_name(row: "TrainingData", filename: str) -> str:
    """Private storage name of a training-data file: a folder of its own under its task, so the
    organizer's file name (sanitised by Django) is kept for the download."""
    return f"training/{row.task_id}/{uuid.uuid4().hex}/{filename}"


class TrainingData(models.Model):
    """Training data an organizer attaches to a task: a link, or a file in private storage.
    Accepted participants find it on the task's test-data page."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="training_data")
    title = models.CharField(max_length=200)
    url = models.URLField(max_length=500, blank=True, help_text="A link to the data elsewhere.")
    file = models.FileField(upload_to=training_data_name, storage=private_storage,
                            max_length=300, blank=True, help_text="Or a file kept here.")
    note = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "title"]
        verbose_name_plural = "training data"
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(url="") & ~models.Q(file=""))
                | (~models.Q(url="") & models.Q(file="")),
                name="training_data_link_or_file",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.task.key})"

    def clean(self):
        if bool(self.url) == bool(self.file):
            raise ValidationError("give either a link or a file, not both")


class DownloadLog(models.Model):
    """One download of a task's data by a user: a test image, the archive of them all, or a
    training-data item. Written when the download starts; read-only in the console."""

    ARCHIVE = "all"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                             related_name="+")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="downloads")
    item = models.CharField(
        max_length=300, help_text='A case, "all" for the archive of every test image, or '
                                  '"training: " and a training-data title.')
    bytes = models.BigIntegerField(
        null=True, blank=True, help_text="Size served; empty when the storage or a link "
                                         "serves the bytes.")
    signed_url = models.BooleanField(default=False,
                                     help_text="Handed over as a short-lived signed URL.")
    ip_address = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.user} downloaded {self.item} of {self.task.key}"


class DeidReview(models.Model):
    """The de-identification check of a task's stored test images (challenges/deid_gate.py):
    what it found per file, and the organizer's acceptance. While it holds findings nobody
    accepted, participants cannot download the images and no algorithm runs on them."""

    PENDING = "pending"
    CLEAN = "clean"
    FINDINGS = "findings"
    ACCEPTED = "accepted"
    STATUSES = [(PENDING, "Not checked yet"), (CLEAN, "Clean"),
                (FINDINGS, "Findings to fix or accept"), (ACCEPTED, "Findings accepted")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="deid_review")
    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING)
    images_sha256 = models.CharField(
        max_length=64, blank=True, help_text="The stored test images the check read (a hash of "
                                             "their content-addressed names).")
    files_checked = models.PositiveIntegerField(default=0)
    finding_count = models.PositiveIntegerField(default=0)
    findings = models.JSONField(
        default=list, blank=True, help_text="[{file, attribute, rule, value_preview, severity}] "
                                            "(the first findings; finding_count has them all).")
    findings_sha256 = models.CharField(max_length=64, blank=True)
    declared = models.JSONField(
        default=dict, blank=True, help_text="DICOM files' own de-identification record, by file.")
    checked_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_reason = models.TextField(blank=True)

    class Meta:
        verbose_name = "de-identification review"

    def __str__(self) -> str:
        return f"{self.task.key}: {self.get_status_display().lower()}"

    @property
    def holds_images(self) -> bool:
        return self.status in (self.PENDING, self.FINDINGS)
