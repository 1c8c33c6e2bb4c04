"""The deployment the fault-injection tests break: every part a process of its own, as in
production, so a fault hits one part and the others go on.

- a private, non-persistent ``redis-server`` on a port of its own (the broker), which a test
  may kill and start again without touching the session's Redis;
- moto's S3 server (the object store) behind a :class:`Relay` the test can cut;
- gunicorn serving the web side (participants submit over the API);
- one ``celery beat`` (the reaper and the healer, every 2 s);
- worker processes a test starts, kills and stops, optionally under a supervisor loop that
  starts a worker again when it exits (what run.sh, compose and systemd do);
- the session's PostgreSQL test database, shared by all of them and the test.

The timeouts are the production ones scaled down (docs/reliability.md lists the defaults).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.conftest import ROOT, database_url, wait_for

PYTHON = sys.executable
BIN = Path(PYTHON).parent
UPLOADS_BUCKET, PRIVATE_BUCKET = "podium-faults-uploads", "podium-faults-private"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "podium-faults", "AWS_SECRET_ACCESS_KEY": "not-a-secret",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
# The production timeouts scaled down, so a repair happens within seconds.
TIMEOUTS = {
    "PODIUM_REAPER_INTERVAL_S": "2",
    "PODIUM_HEARTBEAT_TIMEOUT_S": "8",
    "PODIUM_REQUEUE_QUEUED_AFTER_S": "6",
    "PODIUM_REFRESH_RESEND_AFTER_S": "6",
}
HTTP = requests.Session()
HTTP.trust_env = False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Relay:
    """A TCP relay in a thread of the test, in front of the object store: ``cut()`` makes
    every new connection fail at once (closed on accept) and drops the open ones, as an
    unreachable store would; ``mend()`` lets them through again."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.cut_now = threading.Event()
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self.cut_now.set()
        with self.lock:
            for sock in self.open:
                sock.close()
            self.open.clear()

    def mend(self) -> None:
        self.cut_now.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut_now.is_set():
                client.close()
                continue
            try:
                target = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open.update((client, target))
            for a, b in ((client, target), (target, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with self.lock:
                    self.open.discard(sock)
                try:
                    sock.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()
        self.cut()


class Process:
    """A long-running process of the stack, in a process group of its own (celery's pool
    children and gunicorn's workers go with it), its output in a log. With ``supervised``, a
    thread starts it again 1 s after it exits (counted in ``restarts``) until :meth:`stop`."""

    def __init__(self, name: str, argv: list[str], env: dict, log_path: Path, *,
                 supervised: bool = False, wrap: list[str] | None = None):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.wrap = wrap or []
        self.supervised = supervised
        self.restarts = 0
        self.stopping = threading.Event()
        self.process = self._spawn()
        if supervised:
            threading.Thread(target=self._supervise, daemon=True).start()

    def _spawn(self) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            return subprocess.Popen([*self.wrap, *self.argv], cwd=ROOT, env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def _supervise(self) -> None:
        while not self.stopping.is_set():
            if self.process.poll() is not None and not self.stopping.wait(1):
                with open(self.log_path, "ab") as log:
                    log.write(f"\n--- supervisor: {self.name} exited with "
                              f"{self.process.returncode}; starting it again ---\n".encode())
                self.restarts += 1
                self.process = self._spawn()
            self.stopping.wait(0.2)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process only (a worker's main process, as an operator or the
        kernel would)."""
        os.kill(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL the whole group: a crash of the machine's process, pool children included."""
        self.stopping.set()
        _killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 60) -> None:
        self.stopping.set()
        if self.process.poll() is None:
            _killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        _killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def _killpg(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


class FaultStack:
    """The deployment (see the module doc). ``engine_socket``: a podman Docker-API socket for
    the workers of the ``gpu`` queue."""

    def __init__(self, engine_socket: Path | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="podium-faults-"))
        self.engine_socket = engine_socket
        self.processes: list[Process] = []
        self.broker_port = free_port()
        self.broker: subprocess.Popen | None = None
        self.start_broker()
        store_port = free_port()
        self.store = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(store_port)],
            stdout=open(self.root / "object-store.log", "wb"), stderr=subprocess.STDOUT)
        self.relay = Relay(store_port)
        self.store_url = f"http://127.0.0.1:{self.relay.port}"
        wait_for(lambda: _answers(f"http://127.0.0.1:{store_port}"), timeout=30,
                 what="the object store")
        assert self.manage("create_buckets").count("created") == 2  # as compose's `buckets`
        web_port = free_port()
        self.web_url = f"http://127.0.0.1:{web_port}"
        web_env = self.env("web")
        subprocess.run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT,
                       env=web_env, check=True, timeout=120)
        self.web = self.start("web", [str(BIN / "gunicorn"), "podium.wsgi", "--bind",
                                      f"127.0.0.1:{web_port}", "--workers", "2", "--threads",
                                      "2", "--timeout", "120"])
        self.beat = self.start("beat", [PYTHON, "-m", "celery", "-A", "podium", "beat",
                                        "--loglevel=INFO", "-s",
                                        str(self.root / "beat" / "schedule")])
        wait_for(lambda: self._alive() and _answers(f"{self.web_url}/api/v1/challenges/"),
                 timeout=90, what="the web process")

    # --- the parts ------------------------------------------------------------------------

    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.broker_port}/0"

    def start_broker(self) -> None:
        """A Redis without persistence (what lost messages in the report that led here)."""
        self.broker = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.broker_port), "--save",
             "", "--appendonly", "no"],
            stdout=open(self.root / "broker.log", "ab"), stderr=subprocess.STDOUT)
        wait_for(self.broker_answers, timeout=30, what="the private redis-server")

    def kill_broker(self) -> None:
        self.broker.kill()
        self.broker.wait(timeout=10)

    def broker_answers(self) -> bool:
        done = subprocess.run(["redis-cli", "-p", str(self.broker_port), "ping"],
                              capture_output=True, text=True, check=False)
        return done.stdout.strip() == "PONG"

    def env(self, name: str, **extra: str) -> dict:
        data_dir = self.root / name
        data_dir.mkdir(exist_ok=True)
        return {
            "PATH": os.environ["PATH"], "LANG": "C.UTF-8", "HOME": str(data_dir),
            "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
            **CREDENTIALS,
            "DJANGO_SETTINGS_MODULE": "podium.settings",
            "PODIUM_SECRET_KEY": "fault-test-secret-key-not-for-production-use-000000000",
            "PODIUM_DATA_DIR": str(data_dir), "PODIUM_ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": database_url(), "CELERY_BROKER_URL": self.broker_url,
            "PODIUM_STORAGE": "s3", "PODIUM_S3_ENDPOINT_URL": self.store_url,
            "PODIUM_S3_REGION": "us-east-1", "PODIUM_S3_UPLOADS_BUCKET": UPLOADS_BUCKET,
            "PODIUM_S3_PRIVATE_BUCKET": PRIVATE_BUCKET,
            "PODIUM_API_THROTTLE_ANON": "1000000/hour",
            "PODIUM_API_THROTTLE_USER": "1000000/hour",
            "PODIUM_API_THROTTLE_SUBMIT": "1000000/hour",
            **TIMEOUTS, **extra,
        }

    def start(self, name: str, argv: list[str], *, env: dict | None = None,
              supervised: bool = False, wrap: list[str] | None = None) -> Process:
        process = Process(name, argv, env or self.env(name), self.root / f"{name}.log",
                          supervised=supervised, wrap=wrap)
        self.processes.append(process)
        return process

    def worker(self, name: str, *, queues: str = "scoring", concurrency: int = 1,
               supervised: bool = False, scratch_size: str | None = None,
               **extra: str) -> Process:
        """A celery worker on ``queues``, ready when this returns. ``scratch_size``: its work
        folder (PODIUM_WORK_DIR) is a tmpfs of that size ("64k") in a mount namespace of its
        own."""
        env = self.env(name, **extra)
        wrap = None
        if scratch_size is not None:
            work = Path(env["PODIUM_DATA_DIR"]) / "work"
            work.mkdir(exist_ok=True)
            env["PODIUM_WORK_DIR"] = str(work)
            wrap = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                    f"mount -t tmpfs -o size={scratch_size} podium-scratch '{work}' && "
                    'exec "$@"', name]
        if "gpu" in queues.split(","):
            env.update(DOCKER_HOST=f"unix://{self.engine_socket}",
                       PODIUM_RUNNER_NAME_PREFIX="podium-faults-")
        process = self.start(name, [
            PYTHON, "-m", "celery", "-A", "podium", "worker", "--loglevel=INFO",
            f"--concurrency={concurrency}", "--without-gossip", "--without-mingle",
            "-n", f"{name}@%h", "-Q", queues], env=env, supervised=supervised, wrap=wrap)
        wait_for(lambda: self._alive() and "ready." in process.output(), timeout=90,
                 what=f"worker {name}")
        return process

    def manage(self, *argv: str) -> str:
        """``python manage.py ...`` with the stack's settings (files go to the object store)."""
        done = subprocess.run([PYTHON, "manage.py", *argv], cwd=ROOT, env=self.env("manage"),
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(argv)}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    # --- between tests --------------------------------------------------------------------

    def _alive(self) -> bool:
        for process in (self.web, self.beat) if hasattr(self, "beat") else ():
            if process.process.poll() is not None:
                raise AssertionError(f"{process.name} exited:\n{process.output()[-3000:]}")
        return True

    def stop_workers(self) -> None:
        """Stop every worker a test started, and empty the queues for the next test."""
        for process in list(self.processes):
            if process not in (self.web, self.beat):
                process.stop(timeout=20)
                self.processes.remove(process)
        if self.broker.poll() is not None:
            self.start_broker()
        subprocess.run(["redis-cli", "-p", str(self.broker_port), "flushall"],
                       capture_output=True, check=False)
        self.relay.mend()

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.output()[-tail:]}" for p in self.processes)

    def close(self) -> None:
        for process in self.processes:
            process.stop(timeout=20)
        if self.broker.poll() is None:
            self.kill_broker()
        self.store.kill()
        self.store.wait(timeout=10)
        self.relay.close()
        if not os.environ.get("PODIUM_KEEP_TEST_DATA"):
            shutil.rmtree(self.root, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        return HTTP.get(url, timeout=10).status_code < 500
    except requests.RequestException:
        return False


def now() -> float:
    return time.monotonic()

