"""Upload sessions: files that arrive in chunks (evaluation/uploads.py)."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("challenges", "0001_initial"),
        ("evaluation", "0004_case_result_values"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="UploadSession",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True,
                                        serialize=False)),
                ("file_name", models.CharField(max_length=255)),
                ("size", models.BigIntegerField(help_text="The declared size in bytes.")),
                ("sha256", models.CharField(blank=True, help_text="Declared by the client.",
                                            max_length=64)),
                ("description", models.CharField(blank=True, max_length=200)),
                ("received", models.BigIntegerField(default=0)),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField(db_index=True)),
                ("phase", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                            related_name="+", to="challenges.phase")),
                ("submission", models.OneToOneField(
                    blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                    related_name="+", to="evaluation.submission")),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                           related_name="upload_sessions",
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["-created"]},
        ),
    ]
