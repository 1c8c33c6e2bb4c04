"""A newcomer's whole way in, in a real browser, with a real SMTP server and a real worker: sign
up, confirm the address from the mail, log in, join the demo challenge, download the test images,
upload predictions with a progress bar, watch the state change on the page without reloading
it, and find themselves on the leaderboard. Every step is kept as a screenshot, and every page
on the way passes the accessibility check (tests/a11y/)."""

import http.client
import io
import json
import zipfile
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By

from challenges.models import Phase
from evaluation.models import Evaluation, State
from evaluation.services.demo import make_demo
from tests.a11y.axe import describe, screenshot, violations
from tests.accounts.conftest import mailbox  # noqa: F401  (the SMTP server process fixture)
from tests.accounts.pages import PASSWORD
from tests.conftest import wait_for

from .browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]

NAME, ADDRESS = "newcomer", "newcomer@example.org"

# Installed on a page: the element's value now, then every change of its attributes or text,
# in a list in sessionStorage, which outlives the page's own reloads (same tab, same origin).
# Only the page's scripts change the element in place, so each entry after the first is a
# change seen without a reload.
RECORD = """
const [selector, key, attribute] = arguments;
const element = document.querySelector(selector);
const read = () => attribute ? (element.hidden ? "hidden" : element.getAttribute("value"))
                             : element.textContent.trim();
sessionStorage.setItem(key, JSON.stringify([read()]));
new MutationObserver(() => {
  const seen = JSON.parse(sessionStorage.getItem(key));
  const value = read();
  if (seen[seen.length - 1] !== value) {
    seen.push(value);
    sessionStorage.setItem(key, JSON.stringify(seen));
  }
}).observe(element, {attributes: true, childList: true, characterData: true, subtree: true});
"""


class Journey:
    """The browser, and what each step leaves behind: a screenshot and the page's serious or
    critical accessibility violations."""

    def __init__(self, base: str):
        self.base = base
        self.driver = chromium()
        self.steps = 0
        self.failures: list[str] = []

    def step(self, name: str) -> None:
        self.steps += 1
        screenshot(self.driver, "journey", f"{self.steps:02d}-{name}")
        found = violations(self.driver)
        if found:
            self.failures.append(f"{name} ({self.driver.current_url}):\n{describe(found)}")

    def fill(self, values: dict) -> None:
        for field_id, value in values.items():
            self.driver.find_element(By.ID, field_id).send_keys(value)
        self.driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()

    def recorded(self, key: str) -> list[str]:
        return json.loads(self.driver.execute_script(
            "return sessionStorage.getItem(arguments[0]) || '[]';", key))

    def download(self, path: str) -> bytes:
        """``path`` fetched outside the browser with the browser's session cookie."""
        cookie = self.driver.get_cookie("sessionid")["value"]
        server = urlsplit(self.base)
        connection = http.client.HTTPConnection(server.hostname, server.port, timeout=60)
        try:
            connection.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
            response = connection.getresponse()
            assert response.status == 200, response.status
            return response.read()
        finally:
            connection.close()


def test_a_newcomer_signs_up_joins_submits_and_ranks(live_server, mailbox,  # noqa: F811
                                                     celery_worker, tmp_path):
    demo = make_demo(tmp_path / "demo")
    phase = Phase.objects.get(task__key="Task01_DemoLiver")
    task = phase.task
    journey = Journey(live_server.url)
    driver = journey.driver
    try:
        driver.get(f"{live_server.url}/")
        journey.step("home")
        driver.find_element(By.LINK_TEXT, "Sign up").click()
        journey.step("sign-up")
        journey.fill({"id_username": NAME, "id_email": ADDRESS,
                      "id_password1": PASSWORD, "id_password2": PASSWORD})
        wait_for(lambda: "/accounts/confirm-email/" in driver.current_url, timeout=20,
                 what="the page saying a mail was sent")
        journey.step("mail-sent")

        driver.get(live_server.url + mailbox.link(mailbox.wait_for(ADDRESS)))
        journey.step("confirm-address")
        driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        wait_for(lambda: "/accounts/login/" in driver.current_url, timeout=20,
                 what="the login page after confirming")
        journey.step("login")
        journey.fill({"id_login": NAME, "id_password": PASSWORD})
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "header .who"), timeout=20,
                 what="the login")

        driver.get(f"{live_server.url}/")
        driver.find_element(By.LINK_TEXT, demo.challenge.title).click()
        journey.step("challenge")
        driver.find_element(By.NAME, "accept_terms").click()
        driver.find_element(By.XPATH, "//button[text()='Join the challenge']").click()
        status = wait_for(lambda: driver.find_elements(By.ID, "participation-status"),
                          timeout=20, what="the participation")
        assert "Accepted" in status[0].text
        journey.step("joined")

        driver.find_element(By.CSS_SELECTOR, f"a.test-data[href='/tasks/{task.id}/data/']").click()
        journey.step("test-data")
        archive = zipfile.ZipFile(io.BytesIO(journey.download(
            driver.find_element(By.ID, "archive").get_attribute("pathname"))))
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == sorted(
            f"{task.key}/{PurePosixPath(case['image']).name}" for case in task.cases)

        driver.back()
        driver.find_element(
            By.CSS_SELECTOR, f"a[href='/phases/{phase.id}/submit/']").click()
        journey.step("submit-page")
        driver.execute_script(RECORD, "#upload-progress", "progress", True)
        driver.find_element(By.ID, "id_file").send_keys(str(demo.predictions_archive))
        driver.find_element(By.ID, "id_description").send_keys("newcomer net")
        driver.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()
        state = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#submissions td.state"),
                         timeout=60, what="the uploaded submission on the page")
        shown = journey.recorded("progress")
        assert shown[0] == "hidden" and shown[-1] in ("100", "hidden") and "100" in shown, shown
        first = state[0].text
        assert first.startswith(("validating", "queued", "scoring")), first
        driver.execute_script(RECORD, "#submissions tbody tr td.state", "states", False)
        journey.step("uploaded")

        def finished():
            cells = driver.find_elements(By.CSS_SELECTOR, "#submissions td.state")
            return cells and cells[0].text.startswith(("succeeded", "failed")) and cells[0].text

        assert wait_for(finished, timeout=300, interval=1,
                        what="the upload to be scored").startswith("succeeded")
        live = journey.recorded("states")
        assert live[0] == first and len(live) > 1 and live[-1].startswith("succeeded"), live
        journey.step("scored")
        assert not Evaluation.objects.filter(
            submission__creator__username=NAME).exclude(state=State.SUCCEEDED).exists()

        def on_the_board():
            driver.get(f"{live_server.url}/phases/{phase.id}/")
            names = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "td.entrant")]
            return NAME in names and names

        names = wait_for(on_the_board, timeout=60, interval=1, what="the leaderboard")
        assert len(names) == 5  # four demo teams and the newcomer
        journey.step("leaderboard")
    finally:
        driver.quit()
    assert not journey.failures, "\n".join(journey.failures)
