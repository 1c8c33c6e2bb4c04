"""A real container engine for the runner tests: podman serving the Docker API, started from the
repository's scripts/podman/ files in a temporary folder, and test images built from Debian's
busybox-static. Without podman the engine tests skip, except under CI=true where they fail."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from evaluation.runners.base import MIB, ResourceLimits, RunRequest
from evaluation.runners.docker_api import DockerApiRunner
from tests.evaluation.runners import images

ROOT = Path(__file__).resolve().parents[3]

# Small limits so that every limit is reached in a second or two on a 2-core machine.
TEST_LIMITS = ResourceLimits(
    memory_bytes=64 * MIB,
    cpus=1.0,
    pids=32,
    wall_time_s=30,
    tmp_bytes=16 * MIB,
    shm_bytes=8 * MIB,
    nofile=256,
    nproc=4096,
    file_size_bytes=4 * MIB,
    output_bytes=1 * MIB,
    output_files=20,
    log_bytes=64 * 1024,
)


def run_request(image_id: str, folders: tuple[Path, Path], run_id: str, *,
                gpu_device: str | None = None, **limits) -> RunRequest:
    """A request over the case folders with TEST_LIMITS, some of them changed by ``limits``."""
    inputs, outputs = folders
    return RunRequest(run_id=run_id, image_id=image_id, input_dir=inputs, output_dir=outputs,
                      limits=dataclasses.replace(TEST_LIMITS, **limits), gpu_device=gpu_device)


@pytest.fixture(scope="session")
def runner(podman_socket: Path) -> DockerApiRunner:
    return DockerApiRunner(docker_host=f"unix://{podman_socket}", name_prefix="podium-test-")


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("images")


@pytest.fixture(scope="session")
def algorithm(runner: DockerApiRunner, image_folder: Path) -> Callable[[str], str]:
    """``algorithm(behaviour)``: the id of the loaded image running /algo/<behaviour>.sh."""
    loaded: dict[str, str] = {}

    def load(behaviour: str) -> str:
        if behaviour not in loaded:
            archive, _ = images.write_algorithm(image_folder, behaviour)
            loaded[behaviour] = runner.load_image(archive)
        return loaded[behaviour]

    return load


@pytest.fixture
def case_folders(tmp_path: Path) -> tuple[Path, Path]:
    """(inputs, outputs): the test images, with hidden labels beside them on the host."""
    inputs, outputs, labels = tmp_path / "inputs", tmp_path / "outputs", tmp_path / "labels"
    images.write_inputs(inputs)
    outputs.mkdir()
    labels.mkdir()
    for case in images.CASES:
        (labels / f"{case}.nii.gz").write_text("podium-hidden-label of " + case)
    (tmp_path / "labels.csv").write_text("case,podium-hidden-label\n")
    return inputs, outputs
