"""The Docker Engine API settings of a run, as the keyword arguments docker-py's
``containers.create`` and ``volumes.create`` take. Pure functions: no engine is contacted.

docs/runner.md gives the reason for each setting. Names are deterministic
(``<prefix><run_id>``, ``...-holder``, ``...-input``, ``...-output``) so that a reaper can
find what an interrupted worker left behind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from docker.types import DeviceRequest, LogConfig, Mount, Ulimit

from evaluation.runners.base import ResourceLimits, RunRequest
from evaluation.runners.collect import PAGE_BYTES

RUN_LABEL = "podium.run"
HOLDER_COMMAND = ["/busybox", "sleep", "2147483647"]
HOLDER_USER = "65534:65534"
HOLDER_MEMORY_BYTES = 16 * 1024 * 1024
HOLDER_PIDS = 8


@dataclass(frozen=True)
class RunNames:
    """The engine-side names of one run's objects (``volume`` holds ``/output``)."""

    container: str
    holder: str
    volume: str
    input_volume: str

    @classmethod
    def of(cls, prefix: str, run_id: str) -> RunNames:
        base = f"{prefix}{run_id}"
        return cls(container=base, holder=f"{base}-holder", volume=f"{base}-output",
                   input_volume=f"{base}-input")


def output_volume_pages(limits: ResourceLimits) -> int:
    """The output volume's size in tmpfs pages: the byte limit, plus one page so that outputs
    of exactly the limit fit and a full volume always means "too large"."""
    return math.ceil(limits.output_bytes / PAGE_BYTES) + 1


def output_volume_options(request: RunRequest, *, name: str) -> dict:
    """A size-capped tmpfs volume for ``/output``.

    The cap is given as ``nr_blocks`` (pages) and ``nr_inodes`` rather than ``size=``:
    podman before 4.8 refuses ``size`` in a volume's mount options (podman issue #20449), and
    both engines pass these tmpfs options to mount(2) unchanged. Inodes: the entry limit, one
    for the volume's root and one more, so that one entry too many is seen as such.
    """
    limits = request.limits
    pages, inodes = output_volume_pages(limits), limits.output_files + 2
    return {
        "name": name,
        "driver": "local",
        "driver_opts": {
            "type": "tmpfs",
            "device": "tmpfs",
            "o": f"nr_blocks={pages},nr_inodes={inodes},mode=1777",
        },
        "labels": {RUN_LABEL: request.run_id},
    }


def input_volume_options(request: RunRequest, *, name: str) -> dict:
    """A plain engine volume (on the engine's disk) that receives the run's test images, so
    that ``/input`` is mounted from the engine's storage rather than from a host folder whose
    path would show in the container's /proc/self/mountinfo."""
    return {"name": name, "driver": "local", "labels": {RUN_LABEL: request.run_id}}


def _ulimits(request: RunRequest) -> list[Ulimit]:
    limits = request.limits
    pairs = {
        "nofile": limits.nofile,
        "nproc": limits.nproc,
        "core": 0,
        "fsize": limits.file_size_bytes,
    }
    return [Ulimit(name=name, soft=value, hard=value) for name, value in pairs.items()]


def _locked_down(request: RunRequest, *, name: str) -> dict:
    """The settings the algorithm container and its holder share."""
    return {
        "name": name,
        "labels": {RUN_LABEL: request.run_id},
        "network_disabled": True,
        "network_mode": "none",
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "privileged": False,
        "ipc_mode": "private",
        "init": True,
        "ulimits": _ulimits(request),
    }


def algorithm_options(request: RunRequest, *, names: RunNames, user: str) -> dict:
    """Everything the algorithm container is created with (the image's entrypoint and cmd run
    unchanged). ``user`` is the image's own non-root ``UID[:GID]``, passed explicitly."""
    limits = request.limits
    options = _locked_down(request, name=names.container)
    options.update(
        image=request.image_id,
        user=user,
        tmpfs={"/tmp": f"size={limits.tmp_bytes},mode=1777"},  # noqa: S108 (inside the container)
        pids_limit=limits.pids,
        mem_limit=limits.memory_bytes,
        memswap_limit=limits.memory_bytes,
        nano_cpus=round(limits.cpus * 1e9),
        shm_size=limits.shm_bytes,
        log_config=LogConfig(
            type=LogConfig.types.JSON, config={"max-size": str(limits.log_bytes), "max-file": "1"}
        ),
        mounts=[
            Mount("/input", names.input_volume, type="volume", read_only=True),
            Mount("/output", names.volume, type="volume", read_only=False),
        ],
        environment=_gpu_environment(request.gpu_device),
    )
    if request.gpu_device is not None:
        options["device_requests"] = gpu_device_requests(request.gpu_device)
    return options


def holder_options(request: RunRequest, *, names: RunNames, image_id: str) -> dict:
    """The helper container that receives the test images into the input volume (the
    engine unpacks them there) and keeps the output volume mounted after the algorithm exits,
    so its content can be read back (a tmpfs volume is unmounted, and emptied, when no
    running container uses it)."""
    options = _locked_down(request, name=names.holder)
    options.update(
        image=image_id,
        command=HOLDER_COMMAND,
        user=HOLDER_USER,
        pids_limit=HOLDER_PIDS,
        mem_limit=HOLDER_MEMORY_BYTES,
        memswap_limit=HOLDER_MEMORY_BYTES,
        nano_cpus=round(0.1 * 1e9),
        mounts=[
            Mount("/input", names.input_volume, type="volume", read_only=False),
            Mount("/output", names.volume, type="volume", read_only=True),
        ],
        environment=_gpu_environment(None),
    )
    return options


def gpu_device_requests(gpu_device: str | None) -> list[DeviceRequest]:
    """Exactly one device request for the worker's GPU, or none on a CPU run.

    Docker Engine hands a request with capability ``gpu`` to the NVIDIA container toolkit,
    which exposes that GPU only.
    """
    if gpu_device is None:
        return []
    return [DeviceRequest(device_ids=[gpu_device], capabilities=[["gpu"]])]


def _gpu_environment(gpu_device: str | None) -> dict[str, str]:
    """``NVIDIA_VISIBLE_DEVICES`` pinned to the run's GPU, or to ``void`` without one.

    CUDA base images set ``NVIDIA_VISIBLE_DEVICES=all``; on a host whose default runtime is
    ``nvidia`` that alone would expose every GPU, device request or not.
    """
    return {"NVIDIA_VISIBLE_DEVICES": gpu_device if gpu_device is not None else "void"}
