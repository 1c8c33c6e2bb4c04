"""Stored snapshots name the ranked party ``entrant`` (was ``participant``) in their entries and
overall rankings, and its keys ``entrant_keys`` (was ``participant_keys``); the statistics'
sentences are ``ranking_method_description`` and ``missing_value_rule`` (were ``description``
and ``missing_rule``), as the API calls them."""

from django.db import migrations


def _renamed(rows: list, old: str, new: str) -> list:
    return [{(new if key == old else key): value for key, value in row.items()} for row in rows]


STATISTICS = {"participant_keys": "entrant_keys", "description": "ranking_method_description",
              "missing_rule": "missing_value_rule"}


def _convert(apps, old: str, new: str, statistics_keys: dict) -> None:
    Snapshot = apps.get_model("leaderboard", "LeaderboardSnapshot")
    for snapshot in Snapshot.objects.all().iterator():
        statistics = {statistics_keys.get(key, key): value
                      for key, value in (snapshot.statistics or {}).items()}
        rankings = [
            {**ranking, **{key: _renamed(ranking.get(key, []), old, new)
                           for key in ("entries", "msd_entries")}}
            for ranking in snapshot.rankings or []
        ]
        Snapshot.objects.filter(pk=snapshot.pk).update(
            entries=_renamed(snapshot.entries or [], old, new), statistics=statistics,
            rankings=rankings)


def forwards(apps, schema_editor):
    _convert(apps, "participant", "entrant", STATISTICS)


def backwards(apps, schema_editor):
    _convert(apps, "entrant", "participant", {new: old for old, new in STATISTICS.items()})


class Migration(migrations.Migration):

    dependencies = [
        ("leaderboard", "0002_ranking_method_and_rankings"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
