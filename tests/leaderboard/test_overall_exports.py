"""The overall ranking's CSV and JSON exports and its "ranks across tasks" plots: contents
worked by hand, the page's visibility, formula defusing, escaped names and HTTP caching."""

import csv
import gzip
import io
import re

import numpy as np
import pytest
from django.test import Client

from leaderboard import services
from leaderboard.models import SnapshotPlot
from leaderboard.stats.plots import ranks_across_tasks
from tests import factories

from .helpers import challenge_phases, scored_evaluation

pytestmark = pytest.mark.django_db

CASES = [f"c{j}" for j in range(6)]
# Dice (and NSD, equal) per case; every gap holds on all 6 cases (one-sided Wilcoxon p = 0.018:
# significant). "<i>C</i>" submits nothing to T2. "=B" would be a formula in a spreadsheet.
VALUES = {
    "T1": {"A": 0.9, "=B": 0.8, "<i>C</i>": 0.7},
    "T2": {"=B": 0.9, "A": 0.8},
}
# By hand. Leaderboards: T1 A1 =B2 C3; T2 =B1 A2, C absent → 2 + 1 = 3. Mean rank: A and =B
# (1 + 2)/2 = 1.5 → both rank 1 ("=B" first by name), C 3. MSD-style: the significance ranks
# equal the leaderboard ranks (every gap significant), so the same scores.
EXPECTED_ROWS = [
    ["Test", table, *row]
    for table in ("mean-rank", "msd")
    for row in (["1", "'=B", "1.5", "2", "2.0", "1.0"],
                ["1", "A", "1.5", "2", "1.0", "2.0"],
                ["3", "<i>C</i>", "3.0", "1", "3.0", "3.0"])
]


@pytest.fixture
def overall():
    phases = challenge_phases(["T1", "T2"], cases=CASES, slug="overall", bootstrap_samples=0)
    users = {name: factories.participant(phases[0], name) for name in VALUES["T1"]}
    for phase in phases:
        for name, value in VALUES[phase.task.key].items():
            scored_evaluation(phase, users[name],
                              {(case, 1): {"dice": value, "nsd": value} for case in CASES})
        services.refresh(phase.id)
    challenge = phases[0].task.challenge
    services.refresh_challenge(challenge.id)
    return challenge, phases


def read_csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def organizer_client(challenge) -> Client:
    organizer = factories.user("boss")
    challenge.organizers.add(organizer)
    client = Client()
    client.force_login(organizer)
    return client


def test_the_overall_csv_has_both_tables_with_each_tasks_rank(overall):
    challenge, _ = overall
    response = Client().get(f"/challenges/{challenge.slug}/leaderboard.csv")
    assert response.status_code == 200
    assert 'filename="overall-leaderboard.csv"' in response["Content-Disposition"]
    header, *rows = read_csv(response)
    assert header == ["phase_name", "table", "rank", "entrant", "score", "tasks_ranked",
                      "T1", "T2"]
    assert rows == EXPECTED_ROWS


def test_the_overall_json_is_the_pages_payload(overall):
    challenge, _ = overall
    body = Client().get(f"/challenges/{challenge.slug}/leaderboard.json").json()
    api = Client().get(f"/api/v1/challenges/{challenge.slug}/leaderboard/").json()
    assert body == api
    (ranking,) = body["rankings"]
    assert [(row["entrant"], row["score"], row["task_scores"]) for row in ranking["entries"]] \
        == [("=B", 1.5, [2.0, 1.0]), ("A", 1.5, [1.0, 2.0]), ("<i>C</i>", 3.0, [3.0, 3.0])]


def test_a_hidden_phase_keeps_its_ranking_from_the_public_but_not_from_organizers(overall):
    challenge, phases = overall
    phases[1].is_public = False
    phases[1].save()
    public = Client()
    base = f"/challenges/{challenge.slug}"
    assert read_csv(public.get(f"{base}/leaderboard.csv"))[1:] == []
    assert public.get(f"{base}/leaderboard.json").json()["rankings"] == []
    assert public.get(f"{base}/plots/ranks-0.svg").status_code == 404
    assert "ranks-0.svg" not in public.get(f"{base}/leaderboard/").content.decode()
    organizer = organizer_client(challenge)
    assert read_csv(organizer.get(f"{base}/leaderboard.csv"))[1:] == EXPECTED_ROWS
    assert len(organizer.get(f"{base}/leaderboard.json").json()["rankings"]) == 1
    assert organizer.get(f"{base}/plots/ranks-0.svg").status_code == 200


def test_the_ranks_across_tasks_plot_is_lazy_escaped_cached_and_gzipped(overall):
    challenge, _ = overall
    client = Client()
    page = client.get(f"/challenges/{challenge.slug}/leaderboard/").content.decode()
    (src,) = re.findall(r'<img src="([^"]+)" loading="lazy" alt="Test phases: [^"]+"', page)
    assert src.startswith(f"/challenges/{challenge.slug}/plots/ranks-0.svg?v=")
    src = src.replace("&amp;", "&")
    response = client.get(src)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    svg = response.content.decode()
    assert "&lt;i&gt;C&lt;/i&gt;" in svg and "<i>" not in svg
    assert svg.count("<polyline") == 3
    again = client.get(src, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    zipped = client.get(src, HTTP_ACCEPT_ENCODING="gzip")
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content).decode() == svg
    assert client.get(f"/challenges/{challenge.slug}/plots/ranks-1.svg").status_code == 404
    assert client.get(f"/challenges/{challenge.slug}/plots/blob.svg").status_code == 404


def test_the_plot_draws_each_rank_where_it_belongs():
    svg = ranks_across_tasks(["T1", "T2", "T3"], ["A", "B"],
                             np.array([[1.0, 2.0, 1.0], [2.0, 1.0, np.nan]]))
    lines = re.findall(r"<polyline points='([^']+)'", svg)
    points = [[tuple(map(float, p.split(","))) for p in line.split()] for line in lines]
    (a1, a2, a3), (b1, b2) = points
    assert a1[1] == a3[1] == b2[1] < a2[1] == b1[1]  # rank 1 at the top
    assert a1[0] == b1[0] < a2[0] == b2[0] < a3[0]
    with pytest.raises(ValueError, match="ranks must be 2 × 3"):
        ranks_across_tasks(["T1", "T2", "T3"], ["A", "B"], np.ones((2, 2)))


def test_a_snapshot_without_its_plot_links_none(overall):
    challenge, _ = overall
    SnapshotPlot.objects.filter(snapshot__challenge=challenge).delete()
    client = Client()
    page = client.get(f"/challenges/{challenge.slug}/leaderboard/").content.decode()
    assert 'class="overall mean-rank"' in page and "ranks-0.svg" not in page
    assert client.get(f"/challenges/{challenge.slug}/plots/ranks-0.svg").status_code == 404
