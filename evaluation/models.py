"""Submissions, their evaluations against a ground-truth version, and per-case results."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from challenges.models import Challenge, GroundTruth, Phase, Task, Team
from core.storage import private_storage


class State(models.TextChoices):
    # An upload whose checks cost more than a web request may spend waits here for a worker.
    VALIDATING = "validating", "Checking the upload"
    QUEUED = "queued", "Queued"
    RUNNING_ALGORITHM = "running_algorithm", "Running the algorithm"
    SCORING = "scoring", "Scoring"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATES = (State.VALIDATING, State.QUEUED, State.RUNNING_ALGORITHM, State.SCORING)
TERMINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED)


def submission_upload_to(submission: "Submission", filename: str) -> str:
    # The participant's file name never becomes part of a storage path.
    return f"submissions/{submission.phase_id}/{submission.id}/upload"


class Submission(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="submissions")
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions"
    )
    kind = models.CharField(max_length=20, choices=Phase.SUBMISSION_KINDS)
    file = models.FileField(upload_to=submission_upload_to, max_length=300)
    file_name = models.CharField(max_length=255, help_text="The name the participant uploaded.")
    file_size = models.BigIntegerField()
    file_sha256 = models.CharField(max_length=64)
    description = models.CharField(max_length=200, blank=True)
    image_id = models.CharField(
        max_length=80, blank=True, help_text="Algorithm image: sha256 of its config."
    )
    is_valid = models.BooleanField(
        null=True, help_text="Whether the upload passed its checks: unknown while a worker "
                             "checks it; refused uploads do not count against the limit."
    )
    # The entrant's choice of the submission that counts, where the phase lets it choose
    # (evaluation/selection.py): who chose it and when; empty on every other submission.
    selected_at = models.DateTimeField(null=True, blank=True)
    selected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            # One choice per entrant and phase: a team's, or a participant's without a team.
            models.UniqueConstraint(
                fields=["phase", "team"],
                condition=Q(selected_at__isnull=False, team__isnull=False),
                name="one_selected_submission_per_team",
            ),
            models.UniqueConstraint(
                fields=["phase", "creator"],
                condition=Q(selected_at__isnull=False, team__isnull=True),
                name="one_selected_submission_per_participant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_name} → {self.phase} ({self.created:%Y-%m-%d %H:%M})"

    @property
    def participant_name(self) -> str:
        return self.team.name if self.team_id else self.creator.get_username()

    def current_evaluation(self) -> "Evaluation | None":
        return self.evaluations.order_by("-created").first()


class Evaluation(models.Model):
    """One scoring of a submission against one ground-truth version and metric configuration."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="evaluations")
    ground_truth = models.ForeignKey(GroundTruth, on_delete=models.PROTECT, related_name="+")
    metric_config = models.JSONField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    participant_message = models.TextField(blank=True)
    organizer_log = models.TextField(blank=True)
    aggregate = models.JSONField(null=True, blank=True)
    outputs = models.CharField(
        max_length=300, blank=True, help_text="Stored archive of an algorithm run's outputs."
    )
    logs = models.TextField(blank=True, help_text="Tails of the algorithm's stdout and stderr.")
    cases_total = models.PositiveIntegerField(default=0)
    cases_done = models.PositiveIntegerField(default=0)
    shards_total = models.PositiveIntegerField(default=1)
    shards_taken = models.JSONField(
        default=dict, blank=True, help_text="Shard → the helper that took it (0: the claiming "
                                            "task); each scorer takes the first one left."
    )
    shards_finished = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    lease = models.PositiveIntegerField(
        default=0, help_text="Raised at every claim: a fencing token, so that a worker the "
                             "reaper gave up on can no longer write to or move the evaluation."
    )
    worker = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            # At most one evaluation of a submission in flight: re-queueing is idempotent.
            models.UniqueConstraint(
                fields=["submission"],
                condition=Q(state__in=[state.value for state in ACTIVE_STATES]),
                name="one_active_evaluation_per_submission",
            ),
        ]
        indexes = [models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"evaluation {self.id} ({self.state})"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES


class CaseResult(models.Model):
    """The results of one item of one case: a segmentation label's metric values, or a
    detection image's VOC decisions for one class.

    ``values`` maps metric name → value (null = undefined: one mask empty), one key per metric
    of :mod:`scorers.metrics` that the evaluation computed — a map rather than one column per
    metric, so that a new metric needs no migration (docs/platform.md, "Results"). ``matches``
    holds what the detection bootstrap needs of the image and class (its non-difficult boxes
    and its detections' TP/FP decisions in score order, :mod:`evaluation.kinds.detection`).
    """

    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.CASCADE, related_name="case_results"
    )
    case = models.CharField(max_length=200)
    label = models.IntegerField(help_text="Segmentation: the label value; detection: the "
                                          "class's index in the task's sorted class names.")
    values = models.JSONField(default=dict, blank=True)
    matches = models.JSONField(null=True, blank=True)
    missing = models.BooleanField(default=False, help_text="No prediction for this case.")

    class Meta:
        ordering = ["case", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluation", "case", "label"], name="unique_case_result"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} label {self.label}"


class UploadSession(models.Model):
    """A file arriving in chunks (evaluation/uploads.py, docs/api.md "Uploading in chunks"):
    its declared size and optional SHA-256, how many bytes arrived, and, once complete, the
    submission it became. Its bytes live in a private partial file named by its id; on S3
    storage they are also sent, as they arrive, as the parts of a multipart upload that
    completing assembles into ``stored_name`` in one call."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_sessions"
    )
    file_name = models.CharField(max_length=255)
    size = models.BigIntegerField(help_text="The declared size in bytes.")
    sha256 = models.CharField(max_length=64, blank=True, help_text="Declared by the client.")
    description = models.CharField(max_length=200, blank=True)
    received = models.BigIntegerField(default=0)
    submission = models.OneToOneField(
        Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stored_name = models.CharField(
        max_length=300, blank=True, help_text="S3 storage: where the parts are assembled.")
    multipart_id = models.CharField(
        max_length=1024, blank=True, help_text="S3 storage: the multipart upload's id, until "
                                               "it is assembled.")
    parts = models.JSONField(default=list, blank=True,
                             help_text="S3 storage: [part number, ETag] of each part sent.")
    shipped = models.BigIntegerField(
        default=0, help_text="S3 storage: the bytes sent as parts (the partial file's first).")
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"upload {self.id} ({self.received}/{self.size} bytes)"


def import_archive_name(job: "ImportJob", filename: str) -> str:
    # The organizer's file name never becomes part of a storage path.
    return f"imports/{job.id}/archive"


class ImportJob(models.Model):
    """A task archive an organizer uploaded in the console, imported by a worker with the code
    of ``import_msd_task`` (evaluation/services/import_jobs.py): its state, the progress the
    importer reported, and what it created or changed."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STATES = [(QUEUED, "Queued"), (RUNNING, "Importing"), (SUCCEEDED, "Succeeded"),
              (FAILED, "Failed")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    file = models.FileField(
        upload_to=import_archive_name, storage=private_storage, max_length=300, blank=True,
        help_text="An MSD task as .zip, .tar or .tar.gz: a folder named like the task "
                  "(Task03_Liver) holding dataset.json, imagesTs/ and labelsTs/ (or VOC XML "
                  "files in labelsTs/ for detection). Removed once imported.",
    )
    file_name = models.CharField(max_length=255, blank=True)
    note = models.CharField(max_length=300, blank=True,
                            help_text="A note on the ground-truth version, e.g. what changed.")
    activate = models.BooleanField(
        default=False, help_text="If the labels of an existing task changed: make the new "
                                 "ground-truth version active and score every submission "
                                 "against it again.")
    deidentify = models.BooleanField(
        default=False, help_text="Store de-identified copies of the test images: DICOM files "
                                 "with the PS3.15 basic profile applied (UIDs kept), NIfTI files "
                                 "with their text fields emptied (docs/dicom.md).")
    state = models.CharField(max_length=10, choices=STATES, default=QUEUED)
    progress = models.TextField(blank=True, help_text="What the importer reported, a line a "
                                                      "step.")
    error = models.TextField(blank=True)
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    ground_truth = models.ForeignKey(GroundTruth, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    phase = models.ForeignKey(Phase, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    requeued = models.PositiveIntegerField(
        default=0, help_text="Evaluations queued against the activated ground truth.")
    summary = models.TextField(blank=True)
    # Liveness, as for evaluations (evaluation/services/reaper.py): a worker claims the job
    # (an attempt, a new lease) and beats while it imports; the reaper sends a job whose
    # message was lost again, and re-queues or fails one whose worker went silent.
    attempts = models.PositiveIntegerField(
        default=0, help_text="Workers that took the import; it fails after PODIUM_MAX_ATTEMPTS.")
    lease = models.PositiveIntegerField(
        default=0, help_text="Raised at every claim and re-queue: a fencing token, so that a "
                             "worker the reaper gave up on can no longer write to the job.")
    worker = models.CharField(max_length=200, blank=True)
    enqueued_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "task import"

    def __str__(self) -> str:
        return f"import of {self.file_name or 'an archive'} into {self.challenge.slug}"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.SUCCEEDED, self.FAILED)
