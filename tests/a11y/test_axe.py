"""The main pages against WCAG 2.1 AA in a real browser: axe-core finds no serious or critical
violation on any of them, on a desktop and on a phone; every page is kept as a screenshot.

The data is the demo challenge, scored in this process: three tasks, four rival teams, and the
demo participant in a team with one scored submission of their own."""

from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.test import Client
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from challenges.models import Participation, Phase
from challenges.services.participation import create_team
from evaluation.models import Evaluation, State, Submission
from evaluation.services import scoring, validation
from evaluation.services.demo import PARTICIPANT, make_demo
from evaluation.services.submission import submit
from leaderboard import services as leaderboard
from tests.integration.browser import chromium

from .axe import describe, emulate, screenshot, violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BROKEN = """<!doctype html><html><head><title>broken</title></head><body>
<main><p style="color:#bbb;background:#fff">pale text</p>
<form><input type="text" name="unlabelled"></form><a href="/x"></a></main></body></html>"""

# Whether the page scrolls sideways, and the outermost elements that make it (an element in a
# box that scrolls by itself, such as a wide table, does not count).
WIDER_THAN_THE_PAGE = """
const width = document.documentElement.clientWidth;
if (document.documentElement.scrollWidth <= width) { return []; }
const out = e => e.getBoundingClientRect().right > width + 1;
const clipped = e => {
  for (let a = e.parentElement; a; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== "visible") { return true; }
  }
  return false;
};
return [...document.querySelectorAll("body *")]
  .filter(e => out(e) && !out(e.parentElement) && !clipped(e))
  .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
            " (" + Math.round(e.getBoundingClientRect().right - width) + " px)")
  .concat(["page " + (document.documentElement.scrollWidth - width) + " px too wide"]);
"""


def scored_demo(root: Path) -> dict[str, str]:
    """The demo, every submission scored and every leaderboard computed; the paths of the
    pages to check, by name."""
    demo = make_demo(root)
    participation = Participation.objects.get(user__username=PARTICIPANT[0])
    team = create_team(participation, "Mirror Lab")
    phase = Phase.objects.get(task__key="Task01_DemoLiver")
    with open(demo.predictions_archive, "rb") as fh:
        submit(phase=phase, user=participation.user, description="mirror net",
               upload=File(fh, name=demo.predictions_archive.name))
    for evaluation in Evaluation.objects.filter(state=State.VALIDATING):
        validation.validate(evaluation.id, worker="a11y")
    for evaluation in Evaluation.objects.filter(state=State.QUEUED):
        scoring.score(evaluation.id, worker="a11y")
    assert set(Evaluation.objects.values_list("state", flat=True)) == {State.SUCCEEDED}
    for each in Phase.objects.all():
        leaderboard.refresh(each.id)
    leaderboard.refresh_challenge(demo.challenge.id)
    slug = demo.challenge.slug
    mine = Submission.objects.get(creator=participation.user)
    return {
        "home": "/",
        "challenge": f"/challenges/{slug}/",
        "evaluation": f"/challenges/{slug}/evaluation/",
        "leaderboard": f"/phases/{phase.id}/",
        "overall-ranking": f"/challenges/{slug}/leaderboard/",
        "login": "/accounts/login/",
        "signup": "/accounts/signup/",
        # Logged in as the demo participant from here on.
        "challenge-member": f"/challenges/{slug}/",
        "phase-submit": f"/phases/{phase.id}/submit/",
        "submission": f"/submissions/{mine.id}/",
        "team": f"/teams/{team.id}/",
        "test-data": f"/tasks/{phase.task_id}/data/",
        "profile": "/accounts/profile/",
    }


def log_in(driver, base: str, username: str) -> None:
    """The browser holds a session of ``username`` (logging in through the pages is the
    journey's part: tests/integration/test_journey.py)."""
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    driver.get(f"{base}/")
    driver.add_cookie({"name": settings.SESSION_COOKIE_NAME, "path": "/",
                       "value": client.cookies[settings.SESSION_COOKIE_NAME].value})
    driver.get(f"{base}/")
    assert driver.find_element(By.CSS_SELECTOR, "header .who").text == username


def test_axe_finds_what_it_should():
    """The check can fail: a page with known violations is reported as such."""
    driver = chromium()
    try:
        driver.get("data:text/html;charset=utf-8," + quote(BROKEN))
        found = {v["id"] for v in violations(driver)}
    finally:
        driver.quit()
    assert {"color-contrast", "label", "link-name", "html-has-lang"} <= found


def test_the_keyboard_reaches_the_content_first(live_server):
    """The first Tab lands on a visible, outlined skip link, which moves focus to the page's
    content past the header."""
    driver = chromium()
    try:
        driver.get(f"{live_server.url}/")
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        skip = driver.switch_to.active_element
        assert skip.get_attribute("class") == "skip-link" and skip.is_displayed()
        top, outline = driver.execute_script(
            "const e = document.activeElement;"
            "return [e.getBoundingClientRect().top, getComputedStyle(e).outlineStyle];")
        assert top >= 0 and outline != "none"
        skip.send_keys(Keys.ENTER)
        assert driver.switch_to.active_element.tag_name == "main"
    finally:
        driver.quit()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_main_pages_have_no_serious_violations(live_server, tmp_path, size):
    pages = scored_demo(tmp_path / "demo")
    driver = chromium()
    failures = []
    try:
        emulate(driver, size)
        for name, path in pages.items():
            if name == "challenge-member":
                log_in(driver, live_server.url, PARTICIPANT[0])
            driver.get(live_server.url + path)
            assert driver.find_elements(By.CSS_SELECTOR, "main h1"), f"{name}: no page"
            screenshot(driver, f"a11y-{size}", name)
            found = violations(driver)
            if found:
                failures.append(f"{name} ({path}):\n{describe(found)}")
            if size == "phone":
                wide = driver.execute_script(WIDER_THAN_THE_PAGE)
                if wide:
                    failures.append(f"{name}: wider than the phone: {', '.join(wide)}")
    finally:
        driver.quit()
    assert not failures, "\n".join(failures)
