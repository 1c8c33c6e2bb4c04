"""Sign-up in a real browser: fill in the form, get the mail over SMTP, open its link, confirm,
log in by email address, and edit the profile — with no page breaking the content policy."""

import pytest
from selenium.webdriver.common.by import By

from accounts.models import Profile
from tests.conftest import wait_for
from tests.integration.browser import chromium

from .pages import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill(driver, values: dict) -> None:
    for field_id, value in values.items():
        driver.find_element(By.ID, field_id).send_keys(value)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()


def test_sign_up_verify_and_log_in_in_chromium(live_server, mailbox):
    base = live_server.url
    driver = chromium()
    try:
        driver.get(f"{base}/")
        driver.find_element(By.LINK_TEXT, "Sign up").click()
        fill(driver, {"id_username": "lin", "id_email": "lin@example.org",
                      "id_password1": PASSWORD, "id_password2": PASSWORD,
                      "id_full_name": "Lin Shen"})
        wait_for(lambda: "/accounts/confirm-email/" in driver.current_url, timeout=20,
                 what="the page saying a mail was sent")
        assert not driver.find_elements(By.CSS_SELECTOR, "header .who")

        link = mailbox.link(mailbox.wait_for("lin@example.org"))
        driver.get(f"{base}{link}")
        driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        wait_for(lambda: "/accounts/login/" in driver.current_url, timeout=20,
                 what="the login page after confirming")

        fill(driver, {"id_login": "lin@example.org", "id_password": PASSWORD})
        who = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "header .who"),
                       timeout=20, what="the login")
        assert who[0].text == "lin"
        driver.find_element(By.LINK_TEXT, "Profile").click()
        assert driver.find_element(By.ID, "id_full_name").get_attribute("value") == "Lin Shen"
        fill(driver, {"id_affiliation": "Podium University"})
        wait_for(lambda: "Profile saved." in driver.page_source, timeout=20, what="the save")
        assert Profile.objects.get(user__username="lin").affiliation == "Podium University"
        assert [entry["message"] for entry in driver.get_log("browser")
                if "Content Security Policy" in entry["message"]] == []
    finally:
        driver.quit()
