"""The docker_api runner against a real engine (podman serving the Docker API): each case of
issue 5 with its outcome and message, and the sandbox as seen from inside the container."""

from __future__ import annotations

import socket
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from evaluation.runners.base import MIB, Outcome
from tests.evaluation.runners import images
from tests.evaluation.runners.conftest import TEST_LIMITS, run_request

pytestmark = pytest.mark.engine


def _observations(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)


def _mount(seen: dict[str, str], path: str) -> tuple[str, set[str]]:
    """(filesystem type, mount options) of ``path`` as /proc/mounts showed it inside."""
    fs, options = seen[f"mount {path}"].split()
    return fs, set(options.split(","))


def _assert_cleaned_up(runner, run_id: str) -> None:
    api = runner.client.api
    names = [n for c in api.containers(all=True) for n in c["Names"]]
    assert not [n for n in names if run_id in n]
    volumes = api.volumes().get("Volumes") or []
    assert not [v["Name"] for v in volumes if run_id in v["Name"]]


def test_correct_outputs_are_collected(runner, algorithm, case_folders):
    result = runner.run(run_request(algorithm("correct"), case_folders, "correct"))

    assert result.outcome == Outcome.SUCCEEDED, result
    assert result.message == ""
    assert result.exit_code == 0
    assert result.outputs == tuple(f"{case}.nii.gz" for case in images.CASES)
    for case in images.CASES:
        written = images.nifti_array(case_folders[1] / f"{case}.nii.gz")
        np.testing.assert_array_equal(written, images.prediction(case))
    _assert_cleaned_up(runner, "correct")


def test_network_is_unreachable_and_the_run_still_succeeds(runner, algorithm, case_folders):
    inputs, _ = case_folders
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.1)
        (inputs / "port").write_text(str(listener.getsockname()[1]))
        result = runner.run(run_request(algorithm("network"), case_folders, "network"))
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing from the container reached the host's loopback

    seen = _observations(result.stdout_tail)
    assert result.outcome == Outcome.SUCCEEDED, result
    assert seen["interfaces"].split() == ["lo"]
    assert seen["routes"] == "0"
    assert seen["connect"] == "failed"
    assert len(result.outputs) == len(images.CASES)


def test_writes_outside_output_are_refused(runner, algorithm, case_folders):
    result = runner.run(run_request(algorithm("write_outside"), case_folders, "write-outside"))

    seen = _observations(result.stdout_tail)
    refused = {k: v for k, v in seen.items() if k.startswith("write /") and k != "write /tmp"}
    assert len(refused) == 5
    assert set(refused.values()) == {"refused: Read-only file system"}, seen
    assert seen["write /tmp"] == "allowed"
    assert result.outcome == Outcome.SUCCEEDED
    assert not (case_folders[0] / "evil.txt").exists()


def _pids_cgroup(container_id: str) -> Path | None:
    """The container's pids cgroup on the host (podman with cgroupfs; v1, then v2 layout)."""
    for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        folder = Path(root) / "libpod_parent" / f"libpod-{container_id}"
        if (folder / "pids.max").exists():
            return folder
    return None


def test_fork_bomb_is_contained_by_the_pids_limit(runner, algorithm, case_folders):
    seen: dict[str, str] = {}
    stop = threading.Event()

    def watch() -> None:
        # Read the bomb's pids cgroup from the host while it runs (it goes with the container).
        while not stop.wait(0.2):
            try:
                container_id = runner.client.api.inspect_container("podium-test-forkbomb")["Id"]
                folder = _pids_cgroup(container_id)
                if folder is not None:
                    for name in ("pids.max", "pids.peak", "pids.events"):
                        seen[name] = (folder / name).read_text()
            except Exception:  # noqa: S112 (not created yet, or already gone)
                continue

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        request = run_request(algorithm("forkbomb"), case_folders, "forkbomb", wall_time_s=4)
        result = runner.run(request)
    finally:
        stop.set()
        watcher.join()

    assert result.outcome == Outcome.TIME_LIMIT
    assert result.message == "time limit of 4 s exceeded"
    assert "can't fork" in result.stderr_tail
    assert int(seen["pids.max"]) == TEST_LIMITS.pids
    assert int(seen["pids.peak"]) == TEST_LIMITS.pids  # reached, never passed
    assert int(seen["pids.events"].split()[1]) > 0  # forks refused at the limit
    _assert_cleaned_up(runner, "forkbomb")


def test_memory_past_the_limit_is_reported(runner, algorithm, case_folders):
    result = runner.run(run_request(algorithm("memory"), case_folders, "memory"))

    assert result.outcome == Outcome.MEMORY_LIMIT
    assert result.message == "memory limit exceeded"
    assert result.exit_code == 137
    assert "started" in result.stdout_tail
    _assert_cleaned_up(runner, "memory")


@pytest.mark.parametrize(
    ("behaviour", "limits"),
    [("memory_child", {}),
     # Neither /tmp's size nor the file size limit comes first: the memory limit does.
     ("tmp_child", {"tmp_bytes": 256 * MIB, "file_size_bytes": 256 * MIB})],
)
def test_a_child_killed_for_memory_fails_the_run_though_the_entrypoint_exits_0(
    runner, algorithm, case_folders, behaviour, limits
):
    run_id = behaviour.replace("_", "-")
    result = runner.run(run_request(algorithm(behaviour), case_folders, run_id, **limits))

    assert "child=137" in result.stdout_tail  # SIGKILLed; the entrypoint went on
    assert result.exit_code == 0
    assert result.outcome == Outcome.MEMORY_LIMIT
    assert result.message == "memory limit exceeded"
    assert list(case_folders[1].iterdir()) == []
    _assert_cleaned_up(runner, run_id)


def test_sleeping_past_the_time_limit_is_killed(runner, algorithm, case_folders):
    result = runner.run(run_request(algorithm("sleep"), case_folders, "sleep", wall_time_s=2))

    assert result.outcome == Outcome.TIME_LIMIT
    assert result.message == "time limit of 2 s exceeded"
    assert 2 <= result.duration_s < 10
    assert result.outputs == ()
    _assert_cleaned_up(runner, "sleep")


@pytest.mark.parametrize("behaviour", ["big_output", "big_output_ignored", "many_files"])
def test_too_much_output_is_refused(runner, algorithm, case_folders, behaviour):
    run_id = behaviour.replace("_", "-")
    result = runner.run(run_request(algorithm(behaviour), case_folders, run_id))

    assert result.outcome == Outcome.OUTPUT_TOO_LARGE
    assert result.message == "the outputs exceed the limit of 1 MiB or 20 files and folders"
    assert list(case_folders[1].iterdir()) == []
    _assert_cleaned_up(runner, behaviour.replace("_", "-"))


def test_non_zero_exit_reports_the_code_and_the_tails(runner, algorithm, case_folders):
    result = runner.run(run_request(algorithm("exit3"), case_folders, "exit3"))

    assert result.outcome == Outcome.EXIT_NONZERO
    assert result.message == "the algorithm exited with code 3"
    assert result.stdout_tail == "to-stdout\n"
    assert result.stderr_tail == "to-stderr\n"


def test_logs_are_capped_by_the_engine(runner, algorithm, case_folders):
    result = runner.run(run_request(algorithm("log_flood"), case_folders, "log-flood"))

    assert result.outcome == Outcome.SUCCEEDED
    # 20,000 lines of ~45 bytes were printed; the engine kept at most log_bytes of them.
    assert result.stdout_tail.endswith("last-line\n")
    assert len(result.stdout_tail) <= TEST_LIMITS.log_bytes


def test_the_sandbox_as_seen_from_inside(runner, algorithm, case_folders):
    result = runner.run(run_request(algorithm("probe"), case_folders, "probe"))
    seen = _observations(result.stdout_tail)

    assert result.outcome == Outcome.SUCCEEDED, result
    assert (seen["uid"], seen["gid"]) == ("1000", "1000")
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert seen[capabilities] == "0000000000000000"
    assert seen["NoNewPrivs"] == "1"
    assert "ro" in _mount(seen, "/")[1]
    assert "ro" in _mount(seen, "/input")[1]
    assert _mount(seen, "/tmp")[0] == "tmpfs"
    assert {"rw", "nosuid", "nodev", "size=16384k"} <= _mount(seen, "/tmp")[1]
    assert "size=8192k" in _mount(seen, "/dev/shm")[1]
    assert _mount(seen, "/output")[0] == "tmpfs"
    assert "rw" in _mount(seen, "/output")[1]
    assert seen["input_write"] == "refused"
    # Writable for the algorithm: only RAM-backed folders charged to its memory limit. podman
    # (4.3) adds unsized /run and /var/tmp to read-only containers; Docker Engine does not.
    writable = set(seen["writable_tmpfs"].split())
    assert {"/tmp", "/output", "/dev/shm"} <= writable <= {
        "/tmp", "/output", "/dev/shm", "/run", "/var/tmp"
    }
    assert seen["label_found"].strip() == ""
    assert sorted(seen["input"].split()) == [f"{case}.nii.gz" for case in images.CASES]
    assert seen["nofile"] == "256"
    assert seen["core"] == "0"
    assert seen["fsize"] == str(TEST_LIMITS.file_size_bytes // 512)
    assert seen["pid1"] in {"podman-init", "catatonit", "docker-init", "tini"}  # engine init


def test_the_label_search_finds_a_label_that_is_visible(runner, algorithm, case_folders):
    # The control for label_found above: the same search does see a label inside /input.
    (case_folders[0] / "notes.txt").write_text("podium-hidden-label leaked")

    result = runner.run(run_request(algorithm("probe"), case_folders, "probe-control"))

    assert _observations(result.stdout_tail)["label_found"].split() == ["/input/notes.txt"]


def test_the_mounts_reveal_nothing_of_the_hosts_layout(runner, algorithm, tmp_path):
    # Staged as the platform stages them: under its data folder, in a folder named after the
    # task, with the hidden labels elsewhere in the same data folder.
    data = tmp_path / "podium-data"
    task_id = str(uuid.uuid4())
    inputs = data / "work" / "inputs" / task_id
    images.write_inputs(inputs)
    labels = data / "private" / "labels" / task_id
    labels.mkdir(parents=True)
    (labels / f"{images.CASES[0]}.nii.gz").write_text("podium-hidden-label")
    outputs = tmp_path / "outputs"
    outputs.mkdir()

    result = runner.run(run_request(algorithm("mountinfo"), (inputs, outputs), "mountinfo"))

    assert result.outcome == Outcome.SUCCEEDED, result
    mountinfo = result.stdout_tail.split("mountinfo-begin\n")[1].split("mountinfo-end")[0]
    mount_points = {line.split()[4] for line in mountinfo.splitlines()}
    assert {"/", "/input", "/output", "/tmp"} <= mount_points
    for secret in (str(tmp_path), "podium-data", task_id, "private", "labels", *images.CASES):
        assert secret not in mountinfo
    assert len(result.outputs) == len(images.CASES)  # /input held the test images
