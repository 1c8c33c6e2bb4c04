"""Finding and reading a container's OOM-kill counter on the engine's host (no engine needed:
/proc and the cgroup tree are built in a temporary folder, in the layouts the kernel uses)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from evaluation.runners.oom import OomWatch, oom_counter_file, read_oom_kills

CONTAINER = "4d151e2954592cfa8a6694988e9789a67acb13f8f0f7764a35f2723f28bc8b76"
V1_CONTROL = "oom_kill_disable 0\nunder_oom 0\noom_kill {n}\n"
V2_EVENTS = "low 0\nhigh 0\nmax 9\noom 3\noom_kill {n}\noom_group_kill 0\n"


def _host(tmp_path: Path, cgroup_lines: list[str], counter: str, text: str) -> dict:
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "cgroup").write_text("".join(f"{line}\n" for line in cgroup_lines))
    (root / counter).parent.mkdir(parents=True)
    (root / counter).write_text(text)
    return {"proc": proc, "cgroup_root": root}


def test_cgroup_v1_as_podman_with_cgroupfs_lays_it_out(tmp_path):
    host = _host(
        tmp_path,
        [f"4:memory:/libpod_parent/libpod-{CONTAINER}", "1:cpu:/libpod_parent/libpod-x",
         f"0::/libpod_parent/libpod-{CONTAINER}"],  # hybrid: an empty v2 tree, no memory.events
        f"memory/libpod_parent/libpod-{CONTAINER}/memory.oom_control",
        V1_CONTROL.format(n=2),
    )

    found = oom_counter_file(42, CONTAINER, **host)

    cgroup = host["cgroup_root"] / "memory" / "libpod_parent" / f"libpod-{CONTAINER}"
    assert found == cgroup / "memory.oom_control"
    assert read_oom_kills(found) == 2


def test_cgroup_v2_as_docker_with_systemd_lays_it_out(tmp_path):
    scope = f"system.slice/docker-{CONTAINER}.scope"
    host = _host(tmp_path, [f"0::/{scope}"], f"{scope}/memory.events", V2_EVENTS.format(n=1))

    found = oom_counter_file(42, CONTAINER, **host)

    assert found is not None
    assert read_oom_kills(found) == 1  # oom_kill, not oom or oom_group_kill


@pytest.mark.parametrize(
    "line",
    [
        "0::/user.slice/session-1.scope",  # the pid is another process here (another host's)
        f"0::/../../docker/{CONTAINER}",  # a cgroup namespace of our own: not our tree
    ],
)
def test_a_cgroup_that_is_not_the_containers_is_never_read(tmp_path, line):
    path = line.split("::/")[1]
    host = _host(tmp_path, [line], f"{path.replace('../', '')}/memory.events", V2_EVENTS)

    assert oom_counter_file(42, CONTAINER, **host) is None
    assert oom_counter_file(43, CONTAINER, **host) is None  # no such process


def test_the_watch_keeps_the_highest_count_until_the_cgroup_goes(tmp_path):
    counter = tmp_path / "memory.events"
    counter.write_text(V2_EVENTS.format(n=0))

    def oom_then_exit() -> None:
        time.sleep(0.1)
        counter.write_text(V2_EVENTS.format(n=1))
        time.sleep(0.1)
        counter.unlink()  # the container exited: its cgroup is removed

    container = threading.Thread(target=oom_then_exit)
    with OomWatch(counter, poll_s=0.01) as watch:
        container.start()
        container.join()
        time.sleep(0.05)

    assert watch.kills == 1


def test_without_a_counter_the_watch_reports_nothing():
    with OomWatch(None) as watch:
        pass

    assert watch.kills == 0
