"""A snapshot's ranking method is ``ranking_method``, and a challenge's overall rankings move
from ``entries`` (which holds a phase's ranked entrants) to ``rankings``, as the API calls them."""

from django.db import migrations, models


def entries_to_rankings(apps, schema_editor):
    Snapshot = apps.get_model("leaderboard", "LeaderboardSnapshot")
    for snapshot in Snapshot.objects.filter(challenge__isnull=False):
        Snapshot.objects.filter(pk=snapshot.pk).update(rankings=snapshot.entries, entries=[])


def rankings_to_entries(apps, schema_editor):
    Snapshot = apps.get_model("leaderboard", "LeaderboardSnapshot")
    for snapshot in Snapshot.objects.filter(challenge__isnull=False):
        Snapshot.objects.filter(pk=snapshot.pk).update(entries=snapshot.rankings, rankings=[])


class Migration(migrations.Migration):

    dependencies = [
        ("leaderboard", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(
            model_name="leaderboardsnapshot", old_name="method", new_name="ranking_method",
        ),
        migrations.AlterField(
            model_name="leaderboardsnapshot",
            name="entries",
            field=models.JSONField(
                blank=True, default=list, help_text="A phase's ranked entrants, best first."
            ),
        ),
        migrations.AddField(
            model_name="leaderboardsnapshot",
            name="rankings",
            field=models.JSONField(
                blank=True, default=list,
                help_text=(
                    "A challenge's overall rankings, one per phase name (its own entries inside)."
                ),
            ),
        ),
        migrations.RunPython(entries_to_rankings, rankings_to_entries),
    ]
