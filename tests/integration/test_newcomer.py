"""The README's promise, in a real browser: log in as the demo participant, upload the demo
predictions archive, watch it get scored by a real worker, and find yourself on the leaderboard."""

import pytest
from django.conf import settings
from selenium.webdriver.common.by import By

from challenges.models import Phase
from evaluation.models import Evaluation, State
from evaluation.services.demo import PARTICIPANT, make_demo
from tests.conftest import wait_for

from .browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_newcomer_uploads_demo_archive_and_sees_the_leaderboard(live_server, celery_worker):
    demo = make_demo(settings.DATA_DIR / "demo")
    phase = Phase.objects.get(task__key="Task01_DemoLiver")
    wait_for(lambda: not Evaluation.objects.exclude(
        state__in=[State.SUCCEEDED, State.FAILED]).exists(), timeout=240,
        what="the demo submissions to be scored")
    driver = chromium()
    try:
        driver.get(f"{live_server.url}/accounts/login/")
        driver.find_element(By.ID, "id_login").send_keys(PARTICIPANT[0])
        driver.find_element(By.ID, "id_password").send_keys(PARTICIPANT[1])
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "header .who"), timeout=30,
                 what="the login to complete")
        driver.get(f"{live_server.url}/challenges/{demo.challenge.slug}/")
        assert "Accepted" in driver.find_element(By.ID, "participation-status").text
        driver.find_element(By.LINK_TEXT, "Submit").click()
        driver.find_element(By.ID, "id_file").send_keys(str(demo.predictions_archive))
        driver.find_element(By.ID, "id_description").send_keys("newcomer net")
        driver.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()

        def row_state():
            driver.refresh()
            cells = driver.find_elements(By.CSS_SELECTOR, "#submissions td.state")
            return cells and cells[0].text.startswith(("succeeded", "failed")) and cells[0].text

        assert wait_for(row_state, timeout=120, interval=1, what="the upload to be scored") == \
            "succeeded"

        def newcomer_on_board():
            driver.get(f"{live_server.url}/phases/{phase.id}/")
            names = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "td.entrant")]
            return PARTICIPANT[0] in names and names

        names = wait_for(newcomer_on_board, timeout=60, interval=1, what="the leaderboard")
        assert len(names) == 5  # four demo teams and the newcomer
        ranks = [int(c.text) for c in driver.find_elements(By.CSS_SELECTOR, "td.rank")]
        assert ranks == sorted(ranks) and ranks[0] == 1
    finally:
        driver.quit()
