"""The multi-host deployment the test drives: a web host and two worker hosts, each in network
and mount namespaces of its own, that share only PostgreSQL, Redis and an S3 object store
(moto's server, a process of its own on the services' address).

docs/deployment.md describes the topology and what the test proves.
"""

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
import redis
import requests
from django.conf import settings
from django.db import connection

from tests.conftest import PODMAN_SERVE, _engine_missing, wait_for

from .hosts import PYTHON, Host, celery
from .network import Network

UPLOADS_BUCKET, PRIVATE_BUCKET = "podium-mh-uploads", "podium-mh-private"
# Ports on the bridge's address (the services' side) and on the web host's.
DB_PORT, REDIS_PORT, STORE_PORT, WEB_PORT = 5432, 6379, 9000, 8000
# Redis databases of this test's own: its broker and its cache. A session worker of the other
# stack tests (on the session's broker database) never takes the hosts' messages.
BROKER_DB, CACHE_DB = 9, 10
# The test's HTTP client: proxies from the environment never stand between it and the hosts.
HTTP = requests.Session()
HTTP.trust_env = False
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "podium-multihost", "AWS_SECRET_ACCESS_KEY": "not-a-secret",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
HOSTS = ("web", "worker-a", "worker-b")


@dataclass
class Deployment:
    web_url: str
    store_url: str
    hosts: dict[str, Host]
    s3: object  # a boto3 S3 client of the object store

    def check_alive(self) -> None:
        """Fail with the hosts' logs if one of their processes exited."""
        exited = [line for host in self.hosts.values() for line in host.exited()]
        if exited:
            pytest.fail(f"{exited}\n" + "\n".join(h.logs() for h in self.hosts.values()))


def _requirements() -> None:
    """What the test needs, failing (never skipping) with what is missing."""
    if os.geteuid() != 0:
        pytest.fail("the multi-host test creates network and mount namespaces for its "
                    "hosts: run it as root (CI does)")
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.fail("the multi-host test shares PostgreSQL and Redis between hosts: run it in "
                    "test.sh's second pass (DATABASE_URL=postgres://..., "
                    "CELERY_BROKER_URL=redis://...)")
    missing = [tool for tool in ("ip", "unshare", "mount") if shutil.which(tool) is None]
    engine = _engine_missing()
    if missing or engine:
        pytest.fail(f"missing for the multi-host test: {', '.join(missing)} {engine or ''}; "
                    "run scripts/bootstrap.sh test")


def _database_url(address: str) -> str:
    """The session's test database, reached through the relay on ``address``."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{address}:{DB_PORT}/{db['NAME']}"


@pytest.fixture
def deployment(transactional_db, request, tmp_path_factory) -> Deployment:
    _requirements()
    db = connection.settings_dict
    broker = urlsplit(settings.CELERY_BROKER_URL)
    root = Path(tempfile.mkdtemp(prefix="podium-multihost-"))
    network = Network()
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    request.addfinalizer(network.close)
    network.relay(DB_PORT, db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    network.relay(REDIS_PORT, broker.hostname, broker.port or 6379)

    store_url, s3 = _object_store(network.address, root, request)
    for number in (BROKER_DB, CACHE_DB):
        redis.Redis(host=broker.hostname, port=broker.port or 6379, db=number).flushdb()
    podman_dir = root / "engine"
    socket = _engine(podman_dir, request)

    common = {
        **CREDENTIALS,
        "DJANGO_SETTINGS_MODULE": "podium.settings",
        "PODIUM_SECRET_KEY": "multihost-test-secret-key-not-for-production-use-0000000",
        "DATABASE_URL": _database_url(network.address),
        "CELERY_BROKER_URL": f"redis://{network.address}:{REDIS_PORT}/{BROKER_DB}",
        "PODIUM_CACHE_URL": f"redis://{network.address}:{REDIS_PORT}/{CACHE_DB}",
        "PODIUM_STORAGE": "s3", "PODIUM_S3_ENDPOINT_URL": store_url,
        "PODIUM_S3_REGION": "us-east-1", "PODIUM_S3_UPLOADS_BUCKET": UPLOADS_BUCKET,
        "PODIUM_S3_PRIVATE_BUCKET": PRIVATE_BUCKET,
        "PODIUM_API_THROTTLE_ANON": "1000000/hour", "PODIUM_API_THROTTLE_USER": "1000000/hour",
        "PODIUM_API_THROTTLE_SUBMIT": "1000000/hour",
    }
    hosts: dict[str, Host] = {}
    for name in HOSTS:
        (root / name).mkdir(mode=0o700)
    # What each host must not see: the other hosts' folders, and the test session's own.
    session = [Path(settings.DATA_DIR), tmp_path_factory.getbasetemp()]
    for name in HOSTS:
        namespace, address = network.add_host(name)
        extra = {}
        if name == "web":
            extra = {"PODIUM_ALLOWED_HOSTS": address}
        elif name == "worker-a":
            extra = {"PODIUM_SCORING_SHARD_CASES": "1"}
        else:
            extra = {"DOCKER_HOST": f"unix://{socket}", "PODIUM_RUNNER_NAME_PREFIX": "podium-mh-"}
        hidden = [root / other for other in HOSTS if other != name] + session
        hosts[name] = Host(name, namespace, address, root / name, {**common, **extra}, hidden)
        request.addfinalizer(hosts[name].stop)
    # The engine is worker-b's (a GPU node's) own: the other hosts do not see its socket.
    for name in ("web", "worker-a"):
        hosts[name].hidden.append(podman_dir)

    web = hosts["web"]
    web.run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"])
    web.start("gunicorn", [str(Path(PYTHON).parent / "gunicorn"), "podium.wsgi",
                           "--bind", f"{web.address}:{WEB_PORT}", "--workers", "2",
                           "--timeout", "120"])
    worker_a = hosts["worker-a"].start("celery", celery("worker-a", "scoring", 2))
    worker_b = hosts["worker-b"].start("celery", celery("worker-b", "gpu", 1))
    found = Deployment(f"http://{web.address}:{WEB_PORT}", store_url, hosts, s3)

    def ready() -> bool:
        found.check_alive()
        return (_answers(f"{found.web_url}/api/v1/challenges/")
                and all("ready." in log.read_text(errors="replace")
                        for log in (worker_a, worker_b)))

    wait_for(ready, timeout=120, what="the web host and both worker hosts")
    return found


def _object_store(address: str, root: Path, request) -> tuple[str, object]:
    """moto's S3 server, a process of its own on ``address``, with the two buckets: its URL
    and a boto3 client of it."""
    log = open(root / "object-store.log", "wb")  # closed by the finalizer
    store = subprocess.Popen([str(Path(PYTHON).parent / "moto_server"), "-H", address,
                              "-p", str(STORE_PORT)], stdout=log, stderr=subprocess.STDOUT)

    def stop():
        store.kill()
        store.wait(timeout=10)
        log.close()

    request.addfinalizer(stop)
    url = f"http://{address}:{STORE_PORT}"
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    wait_for(lambda: _answers(url), timeout=30, what="the object store")
    for bucket in (UPLOADS_BUCKET, PRIVATE_BUCKET):
        s3.create_bucket(Bucket=bucket)
    return url, s3


def _engine(folder: Path, request) -> Path:
    """podman's Docker API (scripts/podman/serve.sh) under ``folder``: its socket."""
    started = subprocess.run([str(PODMAN_SERVE), str(folder)], capture_output=True, text=True,
                             timeout=120)
    request.addfinalizer(lambda: subprocess.run([str(PODMAN_SERVE), "--stop", str(folder)],
                                                check=False, timeout=60))
    if started.returncode != 0:
        pytest.fail(f"podman did not start:\n{started.stderr}")
    return Path(started.stdout.strip())


def _answers(url: str) -> bool:
    try:
        return HTTP.get(url, timeout=10).status_code < 500
    except requests.RequestException:  # not listening yet, or still starting
        return False

