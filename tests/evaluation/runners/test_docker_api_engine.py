"""The docker_api runner's dealings with the engine itself: what the engine records and enforces
for the create request, images in and out, GPU requests, and clean-up after interruptions."""

from __future__ import annotations

import gzip
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker.errors
import pytest

from core.errors import InvalidInput
from evaluation.runners.base import Outcome
from evaluation.runners.docker_options import (
    RunNames,
    algorithm_options,
    input_volume_options,
    output_volume_options,
)
from tests.evaluation.runners import images
from tests.evaluation.runners.conftest import ROOT, TEST_LIMITS, run_request

pytestmark = pytest.mark.engine


def _names_with(runner, text: str) -> list[str]:
    api = runner.client.api
    containers = [n.lstrip("/") for c in api.containers(all=True) for n in c["Names"]]
    volumes = [v["Name"] for v in api.volumes().get("Volumes") or []]
    return sorted(n for n in containers + volumes if text in n)


def _cgroup_value(container_id: str, controller: str, name: str) -> int:
    folder = Path("/sys/fs/cgroup") / controller / "libpod_parent" / f"libpod-{container_id}"
    return int((folder / name).read_text())


def test_the_engine_records_and_enforces_every_host_restriction(runner, algorithm, case_folders):
    request = run_request(algorithm("sleep"), case_folders, "inspect")
    names = RunNames.of("podium-test-", "inspect")
    client = runner.client
    client.volumes.create(**output_volume_options(request, name=names.volume))
    client.volumes.create(**input_volume_options(request, name=names.input_volume))
    container = client.containers.create(**algorithm_options(request, names=names, user="1000"))
    try:
        container.start()
        host = client.api.inspect_container(container.id)["HostConfig"]
        libpod = client.api.get(client.api._url("/libpod/containers/{0}/json", container.id))
        limits = {
            "memory": _cgroup_value(container.id, "memory", "memory.limit_in_bytes"),
            "memory+swap": _cgroup_value(container.id, "memory", "memory.memsw.limit_in_bytes"),
            "pids": _cgroup_value(container.id, "pids", "pids.max"),
            "cpu quota": _cgroup_value(container.id, "cpu", "cpu.cfs_quota_us"),
            "cpu period": _cgroup_value(container.id, "cpu", "cpu.cfs_period_us"),
        }
    finally:
        container.remove(force=True)
        client.api.remove_volume(names.volume, force=True)
        client.api.remove_volume(names.input_volume, force=True)

    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["Privileged"] is False
    assert not host.get("CapAdd")
    assert "ALL" in host["CapDrop"] or {"CHOWN", "SETUID", "NET_RAW"} <= set(host["CapDrop"])
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Init"] is True
    assert host["PidsLimit"] == TEST_LIMITS.pids
    assert host["Memory"] == host["MemorySwap"] == TEST_LIMITS.memory_bytes
    assert host["NanoCpus"] == 1_000_000_000
    assert host["ShmSize"] == TEST_LIMITS.shm_bytes
    assert host["Tmpfs"]["/tmp"].startswith(f"size={TEST_LIMITS.tmp_bytes},mode=1777")
    ulimits = {
        u["Name"].lower().removeprefix("rlimit_"): (u["Soft"], u["Hard"]) for u in host["Ulimits"]
    }
    assert ulimits == {
        "nofile": (256, 256),
        "nproc": (4096, 4096),
        "core": (0, 0),
        "fsize": (TEST_LIMITS.file_size_bytes,) * 2,
    }
    assert f"{names.input_volume}:/input:ro" in " ".join(host["Binds"])
    assert f"{names.volume}:/output:rw" in " ".join(host["Binds"])
    assert not host.get("DeviceRequests")
    # podman reports the log cap only on its own endpoint.
    assert libpod.json()["HostConfig"]["LogConfig"]["Size"] in ("64kB", "64KiB", "65.54kB")
    assert limits == {
        "memory": TEST_LIMITS.memory_bytes,
        "memory+swap": TEST_LIMITS.memory_bytes,
        "pids": TEST_LIMITS.pids,
        "cpu quota": 100_000,
        "cpu period": 100_000,
    }


def test_load_image_returns_the_content_address_and_remove_image_removes_it(runner, tmp_path):
    archive, image_id = images.write_algorithm(tmp_path, "exit3")
    compressed = tmp_path / "exit3.tar.gz"
    compressed.write_bytes(gzip.compress(archive.read_bytes(), compresslevel=1))

    assert runner.load_image(compressed) == image_id
    assert runner.client.images.get(image_id).attrs["Config"]["User"] == "1000:1000"
    runner.remove_image(image_id)
    with pytest.raises(docker.errors.NotFound):
        runner.client.images.get(image_id)
    runner.remove_image(image_id)  # already gone: no error


def test_load_image_refuses_a_root_image_before_loading_it(runner, tmp_path):
    archive, image_id = images.write_algorithm(tmp_path, "correct", user="0:0")

    with pytest.raises(InvalidInput, match=r"runs as root.*USER 1000"):
        runner.load_image(archive)
    with pytest.raises(docker.errors.NotFound):
        runner.client.images.get(image_id)


@pytest.mark.parametrize(
    "user", ["", "root", "0", "0:1000", ":1000", "1000:0", "algo", "¹", "2147483648"]
)
def test_a_root_image_never_runs_even_if_loaded_behind_our_back(
    runner, tmp_path, case_folders, user
):
    archive, image_id = images.write_algorithm(tmp_path, "correct", user=user)
    with open(archive, "rb") as data:
        list(runner.client.api.load_image(data))
    try:
        with pytest.raises(InvalidInput, match="USER 1000"):
            runner.run(run_request(image_id, case_folders, "root-image"))
        assert _names_with(runner, "root-image") == []
    finally:
        runner.remove_image(image_id)


def test_the_group_never_comes_from_the_images_own_passwd_or_group_files(
    runner, tmp_path, case_folders
):
    # Left to the engine, `USER 1000` takes its group from the image's /etc/passwd and adds
    # the groups /etc/group lists it in: here both say root. The runner names the group.
    unix_files = {
        "/etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nalgo:x:1000:0:algo:/algo:/bin/sh\n",
        "/etc/group": b"root:x:0:algo\nalgo:x:1000:\n",
    }
    archive, _ = images.write_algorithm(tmp_path, "ids", user="1000", extra_files=unix_files)
    image_id = runner.load_image(archive)
    try:
        result = runner.run(run_request(image_id, case_folders, "ids"))
    finally:
        runner.remove_image(image_id)

    assert result.exit_code == 0, result
    assert result.stdout_tail.split() == ["uid=1000", "gid=1000", "groups=1000"]


def test_load_image_refuses_layers_that_do_not_match_the_config_before_loading(runner, tmp_path):
    busybox = images.layer({"/bin/busybox": images.BUSYBOX.read_bytes()})
    honest = images.layer({"/app/run": b"honest"})
    config = images.image_config([busybox, honest], cmd=("/bin/busybox", "cat", "/app/run"))
    tampered = tmp_path / "tampered.tar"
    image_id = images.docker_save(tampered, config, [busybox, images.layer({"/app/run": b"x"})])

    with pytest.raises(InvalidInput, match="layer 2 of the image does not match its digest"):
        runner.load_image(tampered)
    with pytest.raises(docker.errors.NotFound):
        runner.client.images.get(image_id)


def test_an_oci_archive_with_gzip_layers_loads_as_the_id_inspection_found(runner, tmp_path):
    # What `docker save` writes from the containerd image store; the engine reads it too.
    busybox = images.layer({"/bin/busybox": images.BUSYBOX.read_bytes()})
    honest = images.layer({"/app/run": b"honest"})
    config = images.image_config([busybox, honest], cmd=("/bin/busybox", "cat", "/app/run"))
    archive = tmp_path / "oci.tar"
    stored = [gzip.compress(busybox, mtime=0, compresslevel=1), gzip.compress(honest, mtime=0)]
    image_id = images.docker_save(archive, config, stored, layout="oci")

    assert runner.load_image(archive) == image_id
    runner.remove_image(image_id)


def test_a_gpu_run_on_an_engine_that_drops_device_requests_is_refused(
    runner, algorithm, case_folders
):
    # podman's compat API accepts DeviceRequests and silently drops them (podman #22645): the
    # runner notices before starting, instead of running a GPU job without its GPU.
    request = run_request(algorithm("correct"), case_folders, "gpu", gpu_device="0")

    result = runner.run(request)

    assert result.outcome == Outcome.ENGINE_ERROR
    assert "device request for GPU 0" in result.error
    assert result.message == "the algorithm could not be run because of an internal error"
    assert _names_with(runner, "gpu") == []


class _Interrupted(BaseException):
    """What a worker's shutdown looks like from inside the task."""


def test_an_interrupted_run_still_removes_its_containers(runner, algorithm, case_folders):
    def interrupt(signum, frame):
        raise _Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 2.0)
    try:
        with pytest.raises(_Interrupted):
            runner.run(run_request(algorithm("sleep"), case_folders, "interrupted"))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    assert _names_with(runner, "interrupted") == []


WORKER = """
import sys
from pathlib import Path
from evaluation.runners import get_runner
from evaluation.runners.base import RunRequest
runner = get_runner("docker_api", docker_host=sys.argv[1], name_prefix="podium-dead-")
runner.run(RunRequest(run_id="killed", image_id=sys.argv[2], input_dir=Path(sys.argv[3]),
                      output_dir=Path(sys.argv[4])))
"""


def test_remove_leftovers_cleans_up_after_a_killed_worker(
    runner, algorithm, case_folders, podman_socket
):
    inputs, outputs = case_folders
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, f"unix://{podman_socket}", algorithm("sleep"),
         str(inputs), str(outputs)],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = runner.client.api.containers(filters={"name": "podium-dead-killed"})
            if any(c["Names"] == ["/podium-dead-killed"] for c in found):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the worker's algorithm container never ran")
    finally:
        worker.kill()
        worker.wait()
    left = ["podium-dead-killed", "podium-dead-killed-holder", "podium-dead-killed-input",
            "podium-dead-killed-output"]
    assert _names_with(runner, "podium-dead-") == left

    # A run still in flight (a worker finishing it in a warm shutdown) is left alone.
    assert runner.remove_leftovers("podium-dead-", keep=["killed"]) == []
    assert _names_with(runner, "podium-dead-") == left
    removed = runner.remove_leftovers("podium-dead-")

    assert sorted(removed) == left
    assert _names_with(runner, "podium-dead-") == []
    assert runner.remove_leftovers("podium-dead-") == []


def test_the_serve_script_is_idempotent(podman_socket):
    pid_file = podman_socket.parent / "podman.pid"
    before = pid_file.read_text()

    again = subprocess.run(
        [str(ROOT / "scripts" / "podman" / "serve.sh"), str(podman_socket.parent)],
        capture_output=True, text=True, check=True, timeout=60,
    )

    assert again.stdout.strip() == str(podman_socket)
    assert pid_file.read_text() == before  # the running service was found, not restarted
