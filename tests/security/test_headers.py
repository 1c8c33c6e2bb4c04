"""The Content-Security-Policy: every response carries it, no page needs inline script or
style, and in a real browser the pages (the admin included) work under it without a single
violation."""

from html.parser import HTMLParser

import pytest
from django.test import Client
from selenium.webdriver.common.by import By

from evaluation.models import Evaluation
from leaderboard import services
from tests import factories
from tests.conftest import wait_for
from tests.leaderboard.helpers import challenge_phases, random_board

POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


class InlineCode(HTMLParser):
    """What a policy without 'unsafe-inline' would block: inline scripts, <style> elements,
    style attributes, event-handler attributes and javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self.script_without_src = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            data_block = (attrs.get("type") or "").endswith("json")
            self.script_without_src = "src" not in attrs and not data_block
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs.items():
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:…>")

    def handle_endtag(self, tag):
        if tag == "script":
            self.script_without_src = False

    def handle_data(self, data):
        if self.script_without_src and data.strip():
            self.found.append(f"inline script: {data.strip()[:60]}")


@pytest.fixture
def site():
    """A challenge with a ranked phase showing per-case plots, a participant with a queued
    submission, and an organizer (staff)."""
    (phase,) = challenge_phases(["T1"], cases=[f"c{j:02d}" for j in range(8)], slug="csp",
                                bootstrap_samples=50, show_case_results=True)
    random_board(phase, 3, seed=2)
    services.refresh(phase.id)
    services.refresh_challenge(phase.task.challenge_id)
    participant = factories.participant(phase, "csp-participant")
    submission, _ = factories.submission(phase, participant, state="queued")
    organizer = factories.user("csp-organizer", staff=True)
    phase.task.challenge.organizers.add(organizer)
    return phase, participant, submission, organizer


def pages(site) -> list[tuple[str | None, str]]:
    """(who, URL) of every kind of page: anonymous, participant and organizer."""
    phase, participant, submission, organizer = site
    return [
        (None, "/"), (None, "/accounts/login/"), (None, "/challenges/csp/"),
        (None, f"/phases/{phase.id}/"), (None, "/challenges/csp/leaderboard/"),
        (None, "/admin/login/"), (None, "/no-such-page/"),
        (None, f"/api/v1/phases/{phase.id}/leaderboard/"),
        (participant, f"/phases/{phase.id}/submit/"),
        (participant, f"/submissions/{submission.id}/"), (participant, "/challenges/csp/"),
        (organizer, "/admin/"), (organizer, "/admin/challenges/phase/"),
        (organizer, f"/admin/challenges/phase/{phase.id}/change/"),
        (organizer, "/admin/challenges/challenge/add/"),
        (organizer, f"/phases/{phase.id}/"),
    ]


@pytest.mark.django_db
def test_every_response_carries_the_policy_and_no_page_needs_inline_code(site):
    for who, url in pages(site):
        client = Client()
        if who is not None:
            client.force_login(who)
        response = client.get(url)
        assert response.status_code in (200, 404), url
        assert directives(response["Content-Security-Policy"]) == POLICY, url
        if response["Content-Type"].startswith("text/html"):
            parser = InlineCode()
            parser.feed(response.content.decode())
            assert parser.found == [], url


def csp_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser")
            if "Content Security Policy" in entry["message"]]


def log_in(driver, base: str, path: str, username: str) -> None:
    driver.get(f"{base}{path}")
    driver.find_element(By.CSS_SELECTOR, "#id_login, #id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys("pw")
    driver.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
    wait_for(lambda: "login" not in driver.current_url, timeout=20, what="the login")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_pages_work_in_chromium_without_a_policy_violation(live_server, site, tmp_path):
    from tests.integration.browser import chromium

    phase, _, submission, _ = site
    base = live_server.url
    driver = chromium()
    try:
        driver.get(f"{base}/")
        # The policy is in force: an inline script added to the page does not run.
        driver.execute_script(
            "const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
            "document.head.appendChild(s);")
        assert driver.execute_script("return window.ran") is None
        assert csp_errors(driver), "the blocked probe should have been reported"

        driver.get(f"{base}/phases/{phase.id}/")
        figures = driver.find_elements(By.CSS_SELECTOR, "figure.plot img")
        for figure in figures:  # plots are images of their own, loaded once scrolled to
            driver.execute_script("arguments[0].scrollIntoView();", figure)
            wait_for(lambda f=figure: driver.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0;", f),
                timeout=10, what="a plot image")
        assert len(figures) == 4 and all(f.size["width"] > 200 for f in figures)
        driver.get(f"{base}/challenges/csp/leaderboard/")
        driver.get(f"{base}/challenges/csp/")
        assert csp_errors(driver) == []

        log_in(driver, base, "/accounts/login/", "csp-participant")
        driver.get(f"{base}/phases/{phase.id}/submit/")
        driver.execute_script("window.stillHere = true")
        not_an_archive = tmp_path / "notes.txt"
        not_an_archive.write_text("not a zip")
        driver.find_element(By.ID, "id_file").send_keys(str(not_an_archive))
        driver.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()
        status = driver.find_element(By.ID, "upload-status")
        # The script posted the form itself and shows the server's message in place.
        wait_for(lambda: status.get_attribute("class") == "error", timeout=20,
                 what="the upload script's error message")
        assert status.text and driver.execute_script("return window.stillHere") is True

        driver.get(f"{base}/submissions/{submission.id}/")
        driver.execute_script("window.stillHere = true")
        # A queued submission's page asks the API for its state (a fetch the policy allows)
        # and reloads once it has finished.
        Evaluation.objects.filter(submission=submission).update(state="cancelled")
        wait_for(lambda: driver.execute_script("return window.stillHere") is None,
                 timeout=15, what="the submission page to reload")
        assert driver.find_element(By.ID, "state").text == "cancelled"
        assert csp_errors(driver) == []

        driver.delete_all_cookies()
        log_in(driver, base, "/admin/login/", "csp-organizer")
        driver.get(f"{base}/admin/challenges/phase/{phase.id}/change/")
        assert driver.find_element(By.NAME, "_save")
        driver.get(f"{base}/admin/challenges/challenge/add/")
        # The admin's own scripts run: typing a title fills in the slug.
        driver.find_element(By.ID, "id_title").send_keys("Brain Tumours")
        wait_for(lambda: driver.find_element(By.ID, "id_slug").get_attribute("value"),
                 timeout=10, what="the prepopulated slug")
        assert driver.find_element(By.ID, "id_slug").get_attribute("value") == "brain-tumours"
        assert csp_errors(driver) == []
    finally:
        driver.quit()
