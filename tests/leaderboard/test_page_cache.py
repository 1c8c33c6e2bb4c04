"""The leaderboard page's cache: one visibility level's board never reaches another's viewer,
an anonymous viewer's whole page is shared and holds nothing of a viewer's own, and a new
snapshot or an edited phase is shown at once."""

import gzip
import re

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from challenges.models import Phase
from leaderboard import services
from tests import factories

from .helpers import labelled_phase, random_board

pytestmark = pytest.mark.django_db

SCORE_CELL = re.compile(r'<td class="score">([^<]*)</td>')
WHO = re.compile(r'<span class="who">([^<]*)</span>')
ENTRANT = re.compile(r'<td class="entrant">([^<]*)</td>')


@pytest.fixture
def phase():
    phase = labelled_phase(cases=[f"c{j}" for j in range(6)], bootstrap_samples=50,
                           is_public=True, show_scores=True, show_case_results=True,
                           public_score_decimals=2)
    random_board(phase, 3, seed=5)
    services.refresh(phase.id)
    return phase


@pytest.fixture
def organizer(phase):
    user = factories.user("organizer")
    phase.task.challenge.organizers.add(user)
    return user


def client_of(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def page(client: Client, phase, query: str = "", status: int = 200) -> str:
    response = client.get(f"/phases/{phase.id}/{query}")
    assert response.status_code == status
    return response.content.decode()


def scores(html: str) -> list[str]:
    return SCORE_CELL.findall(html)


def edit(phase, **fields) -> None:
    """The phase's fields changed in the database, as the console saves them (no refresh)."""
    Phase.objects.filter(pk=phase.pk).update(**fields)


@pytest.mark.parametrize("organizer_first", [True, False])
def test_organizers_see_exact_scores_and_everyone_else_the_rounded_ones_in_either_order(
        phase, organizer, organizer_first):
    viewers = {"organizer": client_of(organizer), "anonymous": Client(),
               "participant": client_of(factories.participant(phase))}
    order = list(viewers) if organizer_first else list(reversed(viewers))
    shown = {name: scores(page(viewers[name], phase)) for name in order}
    exact, anonymous, participant = shown["organizer"], shown["anonymous"], shown["participant"]
    assert len(exact) == 3 and all(len(s.split(".")[1]) == 4 for s in exact)
    assert anonymous == participant and all(len(s.split(".")[1]) == 2 for s in anonymous)
    assert [round(float(s), 2) for s in exact] == [float(s) for s in anonymous]


@pytest.mark.parametrize("organizer_first", [True, False])
def test_hidden_scores_stay_hidden_from_the_public_before_and_after_an_organizer(
        phase, organizer, organizer_first):
    edit(phase, show_scores=False)
    anonymous, theirs = Client(), client_of(organizer)
    order = [theirs, anonymous] if organizer_first else [anonymous, theirs]
    html = {id(client): page(client, phase) for client in order}
    assert scores(html[id(anonymous)]) == [] and "Metric aggregates" not in html[id(anonymous)]
    assert len(scores(html[id(theirs)])) == 3 and "Metric aggregates" in html[id(theirs)]
    assert "/plots/cases.svg" not in html[id(anonymous)]
    assert "/plots/cases.svg" in html[id(theirs)]


def test_an_unpublished_board_is_shown_to_its_organizers_only(phase, organizer):
    edit(phase, is_public=False)
    for _ in range(2):  # and again, once the organizer's page is kept
        assert len(ENTRANT.findall(page(client_of(organizer), phase))) == 3
        page(Client(), phase, status=404)
        page(client_of(factories.participant(phase)), phase, status=404)


def test_each_logged_in_viewer_gets_their_own_header_and_the_anonymous_page_none(phase):
    anonymous_before = page(Client(), phase)
    first, second = factories.user("first-viewer"), factories.user("second-viewer")
    assert WHO.findall(page(client_of(first), phase)) == ["first-viewer"]
    second_page = page(client_of(second), phase)
    assert WHO.findall(second_page) == ["second-viewer"]
    assert "csrfmiddlewaretoken" in second_page and ">Submit</a>" in second_page
    anonymous_after = page(Client(), phase)
    assert anonymous_after == anonymous_before
    assert WHO.findall(anonymous_after) == [] and "csrfmiddlewaretoken" not in anonymous_after
    assert ">Log in</a>" in anonymous_after and ">Submit</a>" not in anonymous_after


def test_the_anonymous_page_is_kept_gzipped_and_answered_by_etag(phase):
    url = f"/phases/{phase.id}/"
    first = Client().get(url, HTTP_ACCEPT_ENCODING="gzip")
    with CaptureQueriesContext(connection) as queries:
        kept = Client().get(url, HTTP_ACCEPT_ENCODING="gzip")
    assert kept.content == first.content and kept["Content-Encoding"] == "gzip"
    assert not any('"entries"' in query["sql"] for query in queries)  # the snapshot not read
    plain = Client().get(url)
    assert "Content-Encoding" not in plain and plain.content == gzip.decompress(kept.content)
    assert {"Cookie", "Accept-Encoding"} <= {v.strip() for v in kept["Vary"].split(",")}
    assert "private" in kept["Cache-Control"] and "no-cache" in kept["Cache-Control"]
    assert not kept.cookies
    assert kept["ETag"].startswith('W/"')  # one tag for two encodings of the page
    again = Client().get(url, HTTP_IF_NONE_MATCH=kept["ETag"])
    assert again.status_code == 304 and again.content == b""
    organizer = factories.user("etag-organizer")
    phase.task.challenge.organizers.add(organizer)
    theirs = client_of(organizer).get(url, HTTP_IF_NONE_MATCH=kept["ETag"])
    assert theirs.status_code == 200 and len(scores(theirs.content.decode())) == 3


def test_a_new_snapshot_is_shown_at_once_to_every_viewer(phase, organizer):
    before = {"anonymous": page(Client(), phase), "organizer": page(client_of(organizer), phase)}
    etag = Client().get(f"/phases/{phase.id}/")["ETag"]
    random_board(phase, 1, seed=6, names=["newcomer"])
    services.refresh(phase.id)
    for html, client in ((before["anonymous"], Client()), (before["organizer"],
                                                          client_of(organizer))):
        assert "newcomer" not in ENTRANT.findall(html)
        assert "newcomer" in ENTRANT.findall(page(client, phase))
    assert Client().get(f"/phases/{phase.id}/", HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_an_edited_phase_is_shown_without_a_new_snapshot(phase):
    assert all(len(s.split(".")[1]) == 2 for s in scores(page(Client(), phase)))
    edit(phase, name="Final round", public_score_decimals=3)
    html = page(Client(), phase)
    assert "Final round" in html
    assert all(len(s.split(".")[1]) == 3 for s in scores(html))


def test_a_message_for_an_anonymous_viewer_is_shown_to_them_alone(phase):
    kept = page(Client(), phase)
    leaving = client_of(factories.user("leaving"))
    assert leaving.post("/accounts/logout/").status_code == 302
    theirs = page(leaving, phase)
    assert "You have signed out." in theirs
    assert page(Client(), phase) == kept
    assert "You have signed out." not in page(leaving, phase)  # shown once


BASE_WITH_A_FORM = """{% block content %}{% endblock %}
<form method="post" action="/accounts/logout/">{% csrf_token %}<button>Leave</button></form>"""


def test_a_page_that_holds_a_csrf_token_is_never_shared(phase, tmp_path):
    """A template that gave anonymous viewers a form: each gets a token their cookie matches."""
    (tmp_path / "base.html").write_text(BASE_WITH_A_FORM)
    templates = [settings.TEMPLATES[0] | {"DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    with override_settings(TEMPLATES=templates):
        for _ in range(2):
            client = Client(enforce_csrf_checks=True)
            html = page(client, phase)
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
            assert client.post("/accounts/logout/",
                               {"csrfmiddlewaretoken": token}).status_code != 403
