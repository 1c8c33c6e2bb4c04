"""Leaderboard reads load only what they return: the page and the API never read the plots (most
of a snapshot's bytes), the CSV and per-case exports not the statistics either, a plot only
itself; cached exports follow a new snapshot."""

import csv
import gzip
import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from evaluation.models import CaseResult
from leaderboard import services

from .helpers import labelled_phase, random_board

pytestmark = pytest.mark.django_db

SNAPSHOT_TABLE = '"leaderboard_leaderboardsnapshot"'
PLOT_TABLE = '"leaderboard_snapshotplot"'


@pytest.fixture
def phase():
    phase = labelled_phase(cases=[f"c{j}" for j in range(6)], bootstrap_samples=50,
                           is_public=True, show_scores=True, show_case_results=True)
    random_board(phase, 3, seed=2)
    services.refresh(phase.id)
    return phase


def read(url: str) -> tuple[set[str], list[str]]:
    """The snapshot columns the request at ``url`` read, and its queries of the plots."""
    with CaptureQueriesContext(connection) as queries:
        assert Client().get(url).status_code == 200
    column = re.compile(r"(?:SELECT |, )" + re.escape(SNAPSHOT_TABLE) + r'\."(\w+)"')
    columns = {name for query in queries if f"FROM {SNAPSHOT_TABLE}" in query["sql"]
               for name in column.findall(query["sql"].split(" FROM ", 1)[0])}
    return columns, [q["sql"] for q in queries if f"FROM {PLOT_TABLE}" in q["sql"]]


@pytest.mark.parametrize(("path", "statistics"), [
    ("", True), ("leaderboard.json", True), ("/api", True), ("leaderboard.csv", False),
    ("cases.csv", False), ("cases.json", False),
])
def test_reads_leave_the_plots_and_what_they_do_not_return_in_the_database(phase, path,
                                                                          statistics):
    url = (f"/api/v1/phases/{phase.id}/leaderboard/" if path == "/api"
           else f"/phases/{phase.id}/{path}")
    columns, plot_queries = read(url)
    assert "entries" in columns
    assert ("statistics" in columns) == statistics
    assert all(f'{PLOT_TABLE}."svg"' not in sql for sql in plot_queries)


def test_a_plot_reads_itself_only(phase):
    columns, plot_queries = read(f"/phases/{phase.id}/plots/blob.svg")
    assert "statistics" not in columns
    assert len(plot_queries) == 1 and "'blob'" in plot_queries[0]


def test_cached_exports_follow_a_new_snapshot(phase):
    client = Client()
    before = list(csv.DictReader(io.StringIO(
        client.get(f"/phases/{phase.id}/cases.csv").content.decode())))
    assert client.get(f"/phases/{phase.id}/cases.csv").content == \
        client.get(f"/phases/{phase.id}/cases.csv").content
    random_board(phase, 1, seed=3, names=["newcomer"])
    services.refresh(phase.id)
    after = list(csv.DictReader(io.StringIO(
        client.get(f"/phases/{phase.id}/cases.csv").content.decode())))
    assert "newcomer" in {row["entrant"] for row in after}
    assert "newcomer" not in {row["entrant"] for row in before}
    assert len(after) == len(before) + CaseResult.objects.filter(
        evaluation__submission__creator__username="newcomer").count()


@pytest.mark.parametrize("export", ["cases.csv", "cases.json", "ranking-input.csv",
                                    "leaderboard.json"])
def test_kept_exports_are_sent_gzipped_to_clients_that_accept_it(phase, export):
    url = f"/phases/{phase.id}/{export}"
    plain = Client().get(url)
    zipped = Client().get(url, HTTP_ACCEPT_ENCODING="gzip, br")
    assert "Content-Encoding" not in plain and zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    for response in (plain, zipped):
        assert response.get("Content-Disposition", "attachment;").startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "Accept-Encoding" in response["Vary"]


@pytest.mark.parametrize("path", ["", "leaderboard.json"])
def test_a_kept_page_or_export_reads_neither_statistics_nor_plots_again(phase, path):
    url = f"/phases/{phase.id}/{path}"
    first, _ = read(url)
    again, plot_queries = read(url)
    assert "statistics" in first and "statistics" not in again
    assert all(f'{PLOT_TABLE}."svg"' not in sql for sql in plot_queries)
