"""Task imports: an MSD archive uploaded in the console, imported by a worker."""

import core.storage
import django.db.models.deletion
import evaluation.models
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('challenges', '0005_download_log'),
        ('evaluation', '0005_upload_session'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ImportJob',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('file', models.FileField(blank=True, help_text='An MSD task as .zip, .tar or .tar.gz: a folder named like the task (Task03_Liver) holding dataset.json, imagesTs/ and labelsTs/ (or VOC XML files in labelsTs/ for detection). Removed once imported.', max_length=300, storage=core.storage.private_storage, upload_to=evaluation.models.import_archive_name)),
                ('file_name', models.CharField(blank=True, max_length=255)),
                ('note', models.CharField(blank=True, help_text='A note on the ground-truth version, e.g. what changed.', max_length=300)),
                ('activate', models.BooleanField(default=False, help_text='If the labels of an existing task changed: make the new ground-truth version active and score every submission against it again.')),
                ('state', models.CharField(choices=[('queued', 'Queued'), ('running', 'Importing'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='queued', max_length=10)),
                ('progress', models.TextField(blank=True, help_text='What the importer reported, a line a step.')),
                ('error', models.TextField(blank=True)),
                ('requeued', models.PositiveIntegerField(default=0, help_text='Evaluations queued against the activated ground truth.')),
                ('summary', models.TextField(blank=True)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('challenge', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='challenges.challenge')),
                ('ground_truth', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='challenges.groundtruth')),
                ('phase', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='challenges.phase')),
                ('task', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='challenges.task')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'task import',
                'ordering': ['-created'],
            },
        ),
    ]
