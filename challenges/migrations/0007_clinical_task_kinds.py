# Classification and survival task kinds (docs/clinical.md): the kind's choices, the task's
# "clinical" definition and the phase's clinical metric settings.

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('challenges', '0006_leaderboard_selection_selected'),
    ]

    operations = [
        migrations.AlterField(
            model_name='task',
            name='kind',
            field=models.CharField(choices=[('segmentation', 'Segmentation'), ('detection', 'Detection'), ('classification', 'Classification'), ('survival', 'Survival')], default='segmentation', max_length=20),
        ),
        migrations.AddField(
            model_name='task',
            name='clinical',
            field=models.JSONField(blank=True, default=dict, help_text='Classification and survival: the "clinical" block of dataset.json (target, classes, positive class, time unit; docs/clinical.md).'),
        ),
        migrations.AddField(
            model_name='phase',
            name='classification_threshold',
            field=models.FloatField(default=0.5, help_text='A case whose probability of the positive class is at least this is called positive (balanced accuracy, sensitivity, specificity).', validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(1.0)]),
        ),
        migrations.AddField(
            model_name='phase',
            name='survival_tau',
            field=models.FloatField(blank=True, help_text="Truncation time τ of Uno's C, in the task's time unit; empty: no truncation (the largest observed time).", null=True, validators=[django.core.validators.MinValueValidator(0.0)]),
        ),
        migrations.AddField(
            model_name='phase',
            name='survival_times',
            field=models.JSONField(blank=True, default=list, help_text="Times of the time-dependent AUC and integrated Brier score, in the task's time unit, increasing."),
        ),
    ]
