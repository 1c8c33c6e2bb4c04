"""The screenshots of docs/participants.md and docs/organizers.md, taken from a running demo.

    .venv/bin/python scripts/screenshots.py            # writes docs/img/<name>.png
    .venv/bin/python scripts/screenshots.py --out DIR  # elsewhere, to compare
    .venv/bin/python scripts/screenshots.py --keep     # keep the scratch data folder and logs

The guides show the pages as they are, so the pictures are made by the code rather than by hand:
run this again whenever a page they show changes.

It starts Podium the way ``./run.sh`` does (``migrate``, ``collectstatic``, ``make_demo``, one
``celery -A podium worker -B`` and ``manage.py runserver --noreload``) on the embedded default,
but in a temporary data folder and on a free port, with every ``PODIUM_*``, ``DATABASE_URL`` and
``CELERY_*`` variable of the caller's environment left out: it never touches ``var/``, a
configured database or broker, or a server already running. Before the server starts it adds
what the demo lacks and the guides show (``SCENE`` below): the demo challenge requires approval
and two people wait for it.

Then it drives Debian's chromium through Selenium (as tests/integration/ do; needs
``scripts/bootstrap.sh test``), at 1280 × 900 CSS pixels: the participant's way (home, sign-up,
challenge, test data, an upload in parts with its progress, the scored submission, the phase
page, the team, the leaderboards, the overall ranking, API tokens), then the demo organizer's
(a challenge organizer, not a platform administrator) in the console. Every wait is on what the
page shows (an element, a text), with a time limit, never a pause of fixed length.

Each image is clipped to the part of its page the guide talks about, 1280 pixels wide (the
phone leaderboard: 390), and should stay under ~150 KB. Pillow is not among Podium's
dependencies, so the PNGs are chromium's own, without colour reduction: the clipping keeps them
small, and the script names any image over that size. A step that fails is reported and the
next goes on; the exit status is 1 and the scratch folder is kept, with the logs.
"""

import argparse
import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluation.services import demo_data  # noqa: E402  (pure numpy/nibabel; no Django setup)

PYTHON = ROOT / ".venv" / "bin" / "python"
CELERY = ROOT / ".venv" / "bin" / "celery"
WIDTH, HEIGHT = 1280, 900
PHONE = {"width": 390, "height": 844, "mobile": True, "deviceScaleFactor": 1}
DESKTOP = {"width": WIDTH, "height": HEIGHT, "mobile": False, "deviceScaleFactor": 1}
MAX_BYTES = 150 * 1024
SLUG = "decathlon-demo"
PARTICIPANT = ("participant", "podium-demo")
ORGANIZER = ("organizer", "podium-organizer")
TEAM = "team-epsilon"
# A file above the page's part size (16 MiB by default), so the page sends it in parts and shows
# its speed and the time left; the upload is abandoned once that has been photographed.
LARGE_UPLOAD_BYTES = 48 * 1024**2
# Upload speed while the large file goes: slow enough for the progress to be seen.
THROTTLED_BYTES_PER_S = 2 * 1024**2

# Run by ``manage.py shell`` after make_demo: people waiting for the organizer's approval, and
# the names and affiliations that the console shows beside each participation.
SCENE = """
from django.contrib.auth import get_user_model
from accounts.models import Profile
from challenges.models import Challenge
from challenges.services.participation import join

challenge = Challenge.objects.get(slug="decathlon-demo")
challenge.requires_approval = True
challenge.save(update_fields=["requires_approval"])
users = get_user_model()
people = [("participant", "Pat Example", "Example University Hospital"),
          ("ines", "Ines Moreau", "Institut Imagerie Lyon"),
          ("kwame", "Kwame Mensah", "University of Ghana Medical School")]
for username, full_name, affiliation in people:
    user = users.objects.filter(username=username).first()
    if user is None:
        user = users.objects.create_user(username=username, password="podium-" + username,
                                         email=username + "@example.org")
        join(challenge, user)
    Profile.objects.update_or_create(user=user, defaults={"full_name": full_name,
                                                          "affiliation": affiliation})
"""


class Failed(Exception):
    """A step did not reach the state its screenshot needs."""


# --- the server -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scratch_environment(data: Path, port: int) -> dict[str, str]:
    """The caller's environment without Podium's settings: the embedded default, in ``data``."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("PODIUM_", "CELERY_"))
           and name not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(PODIUM_DATA_DIR=str(data), PODIUM_BASE_URL=f"http://127.0.0.1:{port}",
               PYTHONUNBUFFERED="1")
    return env


class Server:
    """The demo as ``./run.sh`` starts it: the prepared data folder, a worker (with beat) in a
    session of its own, and Django's server on ``port``."""

    def __init__(self, data: Path, port: int):
        self.data, self.port = data, port
        self.url = f"http://127.0.0.1:{port}"
        self.env = scratch_environment(data, port)
        self.processes: list[subprocess.Popen] = []

    def manage(self, *args: str) -> None:
        with open(self.data / "setup.log", "ab") as log:
            subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, env=self.env,
                           stdout=log, stderr=subprocess.STDOUT, check=True)

    def start(self) -> None:
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        self.manage("make_demo")
        self.manage("shell", "-c", SCENE)
        worker_log = self.data / "worker.log"
        self.processes.append(self._spawn(
            [str(CELERY), "-A", "podium", "worker", "-B", "--loglevel=INFO"], worker_log))
        wait(lambda: "ready." in worker_log.read_text(errors="replace") or self._died(),
             timeout=120, what="the worker to start")
        self.processes.append(self._spawn(
            [str(PYTHON), "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            self.data / "server.log"))
        wait(self._answers, timeout=60, what="the server to answer")

    def _spawn(self, command: list[str], log_path: Path) -> subprocess.Popen:
        log = open(log_path, "ab")
        return subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def _died(self) -> bool:
        for process in self.processes:
            if process.poll() is not None:
                raise Failed(f"{process.args[0]} exited with {process.returncode}; "
                             f"see the logs in {self.data}")
        return False

    def _answers(self) -> bool:
        self._died()
        try:
            with urllib.request.urlopen(self.url + "/", timeout=5) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """Each process's whole session: the worker's pool children and beat go with it."""
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait(condition: Callable, *, timeout: float, what: str, interval: float = 0.2):
    """Poll ``condition`` until it returns something truthy; Failed after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failed(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# --- the browser ------------------------------------------------------------------------------

def chromium(profile: Path) -> webdriver.Chrome:
    """Debian's chromium, headless, without network of its own (the flags of
    tests/integration/browser.py), with no implicit wait: every wait here is explicit."""
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--hide-scrollbars", "--force-color-profile=srgb",
                 f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(flag)
    service = webdriver.ChromeService(
        executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


# The page's images that lie between page offsets arguments[0] and arguments[1].
CLIPPED_IMAGES = """
const clipped = () => Array.from(document.images).filter(i => {
  const r = i.getBoundingClientRect();
  return r.bottom + window.scrollY > arguments[0] && r.top + window.scrollY < arguments[1];
});
"""


class Camera:
    """The browser on the demo server, and the screenshots it saves."""

    def __init__(self, driver: webdriver.Chrome, base: str, out: Path):
        self.driver, self.base, self.out = driver, base, out
        self.saved: list[Path] = []
        self.problems: list[str] = []  # pictures missed by a step that went on
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", DESKTOP)

    # navigation and waits

    def get(self, path: str) -> None:
        self.driver.get(self.base + path)
        self.until(lambda d: d.execute_script("return document.readyState") == "complete",
                   f"{path} to load")

    def until(self, condition: Callable, what: str, timeout: float = 30):
        try:
            # A page that reloads itself (the submission lists do) replaces elements mid-wait.
            return WebDriverWait(self.driver, timeout, poll_frequency=0.2, ignored_exceptions=(
                NoSuchElementException, StaleElementReferenceException)).until(condition)
        except TimeoutException:
            raise Failed(f"timed out after {timeout:g} s waiting for {what} "
                         f"(at {self.driver.current_url})") from None

    def find(self, selector: str, timeout: float = 30) -> WebElement:
        return self.until(lambda d: d.find_element(By.CSS_SELECTOR, selector), selector, timeout)

    def text_in(self, selector: str, text: str, timeout: float = 30) -> WebElement:
        def shows(driver):
            for element in driver.find_elements(By.CSS_SELECTOR, selector):
                if text in element.text:
                    return element
            return None
        return self.until(shows, f"'{text}' in {selector}", timeout)

    def log_in(self, username: str, password: str, then: str = "/") -> None:
        self.driver.delete_all_cookies()
        self.get(f"/accounts/login/?next={then}")
        self.find("#id_login").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.find("main form button[type=submit]").click()
        self.until(lambda d: "/accounts/login/" not in d.current_url, "the login")

    def wide_lists(self) -> None:
        """The console's navigation sidebar closed (the « button; the console remembers it),
        so that a list's columns fit beside its filters at 1280 pixels."""
        sidebar = self.driver.find_elements(By.ID, "nav-sidebar")
        if sidebar and sidebar[0].is_displayed():
            self.find("#toggle-nav-sidebar").click()
            self.until(lambda d: not d.find_element(By.ID, "nav-sidebar").is_displayed(),
                       "the sidebar to close")

    # pictures

    def box(self, selector: str) -> tuple[float, float]:
        """Top and bottom of the first element matching ``selector``, in page pixels."""
        top, bottom = self.driver.execute_script(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
            "return [r.top + window.scrollY, r.bottom + window.scrollY];", selector)
        return top, bottom

    def shoot(self, name: str, *, start: str | None = None, end: str | None = None,
              pad: int = 16) -> Path:
        """``docs/img/<name>.png``: the page's full width, from the top of ``start`` (or of the
        page) down to the bottom of ``end`` (or to the page's end)."""
        width, height = self.driver.execute_script(
            "return [document.documentElement.clientWidth,"
            " document.documentElement.scrollHeight];")
        top = max(0, self.box(start)[0] - pad) if start else 0
        bottom = min(height, self.box(end)[1] + pad) if end else height
        # Scrolled there, as a reader would be (the console's sidebar sticks to the window);
        # images inside the clip (the leaderboard's plots load lazily, when scrolled to) are
        # loaded before the picture is taken.
        self.driver.execute_script(
            "window.scrollTo(0, arguments[0]);" + CLIPPED_IMAGES
            + "clipped().forEach(i => i.loading = 'eager');", top, bottom)
        self.until(lambda d: d.execute_script(
            CLIPPED_IMAGES + "return clipped().every(i => i.complete);", top, bottom),
            f"the images of {name} to load")
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": top, "width": width, "height": bottom - top, "scale": 1}})
        path = self.out / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        self.saved.append(path)
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
              f"{path.stat().st_size // 1024} KB")
        return path


# --- the participant --------------------------------------------------------------------------

def public_pages(cam: Camera, data: Path) -> None:
    cam.driver.delete_all_cookies()
    cam.get("/")
    cam.find(f"#card-{SLUG}")
    cam.shoot("home", end=f"#card-{SLUG}")
    cam.get("/accounts/signup/")
    cam.shoot("sign-up", end="main")


def participant_challenge(cam: Camera, data: Path) -> None:
    """The challenge page (before the participant makes a team), the team, the test data."""
    cam.log_in(*PARTICIPANT)
    cam.get(f"/challenges/{SLUG}/")
    cam.find("#id_team_name")
    cam.shoot("challenge", end="main")
    cam.find("#id_team_name").send_keys(TEAM)
    cam.find("#id_team_name").find_element(By.XPATH, "following-sibling::button").click()
    cam.text_in("#participation-status", TEAM)
    cam.find("a.test-data").click()
    cam.find("#archive")
    cam.shoot("test-data", start="h1", end="#training-data")


def submit_path(cam: Camera) -> str:
    """The first phase's page (DemoLiver's), from the challenge page's Submit link."""
    cam.get(f"/challenges/{SLUG}/")
    return cam.find("a[href^='/phases/'][href$='/submit/']").get_attribute("pathname")


def participant_upload_in_parts(cam: Camera, data: Path) -> None:
    """A file larger than one part, sent at a throttled speed until the page shows the time
    left; then the page is left, which abandons the upload (it would expire on the server)."""
    driver = cam.driver
    cam.get(submit_path(cam))
    large = data / "Task01_DemoLiver_predictions_full.zip"
    with open(large, "wb") as fh:
        fh.write(os.urandom(LARGE_UPLOAD_BYTES))
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": THROTTLED_BYTES_PER_S})
    try:
        cam.find("#id_file").send_keys(str(large))
        cam.find("#id_description").send_keys("nnU-Net ensemble")
        cam.find("#upload-form button[type=submit]").click()
        cam.text_in("#upload-status", "left", timeout=60)
        cam.shoot("upload-progress", start="#upload-form", end="#upload-form")
    finally:
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        cam.get("/")
        large.unlink()


def participant_submission(cam: Camera, data: Path) -> None:
    """The demo's predictions archive uploaded, scored, and its pages."""
    cam.get(submit_path(cam))
    archive = data / "demo" / "predictions" / "Task01_DemoLiver_predictions.zip"
    cam.find("#id_file").send_keys(str(archive))
    cam.find("#id_description").send_keys("3D U-Net, first try")
    cam.find("#upload-form button[type=submit]").click()
    cam.text_in("#submissions td", "3D U-Net, first try", timeout=120)
    cam.text_in("#submissions td.state", "succeeded", timeout=600)
    cam.shoot("phase", start="main .crumbs", end="#submissions")

    team_path = cam.find("#team-link").get_attribute("pathname")
    cam.find("#submissions a[href^='/submissions/']").click()
    cam.find("#aggregate")
    cam.shoot("submission", end="#aggregate")

    cam.get(team_path)
    cam.find("#members")
    cam.shoot("team", end="main")


def participant_leaderboards(cam: Camera, data: Path) -> None:
    driver = cam.driver
    board = submit_path(cam).removesuffix("submit/")

    def ranked() -> bool:  # the worker recomputes the phase's leaderboard after the scoring
        cam.get(board)
        return TEAM in [cell.text for cell in
                        driver.find_elements(By.CSS_SELECTOR, "#leaderboard td.entrant")]

    wait(ranked, timeout=180, interval=1, what=f"{TEAM} on the leaderboard")
    cam.shoot("leaderboard", start="main .crumbs", end="#leaderboard")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        cam.get(board)
        cam.find("#leaderboard")
        cam.shoot("leaderboard-phone", end="#leaderboard")
    finally:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", DESKTOP)

    cam.get(f"/challenges/{SLUG}/leaderboard/")
    cam.find("main table")
    cam.shoot("overall-ranking", start="main .crumbs", end="main table")


def participant_tokens(cam: Camera, data: Path) -> None:
    cam.get("/accounts/tokens/")
    cam.find("#id_name").send_keys("laptop")
    cam.find("#token-form button[type=submit]").click()
    cam.find("#token-key")
    cam.shoot("api-tokens", end="main")


# --- the organizer ----------------------------------------------------------------------------

def organizer_login(cam: Camera, data: Path) -> None:
    cam.log_in(*ORGANIZER, then="/admin/")
    cam.get("/admin/challenges/challenge/")
    cam.find("#result_list")
    cam.shoot("console-challenges", end="#changelist")


def console_challenge(cam: Camera, data: Path) -> None:
    cam.get("/admin/challenges/challenge/")
    cam.text_in("#result_list th a", "Demo").click()
    overview = cam.find("textarea[name=overview]")
    overview.find_element(By.XPATH, "following-sibling::button[1]").click()
    preview = overview.find_element(By.XPATH, "following-sibling::div[1]")
    cam.until(lambda d: preview.find_elements(By.TAG_NAME, "li"), "the Markdown preview")
    cam.shoot("console-challenge-preview", start="#content",
              end="textarea[name=overview] ~ div.markdown-preview")


def task_archive(data: Path) -> Path:
    """A new MSD task to import through the console, as a .tar.gz of its folder: many small
    cases, so that the importer checks them for a few seconds and the page shows its progress."""
    folder = demo_data.write_segmentation_task(
        data / "import", key="Task04_DemoSpleen", name="DemoSpleen", prefix="spleen",
        labels={"0": "background", "1": "spleen"}, n_cases=96, shape=(64, 64, 32),
        spacing=(0.8, 0.8, 2.0), seed=4)
    path = data / "Task04_DemoSpleen.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(folder, arcname=folder.name)
    return path


def console_import(cam: Camera, data: Path) -> None:
    archive = task_archive(data)
    cam.get("/admin/challenges/challenge/")
    cam.text_in("#result_list th a", "Demo").click()
    cam.find(".object-tools a[href*='/importjob/add/']").click()
    cam.find("#id_file").send_keys(str(archive))
    cam.find("#id_note").send_keys("spleen labels v1")
    cam.shoot("console-import-form", end="#content")
    cam.find("input[name=_save]").click()
    cam.until(lambda d: d.current_url.endswith("/change/"), "the import job's page")

    def checking_or_done(driver) -> bool:
        lines = driver.find_elements(By.CSS_SELECTOR, "[data-import-progress]")
        return "checked case" in lines[0].text if lines else True

    # The page reloads itself when the import ends, so the picture is kept only if the
    # progress box was still there after it was taken.
    cam.until(checking_or_done, "the import's progress", timeout=120)
    try:
        shot = cam.shoot("console-import-progress", end="#import-progress")
        kept = bool(cam.driver.find_elements(By.ID, "import-progress"))
    except WebDriverException:
        shot, kept = None, False
    if not kept:
        if shot is not None:
            shot.unlink()
            cam.saved.remove(shot)
        cam.problems.append("console_import: the import ended before its progress could be "
                            "photographed (console-import-progress.png not written); run again")
    cam.until(lambda d: not d.find_elements(By.ID, "import-progress"),
              "the import to finish", timeout=300)
    # What the import did, without the list of every case checked above it.
    cam.shoot("console-import-done", start=".field-summary", end=".field-rescored")


def console_phase(cam: Camera, data: Path) -> None:
    cam.get("/admin/challenges/phase/")
    cam.text_in("#result_list th a", "DemoLiver").click()
    cam.find("#id_submission_limit")
    cam.shoot("console-phase", end=".field-allow_partial")
    cam.shoot("console-phase-limits", start="fieldset:has(.field-submission_limit)",
              end="fieldset:has(.field-leaderboard_selection)")


def console_participants(cam: Camera, data: Path) -> None:
    cam.get("/admin/challenges/participation/?status__exact=pending")
    cam.wide_lists()
    cam.find("#action-toggle").click()
    Select(cam.find("select[name=action]")).select_by_value("approve_selected")
    cam.shoot("console-participants", end="#changelist")
    cam.find("button[name=index]").click()
    cam.text_in(".messagelist", "approved")


def console_submissions(cam: Camera, data: Path) -> None:
    cam.get("/admin/evaluation/submission/")
    cam.wide_lists()
    cam.find("#result_list")
    cam.shoot("console-submissions", end="#result_list tbody tr:nth-child(5)", pad=2)


def console_audit_log(cam: Camera, data: Path) -> None:
    cam.get("/admin/admin/logentry/")
    cam.wide_lists()
    cam.find("#result_list")
    cam.shoot("console-audit-log", end="#result_list")


# Each step starts from an address of its own, so one that fails does not stop the next; they
# run in this order, as a participant's and an organizer's pages follow each other.
STEPS = [public_pages, participant_challenge, participant_upload_in_parts,
         participant_submission, participant_leaderboards, participant_tokens,
         organizer_login, console_challenge, console_import, console_phase,
         console_participants, console_submissions, console_audit_log]


def errors_in(log: Path, most: int = 10) -> list[str]:
    """The distinct exception lines of a log (``SomeError: message``), which name what broke."""
    if not log.exists():
        return []
    found = dict.fromkeys(line.strip() for line in log.read_text(errors="replace").splitlines()
                          if re.match(r"^[\w.]+(Error|Exception): ", line.strip()))
    return list(found)[:most]


# --- the run ----------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img",
                        help="folder for the PNG files (default: docs/img)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch data folder (database, logs) and print its path")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="podium-screenshots-"))
    server = Server(data, free_port())
    driver = None
    failures: list[str] = []
    saved: list[Path] = []
    try:
        print(f"demo server in {data} on {server.url} …")
        server.start()
        driver = chromium(data / "chromium")
        cam = Camera(driver, server.url, args.out.resolve())
        saved, failures = cam.saved, cam.problems
        for step in STEPS:
            print(f"{step.__name__}:")
            try:
                step(cam, data)
            except (Failed, WebDriverException) as error:
                failures.append(f"{step.__name__}: {str(error).strip().splitlines()[0]}")
                print(f"  failed: {failures[-1]}", file=sys.stderr)
    except (Failed, subprocess.CalledProcessError) as error:
        failures.append(f"the demo server: {error}")
    finally:
        if driver is not None:
            driver.quit()
        server.stop()
    for path in saved:
        if path.stat().st_size > MAX_BYTES:
            print(f"screenshots: {path.name} is {path.stat().st_size // 1024} KB, over "
                  f"{MAX_BYTES // 1024} KB: clip it closer", file=sys.stderr)
    if failures:
        print("screenshots: failed\n  " + "\n  ".join(failures), file=sys.stderr)
        for name in ("server.log", "worker.log"):
            for line in errors_in(data / name):
                print(f"  {name}: {line}", file=sys.stderr)
        args.keep = True
    if args.keep:
        print(f"data folder and logs kept: {data}")
    else:
        shutil.rmtree(data, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
