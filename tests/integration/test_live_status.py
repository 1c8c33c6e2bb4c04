"""A submission's page follows its evaluation without reloading: in a real browser, the state,
progress and message change as the database changes, and the page reloads once, when the
evaluation has finished, to show the results table. The phase page's rows do the same."""

import pytest
from django.conf import settings
from django.test import Client
from selenium.webdriver.common.by import By

from evaluation.models import Evaluation
from tests import factories
from tests.conftest import wait_for

from .browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(driver, base: str, user) -> None:
    """Give the browser a session of ``user`` (the login form is not what is tested here)."""
    client = Client()
    client.force_login(user)
    driver.get(f"{base}/no-such-page/")  # a page of the origin, to set its cookie
    driver.add_cookie({"name": settings.SESSION_COOKIE_NAME, "path": "/",
                       "value": client.cookies[settings.SESSION_COOKIE_NAME].value})


def test_submission_page_updates_in_place_then_shows_the_results(live_server):
    phase = factories.phase()
    user = factories.participant(phase, "watcher")
    submission, evaluation = factories.submission(phase, user, state="queued",
                                                  participant_message="Waiting for a worker.")
    driver = chromium()
    try:
        log_in(driver, live_server.url, user)
        driver.get(f"{live_server.url}/submissions/{submission.id}/")
        assert driver.find_element(By.ID, "state").text == "queued"
        loaded_at = driver.execute_script("return performance.timeOrigin")
        driver.execute_script("window.sameDocument = true")

        Evaluation.objects.filter(pk=evaluation.pk).update(
            state="scoring", cases_done=1, cases_total=2, participant_message="Scoring case_b.")
        wait_for(lambda: driver.find_element(By.ID, "state").text == "scoring (1/2 cases)",
                 timeout=20, what="the state to change in place")
        assert driver.find_element(By.ID, "message").text == "Scoring case_b."
        assert driver.find_element(By.ID, "progress").get_attribute("value") == "1"
        assert "state-scoring" in driver.find_element(By.ID, "state").get_attribute("class")
        assert driver.execute_script("return window.sameDocument") is True
        assert driver.execute_script("return performance.timeOrigin") == loaded_at
        assert driver.find_elements(By.ID, "aggregate") == []

        Evaluation.objects.filter(pk=evaluation.pk).update(
            state="succeeded", cases_done=2, participant_message="",
            aggregate={"1": {"dice": 0.875, "nsd": 0.5}})
        wait_for(lambda: driver.execute_script("return window.sameDocument") is None,
                 timeout=20, what="the page to reload once the evaluation finished")
        assert driver.execute_script("return performance.timeOrigin") > loaded_at
        assert driver.find_element(By.ID, "state").text == "succeeded (2/2 cases)"
        rows = driver.find_elements(By.CSS_SELECTOR, "#aggregate tbody tr")
        assert [r.find_element(By.CSS_SELECTOR, "td").text for r in rows] == ["organ"]
        cells = [c.text for c in rows[0].find_elements(By.CSS_SELECTOR, "td")]
        assert "0.8750" in cells and "0.5000" in cells
        assert driver.find_elements(By.CSS_SELECTOR, "form[action$='/cancel/']") == []
    finally:
        driver.quit()


def test_phase_page_rows_follow_their_submissions(live_server):
    phase = factories.phase()
    user = factories.participant(phase, "lister")
    _, evaluation = factories.submission(phase, user, state="queued")
    driver = chromium()
    try:
        log_in(driver, live_server.url, user)
        driver.get(f"{live_server.url}/phases/{phase.id}/submit/")
        driver.execute_script("window.sameDocument = true")
        state = driver.find_element(By.CSS_SELECTOR, "#submissions td.state")
        assert state.text == "queued"
        Evaluation.objects.filter(pk=evaluation.pk).update(
            state="scoring", cases_done=1, cases_total=2)
        wait_for(lambda: state.text == "scoring (1/2 cases)", timeout=20,
                 what="the row's state to change in place")
        assert driver.execute_script("return window.sameDocument") is True
        Evaluation.objects.filter(pk=evaluation.pk).update(
            state="failed", participant_message="case_b: no prediction.")
        wait_for(lambda: driver.execute_script("return window.sameDocument") is None,
                 timeout=20, what="the page to reload once the submission finished")
        row = driver.find_element(By.CSS_SELECTOR, "#submissions tbody tr")
        assert row.get_attribute("data-poll") is None
        assert row.find_element(By.CSS_SELECTOR, "td.state").text == "failed"
        assert row.find_element(By.CSS_SELECTOR, "td.message").text == "case_b: no prediction."
    finally:
        driver.quit()
