"""Kept leaderboard pages are keyed by the release of the code that drew them: after a deploy
that changes a template, no viewer is served the markup kept by the release before."""

import copy

import pytest
from django.conf import settings
from django.test import Client, override_settings

from leaderboard import services
from leaderboard.display import release
from tests.leaderboard.helpers import labelled_phase, random_board

pytestmark = pytest.mark.django_db

NEW_BOARD = "<p id=\"new-board\">drawn by the new release: {{ rows|length }} rows</p>"


@pytest.fixture(autouse=True)
def fresh_release():
    release.cache_clear()
    yield
    release.cache_clear()


@pytest.fixture
def phase():
    phase = labelled_phase(cases=[f"c{j}" for j in range(5)], bootstrap_samples=30)
    random_board(phase, 3, seed=2)
    services.refresh(phase.id)
    return phase


def templates_with_board(folder) -> list[dict]:
    """The project's template settings with ``folder`` searched first (a deploy's new board)."""
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [folder, *templates[0]["DIRS"]]
    return templates


@pytest.mark.parametrize("logged_in", [False, True])
def test_a_new_release_never_serves_the_board_the_old_one_kept(phase, tmp_path, django_user_model,
                                                                logged_in):
    client = Client()
    if logged_in:
        client.force_login(django_user_model.objects.create_user("viewer"))
    (tmp_path / "leaderboard").mkdir()
    (tmp_path / "leaderboard" / "_board.html").write_text(NEW_BOARD)
    url = f"/phases/{phase.id}/"
    with override_settings(PODIUM_RELEASE="2026.12.1"):
        assert 'id="leaderboard"' in client.get(url).content.decode()
        with override_settings(TEMPLATES=templates_with_board(tmp_path)):
            kept = client.get(url).content.decode()
    assert 'id="leaderboard"' in kept and "new-board" not in kept  # kept, as it should be
    release.cache_clear()  # the next process: the new release's
    with override_settings(PODIUM_RELEASE="2026.12.2",
                           TEMPLATES=templates_with_board(tmp_path)):
        fresh = client.get(url).content.decode()
    assert "drawn by the new release: 3 rows" in fresh and 'id="leaderboard"' not in fresh


def test_without_a_named_release_the_digest_follows_the_templates_contents(tmp_path):
    board = tmp_path / "leaderboard" / "templates" / "leaderboard" / "_board.html"
    board.parent.mkdir(parents=True)
    board.write_text("<table></table>")
    with override_settings(BASE_DIR=tmp_path, PODIUM_RELEASE=""):
        first = release()
        release.cache_clear()
        assert release() == first  # the same files: the same release
        board.write_text("<table class=\"new\"></table>")
        release.cache_clear()
        assert release() != first
    assert len(first) == 16
