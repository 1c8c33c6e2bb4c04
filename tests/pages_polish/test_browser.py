"""The layout findings checked in Debian's chromium at 1280 × 900 (and a phone's 390 px): what
fits, what stays on one line, what comes first."""

import pytest
from django.conf import settings
from django.test import Client
from selenium.webdriver.common.by import By

from accounts.models import ApiToken
from challenges.models import Participation, Phase, Team
from leaderboard import services
from tests.integration.browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINES = """const range = document.createRange(); range.selectNodeContents(arguments[0]);
return new Set(Array.from(range.getClientRects(), r => Math.round(r.top))).size;"""
"""How many lines the element's text takes."""

BOX = "const r = arguments[0].getBoundingClientRect(); return [r.top, r.height, r.width];"


def log_in(driver, base: str, user) -> None:
    client = Client()
    client.force_login(user)
    driver.get(f"{base}/no-such-page/")  # a page of the origin, to set its cookie
    driver.add_cookie({"name": settings.SESSION_COOKIE_NAME, "path": "/",
                       "value": client.cookies[settings.SESSION_COOKIE_NAME].value})


def lines(driver, element) -> int:
    return driver.execute_script(LINES, element)


def box(driver, element) -> list[float]:
    return driver.execute_script(BOX, element)


def test_pages_fit_1280_pixels_and_names_and_links_stay_whole(world, live_server):
    Team.objects.filter(pk=world.team.pk).update(name="team-gamma")
    Phase.objects.filter(pk=world.phase_a.pk).update(is_public=True)
    services.refresh(world.phase_a.id)
    ApiToken.issue(world.ann, name="laptop")
    base = live_server.url
    driver = chromium()
    try:
        log_in(driver, base, world.ann)
        driver.get(f"{base}/teams/{world.team.id}/")
        scroller = driver.find_element(By.CSS_SELECTOR, ".table-scroll")
        assert driver.execute_script(
            "return arguments[0].scrollWidth <= arguments[0].clientWidth;", scroller)
        assert lines(driver, driver.find_element(By.CSS_SELECTOR, ".counts-marker")) == 1

        driver.get(f"{base}/phases/{world.phase_a.id}/")
        entrant = driver.find_element(By.CSS_SELECTOR, "td.entrant")
        assert entrant.text == "team-gamma" and lines(driver, entrant) == 1

        driver.get(f"{base}/challenges/{world.a.slug}/")
        for link in driver.find_elements(By.CSS_SELECTOR, "a.test-data"):
            assert lines(driver, link) == 1
        Participation.objects.filter(user=world.ann).update(team=None)
        driver.get(f"{base}/challenges/{world.a.slug}/")
        card = box(driver, driver.find_element(By.CSS_SELECTOR, "section.card"))
        field = box(driver, driver.find_element(By.ID, "id_team_name"))
        assert field[2] < card[2] / 2

        driver.get(f"{base}/accounts/tokens/")
        form, table = (box(driver, driver.find_element(By.ID, name))
                       for name in ("token-form", "tokens"))
        assert abs(form[2] - table[2]) < 4  # one width for the form and the table
        row = box(driver, driver.find_element(By.CSS_SELECTOR, "#tokens tbody tr"))
        button = box(driver, driver.find_element(By.CSS_SELECTOR, "#tokens tbody button"))
        assert abs((row[0] + row[1] / 2) - (button[0] + button[1] / 2)) < 3

        driver.get(f"{base}/")
        assert box(driver, driver.find_element(By.CSS_SELECTOR, ".challenge-card"))[2] > 600

        driver.set_window_size(390, 844)
        driver.get(f"{base}/phases/{world.phase_a.id}/")
        table = box(driver, driver.find_element(By.ID, "leaderboard"))
        facts = box(driver, driver.find_element(By.ID, "board-facts"))
        assert table[0] < facts[0] and table[0] < 400
    finally:
        driver.quit()
