"""A phase snapshot's plots (SVG, most of its bytes) move from ``statistics["plots"]`` to rows of
their own, so that the reads that do not show them never load them; a plot not drawn (no
bootstrap: no blob plot) gets no row."""

from django.db import migrations, models


def forwards(apps, schema_editor):
    Snapshot = apps.get_model("leaderboard", "LeaderboardSnapshot")
    Plot = apps.get_model("leaderboard", "SnapshotPlot")
    for snapshot in Snapshot.objects.filter(statistics__has_key="plots").iterator():
        statistics = dict(snapshot.statistics)
        plots = statistics.pop("plots") or {}
        Plot.objects.bulk_create(Plot(snapshot=snapshot, name=name, svg=svg)
                                 for name, svg in plots.items() if svg)
        Snapshot.objects.filter(pk=snapshot.pk).update(statistics=statistics)


def backwards(apps, schema_editor):
    Snapshot = apps.get_model("leaderboard", "LeaderboardSnapshot")
    Plot = apps.get_model("leaderboard", "SnapshotPlot")
    plots: dict = {}
    for snapshot_id, name, svg in Plot.objects.values_list("snapshot_id", "name", "svg"):
        plots.setdefault(snapshot_id, {})[name] = svg
    for snapshot in Snapshot.objects.filter(pk__in=list(plots)).iterator():
        Snapshot.objects.filter(pk=snapshot.pk).update(
            statistics={**snapshot.statistics, "plots": plots[snapshot.pk]})


class Migration(migrations.Migration):
    dependencies = [("leaderboard", "0003_entrant")]

    operations = [
        migrations.CreateModel(
            name="SnapshotPlot",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("name", models.CharField(help_text="blob or significance", max_length=40)),
                ("svg", models.TextField()),
                ("snapshot", models.ForeignKey(on_delete=models.deletion.CASCADE,
                                               related_name="plots",
                                               to="leaderboard.leaderboardsnapshot")),
            ],
            options={"constraints": [models.UniqueConstraint(fields=("snapshot", "name"),
                                                             name="one_plot_per_name")]},
        ),
        migrations.RunPython(forwards, backwards),
    ]
