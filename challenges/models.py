"""Challenges, their tasks and phases, hidden ground truth, and who takes part."""

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
    KINDS = [(SEGMENTATION, "Segmentation"), (DETECTION, "Detection")]

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

    class Meta:
        ordering = ["task", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["task", "version"], name="unique_gt_version"),
            models.UniqueConstraint(fields=["task", "content_sha256"], name="unique_gt_content"),
        ]

    def __str__(self) -> str:
        return f"{self.task.key} ground truth v{self.version} ({self.content_sha256[:12]})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError("A ground-truth version is immutable; import a new version.")
        super().save(*args, **kwargs)


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
        return [m for m in names if m in (self.metrics or names)]

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
        labels = self.task.foreground_labels
        return {
            "kind": Task.SEGMENTATION,
            "metrics": self.scored_metrics(),
            "labels": labels,
            "nsd_tolerance_mm": {str(label): self.tolerance_for(label) for label in labels},
            "surface": self.surface,
            "worst_distance_mm": self.worst_distance_mm,
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
            raise ValidationError({"primary_metric": f"choose one of {', '.join(allowed)}"})
        if self.task.kind == Task.SEGMENTATION and self.primary_metric not in self.scored_metrics():
            raise ValidationError({"primary_metric": "the primary metric must be computed"})
        if self.submission_kind == self.ALGORITHM and self.task.kind != Task.SEGMENTATION:
            raise ValidationError({"submission_kind": "algorithm containers are supported for "
                                                      "segmentation tasks only"})
        unknown = set(self.metrics or []) - set(
            metric_registry.metric_names(metric_registry.SEGMENTATION))
        if unknown:
            raise ValidationError({"metrics": f"unknown metrics: {', '.join(sorted(unknown))}"})
        if self.active_ground_truth and self.active_ground_truth.task_id != self.task_id:
            raise ValidationError({"active_ground_truth": "belongs to another task"})


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
