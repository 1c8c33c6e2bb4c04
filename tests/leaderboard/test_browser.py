"""The leaderboard pages in a real browser: the table reads right, the SVG plots load when
scrolled to and render with a real size, and a hostile participant name stays text."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from leaderboard import services
from tests.integration.browser import chromium

from .helpers import challenge_phases, random_board

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = "<img src=x onerror=document.title='pwned'>"


def test_leaderboard_and_overall_pages_in_chromium(live_server):
    phases = challenge_phases(["T1", "T2"], cases=[f"c{j:02d}" for j in range(10)],
                              slug="browser", bootstrap_samples=200, show_case_results=True)
    random_board(phases[0], 4, seed=1, names=["ann", HOSTILE, "cid", "dot"])
    for phase in phases:
        services.refresh(phase.id)
    services.refresh_challenge(phases[0].task.challenge_id)
    entries = services.refresh(phases[0].id).entries
    driver = chromium()
    try:
        driver.get(f"{live_server.url}/phases/{phases[0].id}/")
        ranks = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "td.rank")]
        names = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "td.entrant")]
        assert names == [e["entrant"] for e in entries]
        assert ranks == [str(e["rank"]) for e in entries]
        assert driver.find_elements(By.CSS_SELECTOR, "img:not(figure.plot img)") == []
        assert "pwned" not in driver.title
        for figure in ("blob-plot", "significance-map", "case-plot", "podium-plot"):
            image = driver.find_element(By.CSS_SELECTOR, f"#{figure} img")
            # Loaded lazily: once scrolled to, the image is decoded and drawn with a real size.
            driver.execute_script("arguments[0].scrollIntoView();", image)
            WebDriverWait(driver, 10).until(lambda _, image=image: driver.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0;", image))
            width, height = driver.execute_script(
                "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];",
                image)
            assert width > 200 and height > 150, figure
        assert "pwned" not in driver.title
        driver.get(f"{live_server.url}/challenges/browser/leaderboard/")
        rows = driver.find_elements(By.CSS_SELECTOR, "table.mean-rank tbody tr")
        assert len(rows) == 4
        assert rows[0].find_element(By.CSS_SELECTOR, "td.entrant").text == \
            entries[0]["entrant"]
    finally:
        driver.quit()
