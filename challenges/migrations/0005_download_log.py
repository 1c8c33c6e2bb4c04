"""Downloads of test data, logged per user; training data organizers attach to a task."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import challenges.models
import core.storage


class Migration(migrations.Migration):

    dependencies = [
        ("challenges", "0004_challenge_pages"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DownloadLog",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True,
                                        serialize=False)),
                ("item", models.CharField(
                    help_text='A case, "all" for the archive of every test image, or '
                              '"training: " and a training-data title.', max_length=300)),
                ("bytes", models.BigIntegerField(
                    blank=True, null=True, help_text="Size served; empty when the storage or a "
                                                     "link serves the bytes.")),
                ("signed_url", models.BooleanField(
                    default=False, help_text="Handed over as a short-lived signed URL.")),
                ("ip_address", models.CharField(blank=True, max_length=64)),
                ("created", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("task", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                           related_name="downloads", to="challenges.task")),
                ("user", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                           related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["-created"]},
        ),
        migrations.CreateModel(
            name="TrainingData",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True,
                                        serialize=False)),
                ("title", models.CharField(max_length=200)),
                ("url", models.URLField(blank=True, help_text="A link to the data elsewhere.",
                                        max_length=500)),
                ("file", models.FileField(blank=True, help_text="Or a file kept here.",
                                          max_length=300, storage=core.storage.private_storage,
                                          upload_to=challenges.models.training_data_name)),
                ("note", models.TextField(blank=True)),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("task", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                           related_name="training_data", to="challenges.task")),
            ],
            options={
                "verbose_name_plural": "training data",
                "ordering": ["task", "title"],
                "constraints": [models.CheckConstraint(
                    condition=(models.Q(url="") & ~models.Q(file=""))
                    | (~models.Q(url="") & models.Q(file="")),
                    name="training_data_link_or_file",
                )],
            },
        ),
    ]
