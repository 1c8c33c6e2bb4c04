"""Count the OOM kills in a running container's memory cgroup, read from the engine's host.

The OOM killer may end a child process (a data-loader worker, a subprocess, a writer to the
RAM-backed ``/tmp``) while the entrypoint lives on and exits 0; the run must still be reported
as "memory limit exceeded". Docker Engine records any OOM kill in the container's cgroup as
``State.OOMKilled`` (containerd's OOM event), child or not. podman 4.3 on cgroup v1 records
none, not even the entrypoint's (conmon writes its ``oom`` marker into its own working folder,
where podman never looks). So where this process shares the engine's host — its ``/proc``
and ``/sys/fs/cgroup`` — :class:`OomWatch` also reads the kernel's own counter while the
container runs: ``oom_kill`` in ``memory.events`` (cgroup v2) or ``memory.oom_control`` (v1).

The cgroup goes with the container, so the counter is polled: a kill in the last moments
before the container exits can be missed here (Docker Engine's flag still has it). Elsewhere
(a worker in a container of its own) the cgroup is not found and the watch reports nothing.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

POLL_S = 0.05
OOM_KILL_PATTERN = re.compile(r"^oom_kill (\d+)$", re.MULTILINE)


def oom_counter_file(
    pid: int, container_id: str, *, proc: Path = Path("/proc"),
    cgroup_root: Path = Path("/sys/fs/cgroup"),
) -> Path | None:
    """The file holding the OOM-kill counter of the memory cgroup of process ``pid``, if that
    cgroup is the container's (its path names ``container_id``, as both engines' cgroups do)
    and readable here; else None (another host's pid, or a cgroup namespace of our own)."""
    try:
        lines = (proc / str(pid) / "cgroup").read_text().splitlines()
    except (OSError, ValueError):
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        parts = path.strip("/").split("/")
        if not container_id or container_id not in path or ".." in parts:
            continue
        if controllers == "":
            candidate = cgroup_root.joinpath(*parts, "memory.events")
        elif "memory" in controllers.split(","):
            candidate = cgroup_root.joinpath("memory", *parts, "memory.oom_control")
        else:
            continue
        if candidate.is_file():
            return candidate
    return None


def read_oom_kills(counter_file: Path) -> int:
    """The ``oom_kill`` count in ``memory.events`` or ``memory.oom_control``."""
    found = OOM_KILL_PATTERN.search(counter_file.read_text())
    if found is None:
        raise ValueError(f"{counter_file} has no oom_kill line")
    return int(found.group(1))


class OomWatch:
    """Polls a container's OOM-kill counter in a thread while the container runs.

    Use as a context manager around the wait for the container; ``kills`` is then the
    highest count seen (0 when the cgroup could not be found or read).
    """

    def __init__(self, counter_file: Path | None, *, poll_s: float = POLL_S):
        self.counter_file = counter_file
        self.poll_s = poll_s
        self.kills = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _read(self) -> bool:
        """Update ``kills``; False once the counter is gone (the container has exited)."""
        if self.counter_file is None:
            return False
        try:
            self.kills = max(self.kills, read_oom_kills(self.counter_file))
        except (OSError, ValueError):
            return False
        return True

    def _poll(self) -> None:
        while self._read() and not self._done.wait(self.poll_s):
            pass

    def __enter__(self) -> OomWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self._read()
