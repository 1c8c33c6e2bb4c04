"""De-identification reviews of tasks' test images (challenges/deid_gate.py). Every task that
exists gets a pending review: the first download, algorithm run or console visit runs its check,
so a task imported before the gate counts as clean only once a check found nothing."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def pending_reviews(apps, schema_editor):
    Task = apps.get_model("challenges", "Task")
    DeidReview = apps.get_model("challenges", "DeidReview")
    DeidReview.objects.bulk_create(
        [DeidReview(task_id=pk) for pk in Task.objects.values_list("pk", flat=True)],
        batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ("challenges", "0008_ground_truth_provenance"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DeidReview",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True,
                                        serialize=False)),
                ("status", models.CharField(
                    choices=[("pending", "Not checked yet"), ("clean", "Clean"),
                             ("findings", "Findings to fix or accept"),
                             ("accepted", "Findings accepted")],
                    default="pending", max_length=10)),
                ("images_sha256", models.CharField(
                    blank=True, max_length=64,
                    help_text="The stored test images the check read (a hash of their "
                              "content-addressed names).")),
                ("files_checked", models.PositiveIntegerField(default=0)),
                ("finding_count", models.PositiveIntegerField(default=0)),
                ("findings", models.JSONField(
                    blank=True, default=list,
                    help_text="[{file, attribute, rule, value_preview, severity}] (the first "
                              "findings; finding_count has them all).")),
                ("findings_sha256", models.CharField(blank=True, max_length=64)),
                ("declared", models.JSONField(
                    blank=True, default=dict,
                    help_text="DICOM files' own de-identification record, by file.")),
                ("checked_at", models.DateTimeField(blank=True, null=True)),
                ("accepted_at", models.DateTimeField(blank=True, null=True)),
                ("accepted_reason", models.TextField(blank=True)),
                ("accepted_by", models.ForeignKey(
                    blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                    related_name="+", to=settings.AUTH_USER_MODEL)),
                ("task", models.OneToOneField(
                    on_delete=django.db.models.deletion.CASCADE, related_name="deid_review",
                    to="challenges.task")),
            ],
            options={"verbose_name": "de-identification review"},
        ),
        migrations.RunPython(pending_reviews, migrations.RunPython.noop),
    ]
