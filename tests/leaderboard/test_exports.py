"""CSV and JSON exports: their content, spreadsheet formula injection, and that the ranking input
reproduces the leaderboard with the command-line tool."""

import csv
import io
import subprocess
import sys

import pytest
from django.test import Client

from evaluation.models import CaseResult, Submission
from leaderboard import services
from leaderboard.exports import spreadsheet_cell
from tests import factories

from .helpers import labelled_phase, random_board, scored_evaluation

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example","click")'
CASES = [f"case_{j:02d}" for j in range(10)]


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=b", "a=b"), ("team-alpha", "team-alpha"),
    (-0.25, -0.25), (3, 3), (0.0, 0.0), (None, ""), (float("nan"), ""), (float("inf"), ""),
    (True, "true"), (False, "false"),
])
def test_spreadsheet_cells(value, cell):
    assert spreadsheet_cell(value) == cell


def read_csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.fixture
def phase():
    phase = labelled_phase(cases=CASES, labels={"1": "left", "2": "right"},
                           bootstrap_samples=200, ranking_method="rank-then-aggregate",
                           show_case_results=True)
    random_board(phase, 4, seed=2, names=["-minus", "alpha", "beta", "gamma"])
    Submission.objects.filter(phase=phase, description="net 1").update(description=FORMULA)
    undefined = factories.participant(phase, "@undefined")
    values = {(case, label): {"dice": 0.5, "nsd": 0.5, "hd": None, "hd95": None, "assd": None}
              for case in CASES for label in (1, 2)}
    scored_evaluation(phase, undefined, values)
    services.refresh(phase.id)
    return phase


def test_leaderboard_csv_holds_the_entries_and_defuses_formulas(phase):
    entries = services.refresh(phase.id).entries
    rows = read_csv(Client().get(f"/phases/{phase.id}/leaderboard.csv"))
    assert [r["entrant"] for r in rows] == [
        "'" + e["entrant"] if e["entrant"][0] in "-@" else e["entrant"]
        for e in entries]
    for row, entry in zip(rows, entries, strict=True):
        assert float(row["score"]) == entry["score"]
        assert float(row["ranking_score"]) == entry["ranking_score"]
        assert float(row["rank"]) == entry["rank"]
        assert float(row["p_rank1"]) == entry["p_rank1"]
        assert float(row["left dice"]) == entry["aggregate"]["1"]["dice"]
    described = {r["entrant"]: r["description"] for r in rows}
    assert described["alpha"] == "'" + FORMULA


def test_cases_csv_and_json_hold_every_case_result(phase):
    rows = read_csv(Client().get(f"/phases/{phase.id}/cases.csv"))
    assert len(rows) == 5 * len(CASES) * 2
    assert set(rows[0]) == {"entrant", "submission", "case", "label", "label_name", "dice",
                            "nsd", "hd", "hd95", "assd", "missing", "participant",
                            # the ground truth scored (tests/leaderboard/test_provenance_exports)
                            "ground_truth_version",
                            "source_collection", "source_version", "source_doi",
                            "source_licence", "source_url", "source_sha256"}
    assert all(row["participant"] == row["entrant"] for row in rows)  # deprecated alias
    undefined = [r for r in rows if r["entrant"] == "'@undefined"]
    assert len(undefined) == 20 and all(r["hd95"] == "" and r["dice"] == "0.5"
                                        for r in undefined)
    stored = CaseResult.objects.get(evaluation__submission__creator__username="alpha",
                                    case="case_03", label=2)
    (row,) = [r for r in rows if r["entrant"] == "alpha" and r["case"] == "case_03"
              and r["label"] == "2"]
    assert float(row["dice"]) == stored.values["dice"] and row["label_name"] == "right"
    assert row["missing"] == "false"

    response = Client().get(f"/phases/{phase.id}/cases.json")
    assert response.status_code == 200
    body = response.json()
    assert body["metrics"] == ["dice", "nsd", "hd", "hd95", "assd"]
    (same,) = [r for r in body["cases"] if r["entrant"] == "alpha"
               and r["case"] == "case_03" and r["label"] == 2]
    assert same["dice"] == stored.values["dice"]
    assert {r["hd95"] for r in body["cases"] if r["entrant"] == "@undefined"} == {None}


def test_the_ranking_input_reproduces_the_leaderboard_with_the_cli(phase, tmp_path):
    snapshot = services.refresh(phase.id)
    response = Client().get(f"/phases/{phase.id}/ranking-input.csv")
    assert response.status_code == 200
    (tmp_path / "input.csv").write_bytes(response.content)
    subprocess.run(
        [sys.executable, "-m", "leaderboard.stats", "bootstrap", "--input",
         str(tmp_path / "input.csv"), "--method", "rank-then-aggregate", "--na", "0",
         "--n", "200", "--seed", str(phase.ranking_seed), "--out-dir", str(tmp_path / "out")],
        check=True, capture_output=True, timeout=120,
    )
    with open(tmp_path / "out" / "summary.csv") as fh:
        summary = {row["algorithm"].lstrip("'"): row for row in csv.DictReader(fh)}
    assert len(summary) == 5
    for entry in snapshot.entries:
        row = summary[entry["entrant"]]
        assert float(row["full_rank"]) == entry["rank"]
        assert (float(row["q025"]), float(row["q975"])) == (entry["rank_q025"],
                                                            entry["rank_q975"])
        assert float(row["p_rank1"]) == entry["p_rank1"]


def test_exports_of_an_empty_leaderboard():
    phase = labelled_phase(cases=CASES, show_case_results=True)
    assert read_csv(Client().get(f"/phases/{phase.id}/cases.csv")) == []
    assert read_csv(Client().get(f"/phases/{phase.id}/leaderboard.csv")) == []
    assert Client().get(f"/phases/{phase.id}/cases.json").json()["cases"] == []


def test_exports_take_an_api_token_as_their_login():
    """A script with the token it uses for the API downloads what the viewer may see: an
    organizer of a hidden board gets it, no login gets 404, a wrong token 401."""
    phase = labelled_phase(cases=CASES, slug="token-exports", is_public=False)
    random_board(phase, 3)
    services.refresh(phase.id)
    organizer = factories.user("token-exports-organizer")
    phase.task.challenge.organizers.add(organizer)
    key = factories.token(organizer)
    for path in ("leaderboard.csv", "leaderboard.json", "cases.csv"):
        url = f"/phases/{phase.id}/{path}"
        assert Client().get(url).status_code == 404
        answer = Client().get(url, HTTP_AUTHORIZATION=f"Token {key}")
        assert answer.status_code == 200, path
        assert "Authorization" in answer["Vary"]
        assert Client().get(url, HTTP_AUTHORIZATION="Token wrong").status_code == 401
    assert len(read_csv(Client().get(f"/phases/{phase.id}/leaderboard.csv",
                                     HTTP_AUTHORIZATION=f"Token {key}"))) == 3
