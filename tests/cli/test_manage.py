"""The README's ``./manage.py …`` from a fresh shell: no virtualenv on PATH, no Podium or
Django environment. Run in a copy of the checkout (sharing its .venv), so the checkout's own
var/ is never touched."""

import os
import shutil
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, wait_for

VENV_BIN = str(ROOT / ".venv" / "bin")


def fresh_env(**extra) -> dict:
    """The environment of a new login shell: no PODIUM_*, no DJANGO_*, no virtualenv."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PODIUM_", "DJANGO_")) and k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and Path(p).resolve() != Path(VENV_BIN).resolve())
    return {**env, **extra}


@pytest.fixture
def checkout(tmp_path):
    copy = tmp_path / "podium"
    shutil.copytree(ROOT, copy, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "var", "tests", "docs", "benchmarks", "client", "__pycache__",
        "*.egg-info", ".*_cache"))
    (copy / ".venv").symlink_to(ROOT / ".venv")
    # The copy shares the checkout's .venv, already installed: its bootstrap must not install
    # the copy into it (the installation is scripts/bootstrap.sh's, checked elsewhere).
    (copy / "scripts" / "bootstrap.sh").write_text("#!/bin/sh\nexit 0\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return copy, elsewhere


def manage(launcher: list[str], *args, cwd: Path) -> subprocess.CompletedProcess:
    """A README command, ``./manage.py …`` or ``python manage.py …``, from a fresh shell."""
    return subprocess.run([*launcher, *args], cwd=cwd, env=fresh_env(), capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_fresh_shell_has_no_django():
    """Otherwise the tests below would not show manage.py finding its virtualenv."""
    result = subprocess.run(["python3", "-c", "import django"], env=fresh_env(),
                            capture_output=True, check=False)
    assert result.returncode != 0


def test_without_a_database_a_command_refuses_in_one_line(checkout):
    copy, _ = checkout
    result = manage(["python3", "manage.py"], "api_token", "participant", cwd=copy)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "there is no database at " in result.stderr and "./run.sh" in result.stderr
    assert not (copy / "var" / "podium.sqlite3").exists()  # no empty database left behind


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_commands_find_the_data_of_the_server_run_sh_started(checkout, tmp_path):
    copy, elsewhere = checkout
    port, data = free_port(), tmp_path / "server-data"
    log = tmp_path / "run.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            ["./run.sh"], cwd=copy, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env=fresh_env(PODIUM_DATA_DIR=str(data), PODIUM_PORT=str(port)))
    try:
        wait_for(lambda: "Podium is running at" in log.read_text() or server.poll() is not None,
                 timeout=300, what="./run.sh to start the server")
        assert server.poll() is None, log.read_text()[-3000:]
        # A fresh shell knows nothing of PODIUM_DATA_DIR: manage.py finds run.sh's data.
        result = manage(["./manage.py"], "api_token", "participant", cwd=copy)
        assert result.returncode == 0, result.stderr
        key = result.stdout.strip()
        assert not (copy / "var" / "podium.sqlite3").exists()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/tokens/",
                                         headers={"Authorization": f"Token {key}"})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            assert response.status == 200  # the running server knows the new token
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    # Once the server has stopped, its folder is forgotten: a command refuses again.
    assert not (copy / "var" / "data_dir").exists()
    result = manage([str(copy / "manage.py")], "api_token", "participant", cwd=elsewhere)
    assert result.returncode == 1 and "there is no database at" in result.stderr
