"""Every export of a phase says which ground-truth version scored and where its labels come
from: the leaderboard (CSV, JSON, API, page), the per-case results (CSV, JSON) and the phase's
configuration; a corrected provenance shows at once (kept pages and exports are keyed by it)."""

import csv
import io
import json

import pytest
from django.test import Client

from challenges import provenance
from challenges.config_export import phase_config
from challenges.models import GroundTruth, Phase
from leaderboard import services
from tests import factories

from .helpers import challenge_phases, labelled_phase, random_board, scored_evaluation

pytestmark = pytest.mark.django_db

DOI = "10.7937/K9/TCIA.2017.7hs46erv"
SOURCE = {"source_collection": "NSCLC Radiogenomics", "source_version": "4",
          "source_doi": DOI, "source_licence": "CC BY 3.0",
          "source_url": "https://www.cancerimagingarchive.net/collection/nsclc-radiogenomics/",
          "source_sha256": "c" * 64}
SECRET_SUBJECT = "R01-SECRET-SUBJECT"
CASES = [f"case_{j:02d}" for j in range(6)]


@pytest.fixture
def phase() -> Phase:
    phase = labelled_phase(cases=CASES, show_case_results=True, bootstrap_samples=0)
    GroundTruth.objects.filter(pk=phase.active_ground_truth_id).update(
        source_manifest={"subjects": {SECRET_SUBJECT: "test"}}, **SOURCE)
    random_board(phase, 3, seed=4)
    services.refresh(phase.id)
    return Phase.objects.select_related("task", "active_ground_truth").get(pk=phase.pk)


def read_csv(response) -> list[dict]:
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def _body(response) -> str:
    return b"".join(response).decode() if response.streaming else response.content.decode()


def _no_secret(text: str) -> None:
    assert SECRET_SUBJECT not in text and "groundtruth/x/" not in text


def _expected_cells() -> dict:
    return {"ground_truth_version": "1",
            "source_collection": "NSCLC Radiogenomics", "source_version": "4",
            "source_doi": DOI, "source_licence": "CC BY 3.0", "source_url": SOURCE["source_url"],
            "source_sha256": "c" * 64}


def test_the_leaderboard_csv_and_json_carry_the_version_and_its_source(phase):
    client = Client()
    response = client.get(f"/phases/{phase.id}/leaderboard.csv")
    rows = read_csv(response)
    assert len(rows) == 3
    header = response.content.decode().splitlines()[0].split(",")
    assert header[-1] == "participant"  # the deprecated alias stays last
    for row in rows:
        assert {key: row[key] for key in _expected_cells()} == _expected_cells()
    _no_secret(response.content.decode())

    board = client.get(f"/phases/{phase.id}/leaderboard.json").json()
    assert board["ground_truth_version"] == 1
    assert board["ground_truth"] == provenance.public(phase.active_ground_truth)
    assert board["ground_truth"]["doi_url"] == f"https://doi.org/{DOI}"
    api = client.get(f"/api/v1/phases/{phase.id}/leaderboard/").json()
    assert api["ground_truth"]["collection"] == "NSCLC Radiogenomics"
    assert "manifest" not in api["ground_truth"]


def test_the_case_exports_carry_it_on_every_row_and_once_in_json(phase):
    client = Client()
    response = client.get(f"/phases/{phase.id}/cases.csv")
    text = _body(response)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3 * len(CASES)
    assert all({key: row[key] for key in _expected_cells()} == _expected_cells() for row in rows)
    assert list(rows[0])[-1] == "participant"
    _no_secret(text)

    cases = json.loads(_body(client.get(f"/phases/{phase.id}/cases.json")))
    assert cases["ground_truth"]["doi"] == DOI and cases["ground_truth_version"] == 1
    assert "source_doi" not in cases["cases"][0]


def test_the_phase_configuration_export_carries_it(phase):
    config = phase_config(phase)
    assert config["ground_truth"]["ground_truth_version"] == 1
    assert config["ground_truth"]["doi"] == DOI and config["ground_truth"]["version"] == "4"
    downloaded = _body(Client().get(f"/phases/{phase.id}/config.json"))
    assert json.loads(downloaded)["ground_truth"] == json.loads(json.dumps(config["ground_truth"]))
    _no_secret(downloaded)


def test_a_phase_without_a_scored_version_exports_empty_cells():
    phase = labelled_phase(cases=CASES)
    rows = read_csv(Client().get(f"/phases/{phase.id}/leaderboard.csv"))
    assert rows == []
    header = Client().get(f"/phases/{phase.id}/leaderboard.csv").content.decode().splitlines()[0]
    assert "ground_truth_version" in header and "source_doi" in header


def test_the_leaderboard_page_names_the_version_and_doi_and_follows_a_correction(phase):
    client = Client()
    page = client.get(f"/phases/{phase.id}/")
    body = _body(page)
    assert 'id="board-source"' in body
    line = body[body.index('id="board-source"'):].split("</p>")[0]
    assert "ground truth version 1" in line and "NSCLC Radiogenomics version 4" in line
    assert f'<a href="https://doi.org/{DOI}" rel="noopener">{DOI}</a>' in line
    _no_secret(body)
    exported = read_csv(client.get(f"/phases/{phase.id}/cases.csv"))[0]["source_doi"]
    assert exported == DOI

    organizer = factories.user("prov-org", staff=True)
    phase.task.challenge.organizers.add(organizer)
    corrected = factories.api_client(organizer).patch(
        f"/api/v1/organizer/phases/{phase.id}/ground-truths/1/", {"doi": "10.1234/fixed"},
        format="json")
    assert corrected.status_code == 200
    assert "10.1234/fixed" in _body(client.get(f"/phases/{phase.id}/"))
    assert read_csv(client.get(f"/phases/{phase.id}/cases.csv"))[0]["source_doi"] == \
        "10.1234/fixed"


def test_the_overall_json_names_each_tasks_scored_version_and_source():
    phases = challenge_phases(["T1", "T2"], cases=CASES[:4], slug="prov-overall",
                              bootstrap_samples=0)
    GroundTruth.objects.filter(pk=phases[0].active_ground_truth_id).update(**SOURCE)
    user = factories.participant(phases[0], "solo")
    for phase in phases:
        scored_evaluation(phase, user, {(case, 1): {"dice": 0.8} for case in CASES[:4]})
        services.refresh(phase.id)
    challenge = phases[0].task.challenge
    services.refresh_challenge(challenge.id)
    for body in (Client().get(f"/challenges/{challenge.slug}/leaderboard.json").json(),
                 Client().get(f"/api/v1/challenges/{challenge.slug}/leaderboard/").json()):
        (ranking,) = body["rankings"]
        sources = {task["key"]: task["ground_truth"] for task in ranking["tasks"]}
        assert sources["T1"]["doi"] == DOI and sources["T1"]["ground_truth_version"] == 1
        assert sources["T2"]["doi"] == "" and sources["T2"]["ground_truth_version"] == 1
