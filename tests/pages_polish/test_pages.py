"""The pages as the screenshot walkthrough found them wanting: template comments printed as
text, dates in another format, names people never gave, mixed decimals and words, a breadcrumb
out of place. Rendered by Django's test client from real rows."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Profile
from challenges.models import Participation, Phase
from core.templatetags.when import text
from evaluation.models import Submission
from leaderboard import services
from leaderboard.models import LeaderboardSnapshot
from tests.leaderboard.helpers import labelled_phase, random_board

from .conftest import logged_in

pytestmark = pytest.mark.django_db

ISO_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def template_files() -> list[Path]:
    root = Path(settings.BASE_DIR)
    return sorted({*root.glob("templates/**/*.html"), *root.glob("*/templates/**/*.html"),
                   *root.glob("templates/**/*.txt")})


def test_no_template_opens_a_comment_it_does_not_close_on_the_same_line():
    """Django's {# #} is one line only: a second line is printed as text."""
    files = template_files()
    assert len(files) > 20
    unclosed = [f"{path}:{number}" for path in files
                for number, line in enumerate(path.read_text().splitlines(), 1)
                if "{#" in line and "#}" not in line[line.index("{#"):]]
    assert unclosed == []


@pytest.fixture
def board_phase():
    phase = labelled_phase(cases=[f"case_{j:02d}" for j in range(6)],
                           labels={"1": "liver", "2": "tumour"}, bootstrap_samples=50,
                           show_case_results=True)
    random_board(phase, 3, seed=4, names=["team-alpha", "team-beta", "team-gamma"])
    services.refresh(phase.id)
    return phase


def test_the_phase_page_prints_no_template_comment_and_dates_its_computation_like_the_site(
        board_phase):
    html = Client().get(f"/phases/{board_phase.id}/").content.decode()
    assert "{#" not in html and "#}" not in html and "{% comment" not in html
    computed = LeaderboardSnapshot.objects.get(phase=board_phase).computed_at
    assert f">{text(computed)}</time>." in html and "Computed <time datetime=" in html
    facts = html[html.index('id="board-facts"'):html.index('id="leaderboard"')]
    assert not ISO_SECONDS.search(facts.split('datetime="')[0])  # no ISO text shown


def test_the_overall_ranking_dates_its_computation_like_the_site(board_phase):
    challenge = board_phase.task.challenge
    services.refresh_challenge(challenge.id)
    html = Client().get(f"/challenges/{challenge.slug}/leaderboard/").content.decode()
    facts = html[html.index('id="overall-facts"'):]
    facts = facts[:facts.index("</p>")]
    assert re.search(r"Computed <time datetime=\"[^\"]+\">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>",
                     facts)
    assert not re.search(r">\d{4}-\d\d-\d\dT", facts)


def test_the_explanation_speaks_of_entrants_and_metric_labels(board_phase):
    html = Client().get(f"/phases/{board_phase.id}/").content.decode()
    facts = html[html.index('id="board-facts"'):html.index("</p>", html.index('id="board-facts"'))]
    assert "mean of each entrant&#x27;s values, then ranked" in facts
    assert "Each case&#x27;s Dice is the mean over the task&#x27;s labels" in facts
    assert "algorithm" not in facts and "dice" not in facts
    # The table comes first on a phone: it shares one box with the explanation, after it.
    head = html[html.index('class="board-head"'):]
    assert head.index('id="board-facts"') < head.index('id="leaderboard"')


def test_aggregates_and_scores_have_the_metric_registrys_places(board_phase):
    html = Client().get(f"/phases/{board_phase.id}/").content.decode()
    table = html[html.index('<table id="aggregates">'):]
    table = table[:table.index("</table>")]
    headings = [heading for heading in re.findall(r'<th scope="col">([^<]*)</th>', table)
                if heading != "Rank"]
    first_row = re.findall(r'<td class="aggregate">([^<]*)</td>',
                           table)[:len(headings)]
    for heading, cell in zip(headings, first_row, strict=True):
        places = 2 if "(mm)" in heading else 4  # HD, HD95, ASSD: 2; Dice, NSD: 4
        assert re.fullmatch(rf"\d+\.\d{{{places}}}", cell), (heading, cell)
    assert any("(mm)" in heading for heading in headings)


def test_a_phase_that_rounds_shows_no_more_places_than_it_rounds_to(world):
    html = Client().get(f"/phases/{world.phase_a.id}/")  # hidden board: 404 to visitors
    assert html.status_code == 404
    Phase.objects.filter(pk=world.phase_a.pk).update(is_public=True)
    html = Client().get(f"/phases/{world.phase_a.id}/").content.decode()
    cells = re.findall(r'<td class="aggregate">([^<]*)</td>', html)
    assert cells and all(re.fullmatch(r"\d+\.\d{2}", cell) for cell in cells)


def named(user, full_name: str):
    Profile.objects.update_or_create(user=user, defaults={"full_name": full_name})
    user.first_name, user.last_name = "Never", "Shown"  # sign-up never fills these
    user.save()


def test_people_are_named_by_their_profiles_full_name_else_their_username(world):
    named(world.ann, "Ann Example-Smith")
    named(world.organizer_a, "Olga Organizer")
    team_page = logged_in(world.bea).get(f"/teams/{world.team.id}/").content.decode()
    assert "<li>Ann Example-Smith</li>" in team_page and "<li>bea</li>" in team_page
    assert '<td class="submitter">Ann Example-Smith</td>' in team_page
    submission = logged_in(world.ann).get(
        f"/submissions/{world.team_submission.id}/").content.decode()
    assert "by Ann Example-Smith for team" in submission
    challenge = logged_in(world.bea).get(f"/challenges/{world.a.slug}/").content.decode()
    assert "Ann Example-Smith, bea." in challenge
    organizers = Client().get(f"/challenges/{world.a.slug}/organizers/").content.decode()
    assert "<li>Olga Organizer</li>" in organizers
    for page in (team_page, submission, challenge, organizers):
        assert "Never" not in page and "Shown" not in page


def test_a_submission_list_has_eight_columns_the_file_links_its_page_and_counts_is_short(world):
    html = logged_in(world.ann).get(f"/teams/{world.team.id}/").content.decode()
    table = html[html.index('<table id="submissions">'):html.index("</table>")]
    assert len(re.findall(r"<th scope=\"col\">", table)) == 8  # Phase … Leaderboard
    submission = world.team_submission
    assert f'<a href="/submissions/{submission.id}/" title="Details of this submission">' \
           f"{submission.file_name}</a>" in table
    assert ">counts</strong>" in table and "counts on the leaderboard</strong>" not in table
    assert "Dice 0.81" in table  # the phase rounds public scores to 2 places


def test_the_test_data_page_has_its_breadcrumb_above_the_heading(world):
    html = logged_in(world.ann).get(f"/tasks/{world.phase_a.task_id}/data/").content.decode()
    assert html.index('<nav class="crumbs"') < html.index("<h1>")


def test_the_challenge_page_puts_each_team_field_beside_its_button(world):
    Participation.objects.filter(user=world.ann).update(team=None)
    html = logged_in(world.ann).get(f"/challenges/{world.a.slug}/").content.decode()
    for field, button in (("id_team_name", "Create"), ("id_team_code", "Join")):
        assert re.search(rf'<div class="field-row"><input id="{field}"[^>]*> <button '
                         rf'type="submit">{button}</button></div>', html)
    assert '<td class="pages">' in html


def test_every_submission_of_a_team_is_listed_once(world):
    html = logged_in(world.ann).get(f"/teams/{world.team.id}/").content.decode()
    assert html.count(f"/submissions/{world.team_submission.id}/") == 1
    assert Submission.objects.filter(team=world.team).count() == 1
