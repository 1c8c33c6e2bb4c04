"""An organizer's whole way, in Debian's chromium with a real worker: a platform administrator
makes a user staff and grants them the permission to create challenges in the console; they
log in through the login page,
create a challenge with a Markdown overview (previewed), import a task from an uploaded MSD
archive and watch the job succeed, open the imported phase with a submission limit, publish the
challenge, and approve a participant who asked to join; the participant then finds Submit and
Test data. A staff user who organizes nothing finds none of it in the console.

Every step is kept as a screenshot (tests/a11y/axe.py, folder ``organizer-journey``). The
console is Django's admin: its pages' accessibility violations are collected and written next
to the screenshots (``console-axe.txt``), not failed on, as most lie in Django's own markup;
the public pages on the way must have none."""

import tarfile
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from challenges.models import Challenge, Participation, Task
from tests import factories
from tests.a11y.axe import artifacts_dir, describe, screenshot, violations
from tests.conftest import wait_for
from tests.security.test_headers import log_in

from .browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]

FOLDER = "organizer-journey"
TITLE, SLUG = "Organizer Decathlon", "organizer-decathlon"


class Journey:
    """The browser, a screenshot per step, and the accessibility violations of each page:
    the console's collected, the public pages' failing the test."""

    def __init__(self, base: str):
        self.base = base
        self.driver = chromium()
        self.steps = 0
        self.console: list[str] = []
        self.public: list[str] = []

    def get(self, path: str) -> None:
        self.driver.get(f"{self.base}{path}")

    def step(self, name: str) -> None:
        self.steps += 1
        screenshot(self.driver, FOLDER, f"{self.steps:02d}-{name}")
        found = violations(self.driver)
        if found:
            where = self.console if "/admin/" in self.driver.current_url else self.public
            where.append(f"{name} ({self.driver.current_url}):\n{describe(found)}")

    def log_in_as(self, path: str, username: str) -> None:
        self.driver.delete_all_cookies()
        log_in(self.driver, self.base, path, username)

    def message(self) -> str:
        return wait_for(lambda: self.text(".messagelist"), timeout=20, what="a message")

    def text(self, selector: str) -> str:
        found = self.driver.find_elements(By.CSS_SELECTOR, selector)
        return found[0].text if found else ""

    def run_action(self, action: str, rows) -> None:
        """Select ``rows`` (primary keys) in the changelist shown and run ``action``."""
        for pk in rows:
            self.driver.find_element(By.CSS_SELECTOR, f"input.action-select[value='{pk}']").click()
        Select(self.driver.find_element(By.NAME, "action")).select_by_value(action)
        self.driver.find_element(By.CSS_SELECTOR, "button[name=index]").click()


def staff(username: str, *permissions: str):
    user = factories.user(username)
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    return user


def cube_task_archive(tmp_path):
    folder = factories.write_cube_task(tmp_path / "task")
    path = tmp_path / "Task09_Cubes.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(folder, arcname=folder.name)
    return path


def test_an_organizer_creates_imports_opens_approves_and_publishes(live_server, celery_worker,
                                                                    tmp_path):
    olga = factories.user("olga")
    staff("sam")
    factories.user("pia")
    factories.user("ada", staff=True)  # a platform administrator (superuser)
    archive = cube_task_archive(tmp_path)
    journey = Journey(live_server.url)
    driver = journey.driver
    try:
        # The platform administrator's grant: staff status and "Can add challenge".
        journey.log_in_as("/admin/login/", "ada")
        journey.get(f"/admin/auth/user/{olga.pk}/change/")
        driver.find_element(By.ID, "id_is_staff").click()
        grant = Permission.objects.get(codename="add_challenge")
        Select(driver.find_element(By.ID, "id_user_permissions_from")).select_by_value(
            str(grant.pk))
        driver.find_element(By.ID, "id_user_permissions_add").click()
        journey.step("grant-permission")
        driver.find_element(By.NAME, "_save").click()
        assert "was changed successfully" in journey.message()
        olga.refresh_from_db()
        assert olga.is_staff and not olga.is_superuser
        assert olga.has_perm("challenges.add_challenge")

        journey.log_in_as("/accounts/login/?next=/admin/", "olga")
        wait_for(lambda: "/admin/" in driver.current_url, timeout=20, what="the console")
        journey.step("console-index")
        driver.find_element(By.CSS_SELECTOR,
                            "a.addlink[href$='/challenges/challenge/add/']").click()

        # Create the challenge: unpublished until it is ready, joining needs approval.
        driver.find_element(By.ID, "id_title").send_keys(TITLE)
        wait_for(lambda: driver.find_element(By.ID, "id_slug").get_attribute("value") == SLUG,
                 timeout=10, what="the slug filled from the title")
        driver.find_element(By.ID, "id_is_published").click()
        driver.find_element(By.ID, "id_requires_approval").click()
        overview = driver.find_element(By.NAME, "overview")
        overview.send_keys("## Aims\n\nSegment the *cubes*.")
        overview.find_element(By.XPATH, "following-sibling::button[1]").click()
        preview = overview.find_element(By.XPATH, "following-sibling::div[1]")
        wait_for(lambda: preview.find_elements(By.TAG_NAME, "h2"), timeout=15, what="the preview")
        assert preview.find_element(By.TAG_NAME, "h2").text == "Aims"
        assert preview.find_element(By.TAG_NAME, "em").text == "cubes"
        journey.step("challenge-add-preview")
        driver.find_element(By.NAME, "_continue").click()
        wait_for(lambda: "/change/" in driver.current_url, timeout=20, what="the saved challenge")
        challenge = Challenge.objects.get(slug=SLUG)
        assert [u.username for u in challenge.organizers.all()] == ["olga"]
        assert not challenge.is_published and challenge.requires_approval
        journey.step("challenge-created")

        # Import a task from an uploaded archive; the job's page follows the worker.
        import_link = driver.find_element(By.CSS_SELECTOR,
                                          ".object-tools a[href*='/importjob/add/']")
        assert import_link.get_attribute("textContent") == "Import a task"
        import_link.click()
        driver.find_element(By.ID, "id_file").send_keys(str(archive))
        journey.step("import-form")
        driver.find_element(By.NAME, "_save").click()
        wait_for(lambda: "/importjob/" in driver.current_url
                 and driver.current_url.endswith("/change/"), timeout=60, what="the job page")
        journey.step("import-job")
        wait_for(lambda: "(2 test cases): created" in driver.page_source, timeout=180,
                 what="the import to succeed")
        journey.step("import-succeeded")

        # Open the phase the import made, with dates and a submission limit.
        phase = Task.objects.get(challenge=challenge, key="Task09_Cubes").phases.get()
        journey.get(f"/admin/challenges/phase/{phase.id}/change/")
        today = timezone.localdate()
        for field, value in {"id_opens_at_0": str(today - timedelta(days=1)),
                             "id_opens_at_1": "00:00:00",
                             "id_closes_at_0": str(today + timedelta(days=30)),
                             "id_closes_at_1": "00:00:00", "id_submission_limit": "3"}.items():
            element = driver.find_element(By.ID, field)
            element.clear()
            element.send_keys(value)
        journey.step("phase-form")
        driver.find_element(By.NAME, "_save").click()
        assert "was changed successfully" in journey.message()
        phase.refresh_from_db()
        assert phase.is_open() and phase.submission_limit == 3
        assert phase.closes_at > timezone.now() + timedelta(days=28)
        journey.step("phase-saved")

        # Publish.
        journey.get("/admin/challenges/challenge/")
        journey.run_action("publish", [challenge.pk])
        assert "1 published" in journey.message()
        challenge.refresh_from_db()
        assert challenge.is_published
        journey.step("published")

        # A participant asks to join and waits.
        journey.log_in_as("/accounts/login/", "pia")
        journey.get(f"/challenges/{SLUG}/")
        journey.step("participant-join")
        driver.find_element(By.NAME, "accept_terms").click()
        driver.find_element(By.XPATH, "//button[text()='Join the challenge']").click()
        wait_for(lambda: "Pending approval" in journey.text("#participation-status"),
                 timeout=20, what="the pending participation")
        assert not driver.find_elements(By.LINK_TEXT, "Submit")
        assert not driver.find_elements(By.LINK_TEXT, "Test data")
        journey.step("participant-pending")

        # The organizer approves in bulk from the participants list.
        journey.log_in_as("/admin/login/", "olga")
        journey.get("/admin/challenges/participation/?status__exact=pending")
        journey.step("participants-pending")
        driver.find_element(By.ID, "action-toggle").click()
        journey.run_action("approve_selected", [])
        assert "1 participant approved" in journey.message()
        assert Participation.objects.get(user__username="pia").status == Participation.ACCEPTED
        journey.step("participants-approved")

        # The participant may now submit and download the test data.
        journey.log_in_as("/accounts/login/", "pia")
        journey.get(f"/challenges/{SLUG}/")
        assert "Accepted" in journey.text("#participation-status")
        assert driver.find_element(By.LINK_TEXT, "Submit").get_attribute("href").endswith(
            f"/phases/{phase.id}/submit/")
        assert driver.find_element(By.LINK_TEXT, "Test data").get_attribute("href").endswith(
            f"/tasks/{phase.task_id}/data/")
        journey.step("participant-accepted")

        # A staff user who organizes nothing: no challenges in the console, refused or not found.
        journey.log_in_as("/admin/login/", "sam")
        journey.get("/admin/")
        assert TITLE not in driver.page_source
        assert not driver.find_elements(By.CSS_SELECTOR, "a[href*='/challenges/']")
        journey.step("other-staff-index")
        journey.get("/admin/challenges/challenge/")
        assert journey.text("h1") == "Not allowed" and TITLE not in driver.page_source
        journey.step("other-staff-changelist")
        journey.get(f"/admin/challenges/challenge/{challenge.pk}/change/")
        assert journey.text("h1") == "Not found" and TITLE not in driver.page_source
        journey.step("other-staff-change")
        journey.get(f"/admin/challenges/phase/{phase.id}/change/")
        assert journey.text("h1") == "Not found"
    finally:
        driver.quit()
        report = artifacts_dir() / FOLDER / "console-axe.txt"
        report.write_text("\n\n".join(journey.console) + "\n")
    print(f"console pages with serious or critical violations ({report}):")
    print("\n\n".join(journey.console) or "  none")
    assert not journey.public, "\n\n".join(journey.public)
