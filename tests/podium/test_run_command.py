"""The README's first command really starts a working Podium with a filled demo leaderboard."""

import json
import os
import signal
import socket
import subprocess
import urllib.request

from tests.conftest import ROOT, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310  (local URL)
            return response.read().decode()
    except OSError:
        return None


def test_run_sh_serves_the_demo_and_its_worker_scores_it(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PODIUM_", "DATABASE_", "CELERY_", "DJANGO_"))}
    env.update(PODIUM_DATA_DIR=str(tmp_path / "data"), PODIUM_PORT=str(port))
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(["./run.sh"], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: "Podium is running at" in log.read_text(), timeout=300,
                 what="run.sh to print its URL")
        text = log.read_text()
        assert f"http://127.0.0.1:{port}/" in text and "participant / podium-demo" in text
        home = wait_for(lambda: fetch(f"http://127.0.0.1:{port}/"), timeout=60,
                        what="the server to answer")
        assert "Podium Decathlon Demo" in home
        challenges = json.loads(fetch(f"http://127.0.0.1:{port}/api/v1/challenges/"))
        phase = challenges["results"][0]["phases"][0]["id"]

        def filled():
            board = json.loads(fetch(f"http://127.0.0.1:{port}/api/v1/phases/{phase}/leaderboard/"))
            return len(board["entries"]) == 4 and board

        board = wait_for(filled, timeout=240, interval=1, what="the worker to fill the board")
        assert [e["rank"] for e in board["entries"]] == [1, 2, 3, 4]
        assert board["entries"][0]["entrant"] == "team-alpha"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
