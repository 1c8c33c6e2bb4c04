"""The runner interface: what the platform asks of a container backend, and what it gets back.

A backend runs one algorithm image over one folder of test images, inside the sandbox that
docs/runner.md describes, and reports a :class:`RunResult` whose ``message`` is meant for the
participant. Backends take their configuration as arguments; none imports Django.
"""

from __future__ import annotations

import enum
import importlib
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024
GIB = 1024 * MIB

RUN_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DECIMAL_PATTERN = re.compile(r"0|[1-9][0-9]*")
GPU_INDEX_ENV = "PODIUM_GPU_INDEX"

# Where each backend lives: backend name → "module:class" (imported on first use, so the
# platform does not need docker-py unless it runs the docker_api backend).
BACKENDS = {
    "docker_api": "evaluation.runners.docker_api:DockerApiRunner",
    "kubernetes": "evaluation.runners.kubernetes:KubernetesRunner",
}


@dataclass(frozen=True, kw_only=True)
class ResourceLimits:
    """The limits of one run. Sizes in bytes, time in seconds, CPU in cores.

    ``memory_bytes`` is both the memory and the memory+swap limit (no swap). The tmpfs at
    ``/tmp`` and the output volume are RAM-backed and charged to the same memory limit, so it
    must cover the algorithm's working memory plus what it writes to ``/tmp`` and ``/output``.
    ``nproc`` is RLIMIT_NPROC, which the kernel counts per user id across the whole host; the
    per-container process cap is ``pids``. ``file_size_bytes`` is RLIMIT_FSIZE (largest file
    one process may write anywhere). ``output_files`` caps the files and folders in
    ``/output``. ``log_bytes`` caps the engine's log of stdout+stderr.
    """

    memory_bytes: int = 8 * GIB
    cpus: float = 4.0
    pids: int = 256
    wall_time_s: float = 3600.0
    tmp_bytes: int = 1 * GIB
    shm_bytes: int = 256 * MIB
    nofile: int = 1024
    nproc: int = 4096
    file_size_bytes: int = 2 * GIB
    output_bytes: int = 2 * GIB
    output_files: int = 10_000
    log_bytes: int = 1 * MIB

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not value > 0:
                raise ValueError(f"ResourceLimits.{name} must be positive, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """One run: an image over a folder of test images.

    ``run_id`` names the run's containers and volumes (lower-case letters, digits, dashes;
    unique per run attempt). ``input_dir`` is a folder of this process holding only the test
    images (never labels), as regular files and folders; they are copied into an engine
    volume that the container sees read-only at ``/input`` (so no host path shows inside).
    ``output_dir`` is an empty folder of this process that receives the collected
    ``/output``. ``gpu_device`` is the GPU index (or UUID) this worker owns, ``None`` on CPU.
    """

    run_id: str
    image_id: str
    input_dir: Path
    output_dir: Path
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    gpu_device: str | None = None

    def __post_init__(self) -> None:
        if not RUN_ID_PATTERN.match(self.run_id):
            raise ValueError(f"run_id {self.run_id!r} must match {RUN_ID_PATTERN.pattern}")


class Outcome(enum.StrEnum):
    """How a run ended."""

    SUCCEEDED = "succeeded"
    EXIT_NONZERO = "exit_nonzero"
    MEMORY_LIMIT = "memory_limit"
    TIME_LIMIT = "time_limit"
    OUTPUT_TOO_LARGE = "output_too_large"
    ENGINE_ERROR = "engine_error"


def _seconds(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3f}".rstrip("0")


def _size(n: int) -> str:
    return f"{n / MIB:g} MiB"


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """What a run produced.

    ``outputs`` are the collected files, relative to ``RunRequest.output_dir`` (empty unless
    succeeded). ``stdout_tail``/``stderr_tail`` are the last bytes of each stream (for
    organizers; the platform decides whether participants see them). ``error`` is the internal
    detail of an engine error, for logs only. ``duration_s`` is the time the container ran.
    """

    outcome: Outcome
    limits: ResourceLimits
    exit_code: int | None = None
    duration_s: float = 0.0
    stdout_tail: str = ""
    stderr_tail: str = ""
    outputs: tuple[str, ...] = ()
    error: str = ""

    @property
    def message(self) -> str:
        """The participant-facing sentence for this outcome ("" when it succeeded)."""
        match self.outcome:
            case Outcome.SUCCEEDED:
                return ""
            case Outcome.EXIT_NONZERO:
                return f"the algorithm exited with code {self.exit_code}"
            case Outcome.MEMORY_LIMIT:
                return "memory limit exceeded"
            case Outcome.TIME_LIMIT:
                return f"time limit of {_seconds(self.limits.wall_time_s)} s exceeded"
            case Outcome.OUTPUT_TOO_LARGE:
                return (
                    f"the outputs exceed the limit of {_size(self.limits.output_bytes)} "
                    f"or {self.limits.output_files} files and folders"
                )
            case Outcome.ENGINE_ERROR:
                return "the algorithm could not be run because of an internal error"


class Runner(ABC):
    """A container backend. Implementations: :mod:`evaluation.runners.docker_api`,
    :mod:`evaluation.runners.kubernetes`."""

    @abstractmethod
    def run(self, request: RunRequest) -> RunResult:
        """Run ``request.image_id`` over ``request.input_dir``; collect ``/output``.

        Blocks until the run ends; removes everything it created, whatever happens. Raises
        :class:`scorers.errors.InvalidInput` if the image may not run (e.g. its user is root).
        """

    @abstractmethod
    def load_image(self, archive_path: Path) -> str:
        """Load a ``docker save`` archive (inspected first); return the image id."""

    @abstractmethod
    def stop(self, run_id: str) -> None:
        """Kill the algorithm of a run in flight (from another thread); ``run`` then returns."""

    @abstractmethod
    def has_image(self, image_id: str) -> bool:
        """Whether the engine already holds the image (so it need not be loaded again)."""

    @abstractmethod
    def remove_image(self, image_id: str) -> None:
        """Remove an image from the engine (no error if it is already gone)."""

    @abstractmethod
    def remove_leftovers(self, prefix: str | None = None, *,
                         keep: Collection[str] = ()) -> list[str]:
        """Remove containers and volumes named with ``prefix`` (default: this runner's),
        except those of the runs in ``keep`` (run ids still in flight: another worker of the
        same prefix finishing its run in a warm shutdown).

        For a reaper or a worker's start-up: whatever an interrupted run left behind. Returns
        the names removed.
        """


def get_runner(backend: str, **config: object) -> Runner:
    """The runner for ``backend`` (a key of :data:`BACKENDS`), configured with ``config``."""
    try:
        module_name, class_name = BACKENDS[backend].split(":")
    except KeyError:
        raise ValueError(f"unknown runner backend {backend!r}; known: {sorted(BACKENDS)}") from None
    runner_class = getattr(importlib.import_module(module_name), class_name)
    return runner_class(**config)


def parse_decimal(text: str) -> int | None:
    """The value of ``text`` if it is a plain decimal number, else None.

    Plain means ASCII digits only, without sign, spaces or leading zeros ("0", "1000"), so
    that one string has one reading everywhere. ``str.isdigit`` is not enough: it accepts
    "¹" and "٣", which ``int`` then refuses or reads differently. The one parser for ids
    that reach the engine (image users, GPU indexes).
    """
    return int(text) if DECIMAL_PATTERN.fullmatch(text) else None


def gpu_index_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """The GPU this worker process owns, from ``PODIUM_GPU_INDEX`` (unset or empty: no GPU).

    One worker process per GPU: start each ``celery -A podium worker -Q gpu`` with its own
    ``PODIUM_GPU_INDEX`` (0, 1, ...), and its runs get a device request for that GPU only.
    """
    value = environ.get(GPU_INDEX_ENV, "").strip()
    if not value:
        return None
    index = parse_decimal(value)
    if index is None:
        raise ValueError(f"{GPU_INDEX_ENV} must be a GPU index (0, 1, ...), got {value!r}")
    return str(index)
