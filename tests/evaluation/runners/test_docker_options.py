"""The create requests the docker_api backend builds (no engine needed): GPU device requests,
one GPU index per worker process, the output volume's cap, the holder's lockdown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from docker.models.containers import _create_container_args

from evaluation.runners.base import MIB, ResourceLimits, RunRequest
from evaluation.runners.docker_options import (
    RunNames,
    algorithm_options,
    gpu_device_requests,
    holder_options,
    input_volume_options,
    output_volume_options,
)
from tests.evaluation.runners.conftest import ROOT

NAMES = RunNames.of("podium-gpu1-", "eval-7-1")


def _request(gpu_device: str | None = None, **limits) -> RunRequest:
    return RunRequest(
        run_id="eval-7-1",
        image_id="sha256:" + "ab" * 32,
        input_dir=Path("/srv/podium/work/eval-7-1/input"),
        output_dir=Path("/srv/podium/work/eval-7-1/output"),
        limits=ResourceLimits(**limits),
        gpu_device=gpu_device,
    )


def _host_config(options: dict) -> dict:
    """The HostConfig docker-py sends for these options (its own serialisation)."""
    return _create_container_args({**options, "version": "1.41"})["host_config"]


def test_a_gpu_run_sends_exactly_one_device_request_for_its_gpu():
    host = _host_config(algorithm_options(_request("1"), names=NAMES, user="1000"))

    assert host["DeviceRequests"] == [
        {"Driver": "", "Count": 0, "DeviceIDs": ["1"], "Capabilities": [["gpu"]], "Options": {}}
    ]


def test_a_cpu_run_sends_no_device_request_and_hides_gpus_from_the_nvidia_runtime():
    options = algorithm_options(_request(None), names=NAMES, user="1000")

    assert "device_requests" not in options
    assert "DeviceRequests" not in _host_config(options)
    assert gpu_device_requests(None) == []
    assert options["environment"] == {"NVIDIA_VISIBLE_DEVICES": "void"}


def test_a_gpu_run_pins_nvidia_visible_devices_to_its_gpu():
    options = algorithm_options(_request("3"), names=NAMES, user="1000")

    assert options["environment"] == {"NVIDIA_VISIBLE_DEVICES": "3"}


WORKER = """
import json
from pathlib import Path
from evaluation.runners import RunRequest, gpu_index_from_env
from evaluation.runners.docker_options import RunNames, algorithm_options
request = RunRequest(run_id="r", image_id="i", input_dir=Path("/i"), output_dir=Path("/o"),
                     gpu_device=gpu_index_from_env())
options = algorithm_options(request, names=RunNames.of("p-", "r"), user="1000")
print(json.dumps([dict(r) for r in options.get("device_requests", [])]))
"""


@pytest.mark.parametrize(("index", "expected"), [("0", [["0"]]), ("1", [["1"]]), (None, [])])
def test_each_worker_process_requests_the_gpu_named_in_its_environment(index, expected):
    env = {k: v for k, v in os.environ.items() if k != "PODIUM_GPU_INDEX"}
    if index is not None:
        env["PODIUM_GPU_INDEX"] = index
    worker = subprocess.run(
        [sys.executable, "-c", WORKER], env=env, cwd=ROOT, capture_output=True, text=True,
        check=True, timeout=60,
    )

    requests = json.loads(worker.stdout)
    assert [r["DeviceIDs"] for r in requests] == expected


def test_the_output_volume_is_a_tmpfs_capped_in_pages_and_inodes():
    request = _request(output_bytes=10 * MIB + 1, output_files=100)

    options = output_volume_options(request, name=NAMES.volume)

    assert options["driver_opts"] == {
        "type": "tmpfs",
        "device": "tmpfs",
        "o": f"nr_blocks={10 * 256 + 1 + 1},nr_inodes=102,mode=1777",
    }
    assert options["name"] == "podium-gpu1-eval-7-1-output"


def test_names_are_deterministic_per_prefix_and_run():
    assert NAMES == RunNames(
        container="podium-gpu1-eval-7-1",
        holder="podium-gpu1-eval-7-1-holder",
        volume="podium-gpu1-eval-7-1-output",
        input_volume="podium-gpu1-eval-7-1-input",
    )


def test_the_algorithm_container_is_locked_down():
    request = _request(memory_bytes=2 * MIB * 1024, cpus=2.5, pids=99)
    options = algorithm_options(request, names=NAMES, user="1000:1000")
    host = _host_config(options)

    assert options["network_disabled"] is True
    assert options["user"] == "1000:1000"
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Init"] is True
    assert host["PidsLimit"] == 99
    assert host["Memory"] == host["MemorySwap"] == 2 * 1024 * MIB
    assert host["NanoCpus"] == 2_500_000_000
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-size": str(MIB), "max-file": "1"},
    }
    # No bind mount: a host path would show in the container's /proc/self/mountinfo.
    assert [(m["Target"], m["Source"], m["Type"], m["ReadOnly"]) for m in host["Mounts"]] == [
        ("/input", NAMES.input_volume, "volume", True),
        ("/output", NAMES.volume, "volume", False),
    ]
    assert "/srv/podium" not in json.dumps(options, default=str)


def test_the_input_volume_is_a_plain_engine_volume_named_after_the_run():
    options = input_volume_options(_request(), name=NAMES.input_volume)

    assert options == {"name": "podium-gpu1-eval-7-1-input", "driver": "local",
                       "labels": {"podium.run": "eval-7-1"}}


def test_the_holder_fills_the_input_volume_and_only_reads_the_output_volume():
    options = holder_options(_request(), names=NAMES, image_id="sha256:" + "cd" * 32)
    host = _host_config(options)

    assert options["user"] == "65534:65534"
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert [(m["Target"], m["ReadOnly"]) for m in host["Mounts"]] == [
        ("/input", False), ("/output", True)]
    assert "DeviceRequests" not in host
