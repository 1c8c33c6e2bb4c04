"""The phase leaderboard page and API: the numbers shown are leaderboard.stats' on the values the
test chose; names are escaped; hidden scores and per-case results never leak."""

import gzip
import json
import math
import re
from datetime import timedelta
from html.parser import HTMLParser

import numpy as np
import pytest
from django.test import Client

from evaluation.models import Submission
from leaderboard import services
from leaderboard.models import LeaderboardSnapshot
from leaderboard.presentation import SCORE_KEYS
from leaderboard.stats import RankingConfig
from tests import factories

from .helpers import labelled_phase, random_board, stats_on_chosen_values

pytestmark = pytest.mark.django_db

HOSTILE = "<img src=x onerror=alert(1)>"
NAMES = ["alpha", HOSTILE, "gamma", "delta", "epsilon"]
B = 300


class Board(HTMLParser):
    """Rows of table#leaderboard as {cell class: text}, the ids of the figures and the URLs
    of their images."""

    def __init__(self):
        super().__init__()
        self.inside, self.rows, self.cell, self.figures, self.images = False, [], None, [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.inside = attrs.get("id") == "leaderboard"
        elif tag == "figure":
            self.figures.append(attrs.get("id"))
        elif tag == "img" and self.figures:
            self.images.append(attrs["src"])
            assert attrs.get("alt") and attrs.get("loading") == "lazy"
        elif self.inside and tag == "tr":
            self.rows.append({})
        elif self.inside and tag == "td":
            self.cell = (attrs.get("class") or "", "")

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif tag == "td" and self.cell is not None:
            self.rows[-1][self.cell[0]] = self.cell[1].strip()
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell = (self.cell[0], self.cell[1] + data)


def parsed(response) -> Board:
    assert response.status_code == 200
    board = Board()
    board.feed(response.content.decode())
    board.rows = [row for row in board.rows if row]
    return board


@pytest.fixture
def phase():
    phase = labelled_phase(cases=[f"case_{j:02d}" for j in range(12)],
                           labels={"1": "left", "2": "right"}, bootstrap_samples=B,
                           show_case_results=True)
    phase.grids = random_board(phase, len(NAMES), seed=11, names=NAMES)
    Submission.objects.filter(phase=phase, description="net 0").update(
        description='=HYPERLINK("http://evil.example","x")')
    services.refresh(phase.id)
    return phase


def test_the_page_shows_the_ranks_scores_and_intervals_leaderboard_stats_computes(phase):
    config = RankingConfig(method="aggregate-mean", larger_better=True, na=0.0)
    boot, _ = stats_on_chosen_values(phase, phase.grids, config, B)
    summary = boot.summary()
    rows = parsed(Client().get(f"/phases/{phase.id}/")).rows
    assert len(rows) == len(NAMES)
    for row in rows:
        k = summary.algorithms.index(row["entrant"])
        assert row["rank"] == f"{summary.full_rank[k]:g}"
        assert row["score"] == f"{summary.aggregate_value[k]:.4f}"
        assert row["score-interval"] == (
            f"[{summary.aggregate_q025[k]:.4f}, {summary.aggregate_q975[k]:.4f}]")
        low, high = math.floor(summary.q025[k] + 1e-9), math.ceil(summary.q975[k] - 1e-9)
        assert row["rank-interval"] == f"{low}–{high}"  # whole ranks; the API keeps quantiles
        assert row["p-rank1"] == f"{100 * summary.p_rank[k, 0]:.1f} %"
        assert row["n-cases"] == "12"
        mean_dice = np.mean(phase.grids[row["entrant"]])
        assert float(row["score"]) == pytest.approx(mean_dice, abs=5e-5)
    ranks = [int(row["rank"]) for row in rows]
    assert ranks == sorted(ranks) and ranks[0] == 1


def test_the_page_states_method_missing_rule_and_seed_and_draws_the_plots(phase):
    response = Client().get(f"/phases/{phase.id}/")
    text = response.content.decode()
    assert "mean of each entrant&#x27;s values, then ranked (larger is better; ties: min; " \
           "missing values count as 0)." in text
    assert "0 for Dice and NSD, the diagonal of the case&#x27;s image in mm" in text
    assert ">Description</th>" in text and ">Method</th>" not in text
    assert f"{B} bootstrap resamples of the test cases, drawn with seed {phase.ranking_seed}" \
        in text
    board = parsed(response)
    assert board.figures == ["blob-plot", "significance-map", "case-plot", "podium-plot"]
    assert "<svg" not in text  # the plots are images of their own, loaded when scrolled to
    plots = {name: plot(url) for name, url in zip(board.figures, board.images, strict=True)}
    assert all(svg.startswith("<svg") for svg in plots.values())
    assert "dice per case" in plots["case-plot"].lower()  # the metric's name or its label
    other = parsed(Client().get(f"/phases/{phase.id}/?metric=hd95"))
    assert re.search(r"hd95[^<]* per case", plot(other.images[2]).lower())
    assert "podium (hd95" in plot(other.images[3]).lower()
    fallback = parsed(Client().get(f"/phases/{phase.id}/?metric=<b>"))
    assert "dice per case" in plot(fallback.images[2]).lower()


def plot(url: str, client=None) -> str:
    """The SVG at ``url`` (an image of the page), checked to be served as such."""
    response = (client or Client()).get(url)
    assert response.status_code == 200, url
    assert response["Content-Type"] == "image/svg+xml"
    assert response["X-Content-Type-Options"] == "nosniff"
    return response.content.decode()


def test_plots_are_cached_until_the_snapshot_changes(phase):
    url = parsed(Client().get(f"/phases/{phase.id}/")).images[0]
    first = Client().get(url)
    assert "max-age=86400" in first["Cache-Control"] and "private" in first["Cache-Control"]
    again = Client().get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    snapshot = services.refresh(phase.id)
    LeaderboardSnapshot.objects.filter(pk=snapshot.pk).update(
        computed_at=snapshot.computed_at + timedelta(seconds=1))
    newer = parsed(Client().get(f"/phases/{phase.id}/")).images[0]
    assert newer != url
    assert Client().get(newer, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_pages_are_compressed_for_clients_that_accept_it(phase):
    response = Client().get(f"/phases/{phase.id}/", HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"
    assert b"<table id=\"leaderboard\">" in gzip.decompress(response.content)
    url = parsed(Client().get(f"/phases/{phase.id}/")).images[1]
    svg = Client().get(url, HTTP_ACCEPT_ENCODING="gzip")
    assert svg["Content-Encoding"] == "gzip"
    assert gzip.decompress(svg.content).startswith(b"<svg")


def test_names_are_escaped_in_tables_and_plots(phase):
    response = Client().get(f"/phases/{phase.id}/")
    text = response.content.decode()
    assert HOSTILE not in text
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    assert text.count(escaped) >= 2  # table and aggregates table
    for url in parsed(response).images:  # and every plot's labels
        svg = plot(url)
        assert HOSTILE not in svg and escaped in svg
    api = Client().get(f"/api/v1/phases/{phase.id}/leaderboard/").json()
    assert HOSTILE in [e["entrant"] for e in api["entries"]]


def score_strings(phase):
    entries = services.refresh(phase.id).entries
    strings = set()
    for entry in entries:
        for key in ("score", "score_q025", "score_q975"):
            strings |= {f"{entry[key]:.4f}", repr(entry[key])}
    return strings


def leaked(secrets, body: str) -> list[str]:
    """The secrets found in ``body`` as numbers of their own: 0.6533 inside a plot's coordinate
    120.6533 is not a score."""
    return [s for s in secrets if re.search(rf"(?<![\d.]){re.escape(s)}(?!\d)", body)]


def test_hidden_scores_never_leak(phase):
    secrets = score_strings(phase)
    phase.show_scores = False
    phase.save()
    client = Client()
    page = client.get(f"/phases/{phase.id}/")
    board = parsed(page)
    assert all(set(row) == {"rank", "entrant", "description", "rank-interval", "p-rank1",
                            "n-cases"} for row in board.rows)
    assert board.figures == ["blob-plot", "significance-map"]
    api = client.get(f"/api/v1/phases/{phase.id}/leaderboard/")
    assert all(not set(e) & set(SCORE_KEYS) for e in api.json()["entries"])
    shown = [plot(url) for url in board.images]
    for body in (page.content.decode(), api.content.decode(), *shown):
        assert not leaked(secrets, body)
        assert "case_values" not in body
    for export in ("leaderboard.json", "leaderboard.csv", "cases.csv", "cases.json",
                   "ranking-input.csv"):
        assert client.get(f"/phases/{phase.id}/{export}").status_code == 404
    organizer = factories.user("organizer-of-hidden")
    phase.task.challenge.organizers.add(organizer)
    client.force_login(organizer)
    organizers = parsed(client.get(f"/phases/{phase.id}/"))
    assert "podium-plot" in organizers.figures
    assert client.get(f"/phases/{phase.id}/cases.csv").status_code == 200
    for url in organizers.images[2:]:  # the per-case plots stay the organizers'
        assert plot(url, client).startswith("<svg")
        assert Client().get(url).status_code == 404


def test_hidden_case_results_hide_per_case_plots_and_exports(phase):
    phase.show_case_results = False
    phase.save()
    client = Client()
    assert parsed(client.get(f"/phases/{phase.id}/")).figures == ["blob-plot",
                                                                 "significance-map"]
    assert client.get(f"/phases/{phase.id}/leaderboard.csv").status_code == 200
    for export in ("cases.csv", "cases.json", "ranking-input.csv", "plots/cases.svg",
                   "plots/podium.svg"):
        assert client.get(f"/phases/{phase.id}/{export}").status_code == 404


def test_an_unpublished_leaderboard_is_for_organizers_only(phase):
    phase.is_public = False
    phase.save()
    client = Client()
    for url in ("", "leaderboard.json", "leaderboard.csv", "cases.csv", "plots/blob.svg"):
        assert client.get(f"/phases/{phase.id}/{url}").status_code == 404
    assert client.get(f"/api/v1/phases/{phase.id}/leaderboard/").status_code == 404
    organizer = factories.user("organizer-of-private")
    phase.task.challenge.organizers.add(organizer)
    client.force_login(organizer)
    assert len(parsed(client.get(f"/phases/{phase.id}/")).rows) == len(NAMES)


def test_the_api_keeps_its_keys_and_adds_the_statistics(phase):
    body = Client().get(f"/api/v1/phases/{phase.id}/leaderboard/").json()
    assert {"phase", "task", "metric", "larger_is_better", "ground_truth_version",
            "computed_at", "ranking_method", "entries"} <= set(body)
    assert body["seed"] == phase.ranking_seed and body["n_boot"] == B
    assert body["ranking_method"] == "aggregate-mean" and body["ranking_method_description"]
    assert "0 for Dice and NSD" in body["missing_value_rule"]
    aliases = {"method": "ranking_method", "method_description": "ranking_method_description",
               "na": "missing_value_rule"}  # deprecated: answered until the next release
    assert all(body[old] == body[new] for old, new in aliases.items())
    entry = body["entries"][0]
    assert {"rank", "entrant", "submission", "evaluation", "submitted", "description",
            "score", "aggregate", "rank_q025", "rank_q975", "p_rank1", "score_q025",
            "score_q975", "n_cases"} <= set(entry)
    assert all(e["participant"] == e["entrant"] for e in body["entries"])  # deprecated alias
    distribution = body["statistics"]["rank_distribution"]
    assert [row[0] for row in distribution] == [e["p_rank1"] for e in body["entries"]]
    assert all(sum(row) == pytest.approx(1.0) for row in distribution)
    assert json.dumps(body, allow_nan=False)


def test_organizers_choose_the_ranking_in_the_admin(phase):
    client = Client()
    client.force_login(factories.user("admin-of-ranking", staff=True))
    page = client.get(f"/admin/challenges/phase/{phase.id}/change/").content.decode()
    for field in ("ranking_method", "ranking_ties", "ranking_adjust", "ranking_alpha",
                  "bootstrap_samples", "ranking_seed"):
        assert f'name="{field}"' in page
    assert "test-then-rank" in page


def test_one_entrant_gets_a_sentence_instead_of_an_empty_significance_map():
    lone = labelled_phase(cases=[f"case_{j:02d}" for j in range(6)], bootstrap_samples=50)
    random_board(lone, 1, seed=3, names=["solo"])
    services.refresh(lone.id)
    response = Client().get(f"/phases/{lone.id}/")
    text = response.content.decode()
    assert parsed(response).figures == ["blob-plot"]
    assert '<p id="significance-map" class="muted">' in text
    assert "it needs at least two entrants" in text


def test_the_significance_map_names_both_colours(phase):
    text = Client().get(f"/phases/{phase.id}/").content.decode()
    assert "a yellow cell means the row's entrant is significantly better" in text
    assert "a pale blue cell, that it is not" in text and "a filled cell" not in text
    board = parsed(Client().get(f"/phases/{phase.id}/"))
    drawn = plot(board.images[board.figures.index("significance-map")])
    assert "row significantly better than column" in drawn
    assert "not significantly better" in drawn and "filled:" not in drawn
    assert "one-sided Wilcoxon signed-rank test, α = 0.05" in drawn
