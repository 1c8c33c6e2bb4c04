"""The docker/ folder: the compose file parses and wires one GPU per GPU worker; the example
algorithm runs as a numeric non-root user and segments as its README says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import yaml

from evaluation.algorithm_images import check_user
from tests.evaluation.runners.conftest import ROOT

DOCKER = ROOT / "docker"
EXAMPLE = DOCKER / "example-algorithm"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_config_validates_without_a_daemon():
    # Debian's docker-compose (1.29) validates against the Compose schema and interpolates,
    # talking to no daemon: the same check as `docker compose config`.
    if shutil.which("docker-compose") is None:
        reason = "docker-compose missing (apt-get install --no-install-recommends docker-compose)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    env = {**os.environ, "PODIUM_SECRET_KEY": "test-only", "PODIUM_S3_SECRET_KEY": "test-only"}
    command = ["docker-compose", "-f", str(DOCKER / "compose.yaml"), "config"]

    valid = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    without_key = subprocess.run(
        command, env={k: v for k, v in env.items() if k != "PODIUM_SECRET_KEY"},
        capture_output=True, text=True, timeout=60,
    )

    assert valid.returncode == 0, valid.stderr
    assert "driver: nvidia" in valid.stdout
    assert without_key.returncode != 0
    assert "set PODIUM_SECRET_KEY" in without_key.stderr


def test_compose_has_the_production_services():
    services = _compose()["services"]

    assert {"postgres", "redis", "objectstore", "buckets", "web", "worker", "beat",
            "gpu-worker-0"} <= set(services)
    assert services["worker"]["build"]["target"] == "worker"
    assert services["web"]["build"]["target"] == "web"


def test_compose_services_share_nothing_but_the_database_broker_and_object_store():
    compose = _compose()
    podium = [name for name, service in compose["services"].items()
              if str(service.get("image", "")).startswith("podium-")]
    env = compose["x-podium-env"]
    assert env["PODIUM_STORAGE"] == "s3" and "objectstore:8333" in env["PODIUM_S3_ENDPOINT_URL"]
    data_volumes = {}
    for name in podium:
        for volume in compose["services"][name].get("volumes", []):
            source, target = volume.split(":")[:2]
            if target == "/var/lib/podium/data":
                data_volumes.setdefault(source, []).append(name)
    assert all(len(users) == 1 for users in data_volumes.values()), data_volumes
    assert {n for users in data_volumes.values() for n in users} == set(podium) - {"buckets"}


def test_each_gpu_worker_reserves_the_gpu_its_index_names():
    services = _compose()["services"]
    gpu_workers = {name: s for name, s in services.items() if name.startswith("gpu-worker")}

    assert gpu_workers
    for service in gpu_workers.values():
        (device,) = service["deploy"]["resources"]["reservations"]["devices"]
        assert device["capabilities"] == ["gpu"]
        assert device["device_ids"] == [service["environment"]["PODIUM_GPU_INDEX"]]
        mounts = [v.split(":") for v in service["volumes"]]
        assert ["/var/run/docker.sock", "/var/run/docker.sock"] in mounts
        work = service["environment"]["PODIUM_WORK_DIR"]
        assert [work, work] in mounts  # same path on the host and in the worker


def test_the_gpu_worker_serves_one_task_at_a_time_and_ships_the_holder_binary():
    dockerfile = (DOCKER / "gpu-worker.Dockerfile").read_text()

    assert "busybox-static" in dockerfile
    assert re.search(r'"-Q", "gpu", "--concurrency", "1", "--prefetch-multiplier", "1"', dockerfile)
    assert dockerfile.startswith("#") and "FROM nvidia/cuda:" in dockerfile


def test_the_example_algorithm_runs_as_a_numeric_non_root_user():
    users = re.findall(r"^USER\s+(\S+)", (EXAMPLE / "Dockerfile").read_text(), re.MULTILINE)

    assert users
    assert check_user(users[-1]) == users[-1]


def test_the_example_algorithm_thresholds_each_case(tmp_path):
    inputs, outputs = tmp_path / "input", tmp_path / "output"
    inputs.mkdir()
    outputs.mkdir()
    rng = np.random.default_rng(5)
    affine = np.diag([0.7, 0.7, 3.0, 1.0])
    volumes = {
        "hippocampus_001.nii.gz": rng.normal(size=(9, 8, 7)).astype(np.float32),
        "prostate_002.nii.gz": rng.normal(size=(6, 5, 4, 2)).astype(np.float32),
    }
    for name, volume in volumes.items():
        nib.save(nib.Nifti1Image(volume, affine), inputs / name)

    done = subprocess.run(
        [sys.executable, str(EXAMPLE / "segment.py"), "--input", str(inputs),
         "--output", str(outputs), "--percentile", "90"],
        capture_output=True, text=True, check=True, timeout=120,
    )

    assert done.stdout.strip() == "segmented 2 cases"
    for name, volume in volumes.items():
        written = nib.load(outputs / name)
        first = volume[..., 0] if volume.ndim == 4 else volume
        expected = (first > np.quantile(first, 0.9)).astype(np.uint8)
        np.testing.assert_array_equal(np.asanyarray(written.dataobj), expected)
        np.testing.assert_allclose(written.affine, affine)
        assert written.get_data_dtype() == np.uint8
