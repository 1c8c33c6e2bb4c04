"""Room for any registered metric's name (scorers.metrics allows 40 characters)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("challenges", "0002_phase_probe_resistance"),
    ]

    operations = [
        migrations.AlterField(
            model_name="phase",
            name="primary_metric",
            field=models.CharField(default="dice", help_text="A metric of scorers.metrics that "
                                   "the phase computes; it ranks the leaderboard.", max_length=40),
        ),
    ]
