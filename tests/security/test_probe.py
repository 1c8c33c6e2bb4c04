"""Probe resistance: per-case results (a label-size oracle) are hidden unless an organizer
turns them on, with a warning; public scores can be rounded, for everyone but organizers, on
pages, API and exports, while rankings use the exact values."""

import csv
import io
import json
import re
from html.parser import HTMLParser

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from challenges.models import Phase
from leaderboard import services
from tests import factories
from tests.leaderboard.helpers import labelled_phase, scored_evaluation

pytestmark = pytest.mark.django_db

CASES = ("case_a", "case_b", "case_c")


def values(dice: float, hd: float | None = None) -> dict:
    return {(case, 1): {"dice": dice, "nsd": dice, "hd": hd, "hd95": hd, "assd": hd}
            for case in CASES}


def floats(tree) -> list[float]:
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in floats(v)]
    if isinstance(tree, list):
        return [x for v in tree for x in floats(v)]
    return [tree] if isinstance(tree, float) else []


def at_most_two_decimals(tree) -> bool:
    numbers = floats(tree)
    return bool(numbers) and all(round(x, 2) == x for x in numbers)


class FormFields(HTMLParser):
    """The values an admin change form would post back unchanged."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str | list[str]] = {}
        self.select = self.textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") == "checkbox" and "checked" in attrs and attrs.get("value"):
                # A group of checkboxes of one name (the metrics): every checked value.
                self.data.setdefault(name, [])
                if isinstance(self.data[name], list):
                    self.data[name].append(attrs["value"])
            elif attrs.get("type") != "checkbox" or "checked" in attrs:
                self.data[name] = attrs.get("value") or ""
        elif tag == "select":
            self.select = name
        elif tag == "option" and self.select and ("selected" in attrs
                                                  or self.select not in self.data):
            self.data[self.select] = attrs.get("value") or ""
        elif tag == "textarea":
            self.textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.data[self.textarea] += data


def test_a_new_phase_shows_no_per_case_results_to_participants():
    phase = labelled_phase(cases=CASES)
    assert phase.show_case_results is False and phase.public_score_decimals is None
    participant = factories.participant(phase, "prober")
    evaluation = scored_evaluation(phase, participant, values(0.8))
    services.refresh(phase.id)
    client = Client()
    client.force_login(participant)

    api = client.get(f"/api/v1/submissions/{evaluation.submission_id}/").json()
    assert api["results"]["aggregate"] and "cases" not in api["results"]
    page = client.get(f"/submissions/{evaluation.submission_id}/").content.decode()
    assert 'id="aggregate"' in page and 'id="cases"' not in page and "case_a" not in page
    board = client.get(f"/phases/{phase.id}/").content.decode()
    assert 'id="case-plot"' not in board and "cases.csv" not in board
    assert client.get(f"/phases/{phase.id}/cases.json").status_code == 404

    organizer = factories.user("probe-organizer")
    phase.task.challenge.organizers.add(organizer)
    client.force_login(organizer)
    api = client.get(f"/api/v1/submissions/{evaluation.submission_id}/").json()
    assert [row["case"] for row in api["results"]["cases"]] == list(CASES)


def test_turning_per_case_results_on_in_the_admin_warns_about_the_label_size_oracle():
    phase = labelled_phase(cases=CASES)
    staff = factories.user("probe-staff", staff=True)
    client = Client()
    client.force_login(staff)
    url = f"/admin/challenges/phase/{phase.id}/change/"
    form = FormFields()
    form.feed(client.get(url).content.decode())
    assert "label" in client.get(url).content.decode()  # the field's help text explains

    unchanged = client.post(url, form.data, follow=True)
    assert unchanged.status_code == 200
    assert not [m for m in unchanged.context["messages"] if m.level_tag == "warning"]
    turned_on = client.post(url, {**form.data, "show_case_results": "on"}, follow=True)
    phase.refresh_from_db()
    assert phase.show_case_results is True
    (warning,) = [str(m) for m in turned_on.context["messages"] if m.level_tag == "warning"]
    assert "label" in warning and "size" in warning


@pytest.fixture
def rounded():
    """Two participants 0.0037 apart in Dice, equal once rounded to two decimals."""
    phase = labelled_phase(cases=CASES, public_score_decimals=2, show_case_results=True,
                           bootstrap_samples=20)
    ann = factories.participant(phase, "ann")
    scored_evaluation(phase, ann, values(0.8512, hd=3.14159))
    bob = factories.participant(phase, "bob")
    evaluation = scored_evaluation(phase, bob, values(0.8549, hd=2.71828))
    services.refresh(phase.id)
    organizer = factories.user("rounding-organizer")
    phase.task.challenge.organizers.add(organizer)
    return phase, bob, evaluation, organizer


def test_rankings_use_exact_values_and_participants_see_rounded_ones(rounded):
    phase, bob, evaluation, _ = rounded
    client = Client()
    board = client.get(f"/api/v1/phases/{phase.id}/leaderboard/").json()
    assert [(e["entrant"], e["rank"]) for e in board["entries"]] == [("bob", 1), ("ann", 2)]
    assert [e["score"] for e in board["entries"]] == [0.85, 0.85]
    for entry in board["entries"]:
        assert at_most_two_decimals({k: entry[k] for k in ("score", "aggregate",
                                                            "score_q025", "score_q975")})

    page = client.get(f"/phases/{phase.id}/").content.decode()
    scores = re.findall(r'<td class="score">([^<]*)</td>', page)
    assert scores == ["0.85", "0.85"]
    cells = re.findall(r'<td class="aggregate">([^<]*)</td>', page)
    assert cells and all(re.fullmatch(r"\d+\.\d\d", c) for c in cells)
    assert "0.8549" not in page and "0.8512" not in page and "3.1416" not in page

    exported = json.loads(client.get(f"/phases/{phase.id}/leaderboard.json").content)
    assert [e["score"] for e in exported["entries"]] == [0.85, 0.85]
    table = list(csv.DictReader(io.StringIO(
        client.get(f"/phases/{phase.id}/leaderboard.csv").content.decode())))
    assert [row["score"] for row in table] == ["0.85", "0.85"]
    cases = json.loads(client.get(f"/phases/{phase.id}/cases.json").content)["cases"]
    assert {row["dice"] for row in cases} == {0.85} and {row["hd"] for row in cases} == {3.14,
                                                                                            2.72}
    ranking_input = client.get(f"/phases/{phase.id}/ranking-input.csv").content.decode()
    assert "0.8549" not in ranking_input and ",0.85" in ranking_input

    client.force_login(bob)
    own = client.get(f"/api/v1/submissions/{evaluation.submission_id}/").json()["results"]
    assert own["aggregate"]["1"]["dice"] == 0.85 and at_most_two_decimals(own)
    own_page = client.get(f"/submissions/{evaluation.submission_id}/").content.decode()
    assert "0.8549" not in own_page and "2.71828" not in own_page


def test_organizers_see_the_exact_values(rounded):
    phase, _, evaluation, organizer = rounded
    client = Client()
    client.force_login(organizer)
    board = client.get(f"/api/v1/phases/{phase.id}/leaderboard/").json()
    assert [e["score"] for e in board["entries"]] == [pytest.approx(0.8549),
                                                      pytest.approx(0.8512)]
    page = client.get(f"/phases/{phase.id}/").content.decode()
    assert re.findall(r'<td class="score">([^<]*)</td>', page) == ["0.8549", "0.8512"]
    exported = json.loads(client.get(f"/phases/{phase.id}/leaderboard.json").content)
    assert exported["entries"][0]["score"] == pytest.approx(0.8549)
    own = client.get(f"/api/v1/submissions/{evaluation.submission_id}/").json()["results"]
    assert own["aggregate"]["1"]["dice"] == pytest.approx(0.8549)
    assert own["cases"][0]["hd"] == pytest.approx(2.71828)


def test_a_decimals_value_outside_0_to_6_is_refused():
    phase = labelled_phase(cases=CASES)
    phase.public_score_decimals = 7
    with pytest.raises(ValidationError, match="6"):
        phase.full_clean()
    assert Phase.objects.get(pk=phase.pk).public_score_decimals is None
