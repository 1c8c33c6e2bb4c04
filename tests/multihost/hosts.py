"""A "host" of the multi-host test: a network namespace and a mount namespace of its own, in
which the other hosts' data folders (and the test session's) are covered by an empty read-only
tmpfs. A code path that read a file another host wrote on its own disk finds nothing there and
fails, instead of passing by accident because the "hosts" share one machine's disk.

(Separate users with 0700 folders would be the other way to wall them off; here the virtual
environment's interpreter lives under /root, which no other user may enter.)"""

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT

PYTHON = sys.executable


@dataclass
class Host:
    name: str
    namespace: str
    address: str
    data_dir: Path
    env: dict[str, str]
    hidden: list[Path] = field(default_factory=list)
    processes: list[tuple[subprocess.Popen, Path]] = field(default_factory=list)

    def __post_init__(self):
        # HOME and TMPDIR inside the host's own folder: nothing it writes lands in a shared /tmp.
        (self.data_dir / "tmp").mkdir(mode=0o700, parents=True)
        self.env = {
            "PATH": os.environ["PATH"], "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(self.data_dir),
            "TMPDIR": str(self.data_dir / "tmp"), "PODIUM_DATA_DIR": str(self.data_dir),
            **self.env,
        }

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` as run in the host's namespaces, the hidden folders covered."""
        cover = "".join(f"mount -t tmpfs -o ro,size=4k,mode=0555 podium-hidden '{path}' && "
                        for path in self.hidden)
        return ["ip", "netns", "exec", self.namespace, "unshare", "--mount",
                "--propagation", "private", "--", "sh", "-c", f'{cover}exec "$@"', self.name,
                *argv]

    def run(self, argv: list[str], *, timeout: float = 120) -> str:
        done = subprocess.run(self.command(argv), cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(argv)} failed:\n{done.stdout}\n"
                               f"{done.stderr}")
        return done.stdout

    def start(self, label: str, argv: list[str]) -> Path:
        """Start a long-running process of the host; its output goes to a log the test reads
        (kept outside the host's folder, which the test's checks inspect)."""
        log_path = self.data_dir.parent / f"{self.name}-{label}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(self.command(argv), cwd=ROOT, env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((process, log_path))
        return log_path

    def logs(self, tail: int | None = 4000) -> str:
        """The host's process logs, each cut to its last ``tail`` characters (None: whole)."""
        return "\n".join(f"--- {path.name} ---\n"
                         f"{path.read_text(errors='replace')[-tail if tail else 0:]}"
                         for _, path in self.processes)

    def exited(self) -> list[str]:
        return [f"{path.name} exited with {process.returncode}"
                for process, path in self.processes if process.poll() is not None]

    def stop(self) -> None:
        """SIGTERM each process group (celery's pool children, gunicorn's workers), then
        SIGKILL what is left after 20 s: also the children of a leader that already exited."""
        for process, _ in self.processes:
            _signal_group(process.pid, signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:  # the whole group has exited
        pass


def celery(name: str, queues: str, concurrency: int) -> list[str]:
    return [PYTHON, "-m", "celery", "-A", "podium", "worker", "--loglevel=INFO",
            f"--concurrency={concurrency}", "--without-gossip", "--without-mingle",
            "-n", f"{name}@%h", "-Q", queues]
