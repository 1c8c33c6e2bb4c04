"""The ``podium`` command as a participant runs it: the installed entry point in a subprocess,
with a home and config folder of its own, against a live server of this test session."""

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import factories
from tests.evaluation.helpers import cube_phase

PODIUM = shutil.which("podium", path=str(Path(sys.executable).parent))


@dataclass
class Ran:
    code: int
    out: str
    err: str


@dataclass
class Podium:
    """Runs ``podium`` with ``home`` as its home and ``$XDG_CONFIG_HOME`` under it."""

    home: Path

    @property
    def config(self) -> Path:
        return self.home / "config" / "podium" / "config.json"

    def env(self, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
        return {**env, "HOME": str(self.home), "XDG_CONFIG_HOME": str(self.home / "config"),
                **extra}

    def __call__(self, *args, env: dict | None = None, timeout: float = 120) -> Ran:
        done = subprocess.run([PODIUM, *map(str, args)], capture_output=True, text=True,
                              env=self.env(**(env or {})), cwd=self.home, timeout=timeout)
        return Ran(done.returncode, done.stdout, done.stderr)

    def start(self, *args, env: dict | None = None) -> subprocess.Popen:
        # Ctrl-C's default action, even when the tests run in a background job (a shell
        # starts those with SIGINT ignored, and the command would inherit that).
        return subprocess.Popen([PODIUM, *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.home,
                                env=self.env(**(env or {})),
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.fixture
def podium(tmp_path) -> Podium:
    assert PODIUM, "the podium command is not installed: scripts/bootstrap.sh installs ./client"
    home = tmp_path / "home"
    home.mkdir()
    return Podium(home)


@dataclass
class Site:
    url: str
    phase: object
    user: object
    token: str
    task_folder: Path


@pytest.fixture
def site(live_server, tmp_path) -> Site:
    """The cube challenge (two test cases, per-case results shown) on a live server, and an
    accepted participant with a token."""
    phase = cube_phase(tmp_path, show_case_results=True)
    user = factories.participant(phase, "cli-user")
    return Site(url=live_server.url, phase=phase, user=user, token=factories.token(user),
                task_folder=tmp_path / "task" / "Task09_Cubes")


def one_error_line(ran: Ran) -> str:
    """The error of a failed command: exactly one line on stderr, never a traceback."""
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("podium: error: "), ran.err
    assert "Traceback" not in ran.err
    return lines[0].removeprefix("podium: error: ")
