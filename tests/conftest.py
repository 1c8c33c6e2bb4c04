"""Fixtures shared by the whole suite: the data folder, real Celery worker processes."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
PODMAN_SERVE = ROOT / "scripts" / "podman" / "serve.sh"
ENGINE_TOOLS = ("podman", "runc", "conmon", "curl")
BUSYBOX = Path("/bin/busybox")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counts and cached pages never carry over from one test to the next."""
    from django.core.cache import cache

    cache.clear()
    yield


def pytest_sessionfinish(session, exitstatus):
    data_dir = Path(settings.DATA_DIR)
    if data_dir.name.startswith("podium-test-") and not os.environ.get("PODIUM_KEEP_TEST_DATA"):
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _session_worker_quiet_before_flush(request):
    """A test with the session's worker process ends only once that worker has been quiet for
    a moment: work the test started (a leaderboard refresh after its last evaluation) would
    otherwise still hold table locks when the test database is flushed, and the flush could
    deadlock with it and leave the test's rows for the next test."""
    if "celery_worker" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")  # torn down (flushed) after this fixture
    worker = request.getfixturevalue("celery_worker")
    yield
    deadline = time.monotonic() + 60
    size = -1
    while time.monotonic() < deadline:
        now = worker.log_path.stat().st_size
        if now == size:
            return
        size = now
        time.sleep(1.5)


def wait_for(condition, *, timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def database_url() -> str:
    """The URL of the database this test session uses (the test database, once set up)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    """A real ``celery -A podium worker`` subprocess sharing this session's database,
    data folder and broker."""

    def __init__(self, name: str, *, extra_env: dict | None = None, concurrency: int = 1,
                 queues: str | None = None):
        self.name = name
        self.log_path = Path(settings.DATA_DIR) / f"worker-{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "podium.settings",
            "DATABASE_URL": database_url(),
            "PODIUM_DATA_DIR": str(settings.DATA_DIR),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "podium", "worker", "--loglevel=INFO",
             f"--concurrency={concurrency}", "--without-gossip", "--without-mingle",
             "-n", f"{name}-{os.getpid()}@%h", *(["-Q", queues] if queues else [])],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_for(self._ready, timeout=90, what=f"worker {name} to start")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"worker {self.name} exited: {self.output()[-3000:]}")
        return "ready." in self.output()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker and its pool children (a crash, not a shutdown)."""
        subprocess.run(["pkill", "-KILL", "-P", str(self.process.pid)], check=False)
        self.process.kill()
        self.process.wait(timeout=30)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        self.log.close()


def purge_broker() -> None:
    from podium.celery import app

    with app.connection_for_write() as conn:
        for queue in ("scoring", "gpu"):
            conn.default_channel.queue_purge(queue)


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """One worker process on the ``scoring`` queue for the session (tests using it need
    ``transaction=True``); algorithm runs get a worker of their own on the ``gpu`` queue."""
    purge_broker()
    # One case per shard: every multi-case submission in the tests is scored in shards, by
    # both of the worker's processes.
    worker = WorkerProcess("session", concurrency=2, queues="scoring",
                           extra_env={"PODIUM_SCORING_SHARD_CASES": "1"})
    yield worker
    worker.stop()


def _engine_missing() -> str | None:
    missing = [tool for tool in ENGINE_TOOLS if shutil.which(tool) is None]
    if not BUSYBOX.exists():
        missing.append("busybox-static")
    return ", ".join(missing) or None


@pytest.fixture(scope="session")
def podman_socket() -> Iterator[Path]:
    """The socket of a podman Docker-API service private to this test session, started from
    scripts/podman/. Without podman the tests that need it skip, except under CI=true where
    they fail."""
    missing = _engine_missing()
    if missing:
        reason = f"container engine unavailable (missing: {missing}); run scripts/bootstrap.sh test"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="podium-podman-"))
    try:
        started = subprocess.run(
            [str(PODMAN_SERVE), str(folder)], capture_output=True, text=True, timeout=120
        )
        if started.returncode != 0:
            pytest.fail(f"podman did not start:\n{started.stderr}")
        yield Path(started.stdout.strip())
    finally:
        subprocess.run([str(PODMAN_SERVE), "--stop", str(folder)], check=False, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
