"""Uploading in chunks from the submission page in a real browser (static/uploads.js): the
file goes in several chunks with its progress shown, becomes a submission row, and an upload
the page remembered resumes at the server's offset."""

import hashlib
import io

import pytest
from selenium.webdriver.common.by import By

from evaluation import uploads
from evaluation.models import Submission, UploadSession
from tests import factories
from tests.conftest import wait_for
from tests.evaluation.helpers import cube_phase, cube_predictions_zip

from .browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHUNK = 128
# Every text the status line shows, kept in sessionStorage so that it outlives the reload
# that follows a completed upload.
RECORD_STATUS = """
const status = document.getElementById('upload-status');
new MutationObserver(() => {
  const seen = JSON.parse(sessionStorage.getItem('seen') || '[]');
  seen.push(status.textContent);
  sessionStorage.setItem('seen', JSON.stringify(seen));
}).observe(status, {childList: true, characterData: true, subtree: true});
"""


@pytest.fixture
def page(live_server, tmp_path, settings):
    """A chromium logged in as an accepted participant of a phase; (driver, phase, user)."""
    settings.PODIUM_UPLOAD_CHUNK_BYTES = CHUNK
    phase = cube_phase(tmp_path)
    user = factories.participant(phase, "chunky")
    driver = chromium()
    try:
        driver.get(f"{live_server.url}/accounts/login/")
        driver.find_element(By.ID, "id_login").send_keys("chunky")
        driver.find_element(By.ID, "id_password").send_keys("pw")
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "header .who"), timeout=30,
                 what="the login to complete")
        driver.get(f"{live_server.url}/phases/{phase.id}/submit/")
        yield driver, phase, user
    finally:
        driver.quit()


def choose_and_send(driver, archive) -> None:
    driver.execute_script(RECORD_STATUS)
    driver.find_element(By.ID, "id_file").send_keys(str(archive))
    driver.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()


def submission_row(driver) -> str:
    cells = driver.find_elements(By.CSS_SELECTOR, "#submissions td.state")
    return cells[0].text if cells else ""


def seen(driver) -> list[str]:
    return driver.execute_script("return JSON.parse(sessionStorage.getItem('seen') || '[]')")


def test_a_file_goes_in_chunks_with_progress_and_becomes_a_submission(page, tmp_path):
    driver, phase, _user = page
    archive = cube_predictions_zip(tmp_path)
    assert archive.stat().st_size > 3 * CHUNK  # the server refuses a larger chunk (413)
    choose_and_send(driver, archive)
    # Queued, or already further along when a worker of another test's fixture is still about.
    assert wait_for(lambda: submission_row(driver), timeout=30, interval=0.5,
                    what="the submission row").startswith(("queued", "scoring", "succeeded"))
    texts = seen(driver)
    percents = [int(t.split(":")[1].split("%")[0]) for t in texts if t.startswith("Uploading:")]
    assert 100 in percents and any(0 < p < 100 for p in percents), texts
    assert "Checking the upload…" in texts
    submission = Submission.objects.get(phase=phase)
    assert submission.file_sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert UploadSession.objects.get().submission_id == submission.id
    assert driver.execute_script("return localStorage.length") == 0  # nothing left to resume


def test_an_upload_the_page_remembered_resumes_at_the_servers_offset(page, tmp_path):
    driver, phase, user = page
    archive = cube_predictions_zip(tmp_path)
    data = archive.read_bytes()
    # An earlier visit sent two chunks before the connection dropped and the page was closed.
    earlier = uploads.start(phase=phase, user=user, file_name=archive.name, size=len(data))
    for offset in (0, CHUNK):
        chunk = data[offset:offset + CHUNK]
        uploads.append(earlier, offset=offset, length=len(chunk), stream=io.BytesIO(chunk))
    driver.find_element(By.ID, "id_file").send_keys(str(archive))
    modified = driver.execute_script(
        "return document.getElementById('id_file').files[0].lastModified")
    driver.execute_script(
        "localStorage.setItem(arguments[0], arguments[1])",
        f"podium-upload:/api/v1/phases/{phase.id}/uploads/:{archive.name}:{len(data)}:{modified}",
        f"/api/v1/uploads/{earlier.id}/")
    driver.execute_script(RECORD_STATUS)
    driver.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()
    # Queued, or already further along when a worker of another test's fixture is still about.
    assert wait_for(lambda: submission_row(driver), timeout=30, interval=0.5,
                    what="the submission row").startswith(("queued", "scoring", "succeeded"))
    resumed_at = 100 * 2 * CHUNK // len(data)
    texts = seen(driver)
    assert texts[0].startswith(f"Uploading: {resumed_at} % (resumed at {resumed_at} %)"), texts
    assert UploadSession.objects.get().pk == earlier.pk  # no second session
    assert Submission.objects.get().file.read() == data



def test_a_refused_file_shows_the_servers_message_and_leaves_no_session(page, tmp_path):
    driver, _phase, _user = page
    notes = tmp_path / "notes.txt"
    notes.write_text("not an archive " * 40)
    choose_and_send(driver, notes)
    status = driver.find_element(By.ID, "upload-status")
    wait_for(lambda: status.get_attribute("class") == "error", timeout=30,
             what="the server's message")
    assert "not a zip or tar" in status.text
    assert not UploadSession.objects.exists() and not Submission.objects.exists()
    assert driver.execute_script("return localStorage.length") == 0
