"""The console's own scripts in chromium under the Content-Security-Policy: a task import's page
follows the job and shows its result when it ends; a challenge's Markdown fields preview as
their pages will show them, sanitised."""

import pytest
from selenium.webdriver.common.by import By

from challenges.models import Challenge
from evaluation.models import ImportJob
from tests import factories
from tests.conftest import wait_for
from tests.integration.browser import chromium
from tests.security.test_headers import csp_errors, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_import_page_follows_the_job_and_the_markdown_previews(live_server):
    challenge = Challenge.objects.create(slug="browser-console", title="Browser console")
    organizer = factories.user("console-organizer")
    organizer.is_staff = True
    organizer.save()
    challenge.organizers.add(organizer)
    job = ImportJob.objects.create(challenge=challenge, user=organizer,
                                   file_name="Task09_Cubes.tar.gz", state=ImportJob.RUNNING,
                                   progress="unpacking and checking Task09_Cubes.tar.gz")
    driver = chromium()
    try:
        log_in(driver, live_server.url, "/admin/login/", "console-organizer")
        driver.get(f"{live_server.url}/admin/evaluation/importjob/{job.id}/change/")
        driver.execute_script("window.stillHere = true")
        assert driver.find_element(By.CSS_SELECTOR, "[data-import-state]").text == "Importing"
        # The worker reports a case: the page shows it without reloading.
        ImportJob.objects.filter(pk=job.pk).update(
            progress="unpacking and checking Task09_Cubes.tar.gz\nchecked case cube_000 (1/2)")
        wait_for(lambda: "cube_000" in driver.find_element(
            By.CSS_SELECTOR, "[data-import-progress]").text, timeout=15, what="the progress")
        assert driver.execute_script("return window.stillHere") is True
        # The job ends: the page reloads and shows the result.
        ImportJob.objects.filter(pk=job.pk).update(
            state=ImportJob.SUCCEEDED, summary="task Task09_Cubes (2 test cases): created")
        wait_for(lambda: driver.execute_script("return window.stillHere") is None,
                 timeout=15, what="the page to reload")
        assert "task Task09_Cubes (2 test cases): created" in driver.page_source
        assert not driver.find_elements(By.CSS_SELECTOR, "[data-progress-url]")

        driver.get(f"{live_server.url}/admin/challenges/challenge/{challenge.id}/change/")
        overview = driver.find_element(By.NAME, "overview")
        overview.send_keys("## Aims\n\nSee [the site](https://example.org).\n\n"
                           "<script>window.ran = 1</script><img src=x onerror=window.ran=2>")
        buttons = driver.find_elements(By.CSS_SELECTOR, ".markdown-preview")
        assert len(buttons) == 5  # one per page field
        overview.find_element(By.XPATH, "following-sibling::button[1]").click()
        preview = overview.find_element(By.XPATH, "following-sibling::div[1]")
        wait_for(lambda: preview.find_elements(By.TAG_NAME, "h2"), timeout=15,
                 what="the preview")
        assert preview.find_element(By.TAG_NAME, "h2").text == "Aims"
        assert preview.find_element(By.TAG_NAME, "a").get_attribute("href") == \
            "https://example.org/"
        assert not preview.find_elements(By.TAG_NAME, "script")
        assert driver.execute_script("return window.ran") is None
        assert csp_errors(driver) == []
    finally:
        driver.quit()
