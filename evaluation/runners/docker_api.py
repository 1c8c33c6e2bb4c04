"""The ``docker_api`` runner: algorithm containers through the Docker Engine API (docker-py).

Production talks to Docker Engine on each worker node; development machines and CI talk to
podman serving the same API (scripts/podman/serve.sh). One run:

1. create a size-capped tmpfs volume for ``/output`` and a plain volume for ``/input``, start a
   tiny *holder* container that mounts both (the platform's own image: one static busybox),
   and have the engine unpack the test images into the input volume through it (so no host
   path shows inside the container);
2. create the algorithm container with every restriction of docs/runner.md, check that the
   engine kept the GPU device request, start it, wait with a timeout (watching its cgroup's
   OOM kills where the host's cgroups are visible), kill it past the limit;
3. copy ``/output`` out through the holder (a tar stream, capped again on this side; a volume
   found full means the outputs were too large);
4. remove the containers and the volumes, whatever happened (``try/finally``; the
   deterministic names let :meth:`DockerApiRunner.remove_leftovers` clean up after a worker
   that was killed mid-run).
"""

from __future__ import annotations

import json
import logging
import re
import tarfile
import tempfile
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from evaluation.algorithm_images import check_user, inspect_archive
from evaluation.runners import docker_options
from evaluation.runners.base import Outcome, Runner, RunRequest, RunResult
from evaluation.runners.collect import OutputTooLarge, collect_outputs, empty_folder
from evaluation.runners.docker_options import RunNames
from evaluation.runners.image_archive import ImageSpec, LayerFile, write_image_archive
from evaluation.runners.input_archive import input_chunks
from evaluation.runners.oom import OomWatch, oom_counter_file

logger = logging.getLogger(__name__)

TAIL_BYTES = 16 * 1024
CHUNK_BYTES = 1024 * 1024
KILL_GRACE_S = 30.0
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)
HOLDER_TAG = "podium/output-holder:latest"
MAX_JSON_BYTES = 1024 * 1024
_REFERENCE_ANNOTATIONS = ("org.opencontainers.image.ref.name", "io.containerd.image.name")
NAME_PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


class EngineError(Exception):
    """The engine failed or did something other than asked (operator-facing detail)."""


@dataclass(frozen=True, kw_only=True)
class DockerApiConfig:
    """Where the engine is and how this worker names things.

    ``docker_host``: the API URL (``unix:///run/podium/podman.sock``); ``None`` reads
    ``DOCKER_HOST`` like the docker CLI. ``name_prefix``: every container and volume of this
    runner is named ``<prefix><run_id>...`` (give each worker process its own, e.g.
    ``podium-gpu0-``). ``helper_binary``: a static busybox, the only file of the holder image.
    ``api_timeout_s``: the timeout of every API call except the wait for the algorithm.
    """

    docker_host: str | None = None
    name_prefix: str = "podium-"
    helper_binary: Path = Path("/bin/busybox")
    api_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        if not NAME_PREFIX_PATTERN.match(self.name_prefix):
            raise ValueError(f"name_prefix {self.name_prefix!r} must match {NAME_PREFIX_PATTERN}")
        object.__setattr__(self, "helper_binary", Path(self.helper_binary))


class DockerApiRunner(Runner):
    """Runs algorithm containers through the Docker Engine API (see the module docstring).

    Configure it with a :class:`DockerApiConfig` or with its fields as keyword arguments
    (what ``get_runner("docker_api", docker_host=..., name_prefix=...)`` passes).
    """

    def __init__(self, config: DockerApiConfig | None = None, **options: object):
        self.config = config or DockerApiConfig(**options)  # type: ignore[arg-type]
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            timeout = int(self.config.api_timeout_s)
            if self.config.docker_host:
                host = self.config.docker_host
                self._client = docker.DockerClient(base_url=host, timeout=timeout)
            else:
                self._client = docker.from_env(timeout=timeout)
        return self._client

    # --- images -------------------------------------------------------------------------------
    def load_image(self, archive_path: Path) -> str:
        """Inspect the archive (InvalidInput if it may not run), load it, and return its id.

        The id is the content address found by inspection, checked to be present afterwards,
        so a tag another upload also used can never make us return the wrong image.
        """
        image = inspect_archive(archive_path)
        for line in self.client.api.load_image(_untagged_chunks(archive_path)):
            if isinstance(line, dict) and line.get("error"):
                raise EngineError(f"loading the image failed: {line['error']}")
        try:
            self.client.images.get(image.image_id)
        except docker.errors.NotFound:
            raise EngineError(f"the engine did not load {image.image_id}") from None
        return image.image_id

    def has_image(self, image_id: str) -> bool:
        try:
            self.client.images.get(image_id)
        except docker.errors.NotFound:
            return False
        return True

    def remove_image(self, image_id: str) -> None:
        """Remove the image and its tags; no error if it is gone."""
        try:
            self.client.images.remove(image_id, force=True)
        except docker.errors.NotFound:
            pass

    def _image_user(self, image_id: str) -> str:
        """The ``UID:GID`` the image runs as, checked again here (:func:`check_user`): a run
        never starts as root or with the root group, whoever loaded the image."""
        config = self.client.images.get(image_id).attrs.get("Config") or {}
        return check_user(config.get("User") or "")

    def _holder_image_id(self) -> str:
        """The holder image: built from ``helper_binary`` (same bytes, same id), and loaded
        whenever the engine does not have it."""
        spec = ImageSpec(
            files={"/busybox": LayerFile(self.config.helper_binary.read_bytes(), 0o755)},
            user=docker_options.HOLDER_USER,
            env=(),
        )
        with tempfile.TemporaryDirectory(prefix="podium-holder-") as folder:
            archive = Path(folder) / "holder.tar"
            image_id = write_image_archive(spec, archive, tag=HOLDER_TAG)
            try:
                self.client.images.get(image_id)
            except docker.errors.NotFound:
                with open(archive, "rb") as data:
                    for _ in self.client.api.load_image(data):
                        pass
        return image_id

    # --- runs ---------------------------------------------------------------------------------
    def run(self, request: RunRequest) -> RunResult:
        """Run one algorithm container; see :meth:`Runner.run` and docs/runner.md."""
        _check_folders(request)
        names = RunNames.of(self.config.name_prefix, request.run_id)
        try:
            user = self._image_user(request.image_id)
            self._remove(names)
            return self._run(request, names, user)
        except (EngineError, tarfile.TarError, *ENGINE_ERRORS) as error:
            logger.exception("run %s: engine error", request.run_id)
            return RunResult(outcome=Outcome.ENGINE_ERROR, limits=request.limits, error=str(error))
        finally:
            self._remove(names)

    def _run(self, request: RunRequest, names: RunNames, user: str) -> RunResult:
        client = self.client
        client.volumes.create(**docker_options.output_volume_options(request, name=names.volume))
        client.volumes.create(
            **docker_options.input_volume_options(request, name=names.input_volume)
        )
        holder_options = docker_options.holder_options(
            request, names=names, image_id=self._holder_image_id()
        )
        holder = client.containers.create(**holder_options)
        holder.start()
        if not holder.put_archive("/input", input_chunks(request.input_dir)):
            raise EngineError("the engine did not take the test images into the input volume")
        container = client.containers.create(
            **docker_options.algorithm_options(request, names=names, user=user)
        )
        _check_gpu_applied(container, request.gpu_device)
        started = time.monotonic()
        container.start()
        with OomWatch(self._oom_counter_file(container)) as oom:
            exit_code, timed_out = _wait(container, request.limits.wall_time_s)
        duration = time.monotonic() - started
        container.reload()
        state = container.attrs.get("State") or {}
        tails = {
            "stdout_tail": _tail(container, stdout=True),
            "stderr_tail": _tail(container, stdout=False),
        }
        common = {"limits": request.limits, "exit_code": exit_code, "duration_s": duration}
        if timed_out:
            return RunResult(outcome=Outcome.TIME_LIMIT, **common, **tails)
        # Any OOM kill in the container counts, not only the entrypoint's: a child killed
        # for memory leaves a run that may exit 0 without its outputs.
        if state.get("OOMKilled") or exit_code == 137 or oom.kills:
            return RunResult(outcome=Outcome.MEMORY_LIMIT, **common, **tails)
        chunks, _ = holder.get_archive("/output/.")
        try:
            collected = collect_outputs(
                chunks,
                request.output_dir,
                max_bytes=request.limits.output_bytes,
                max_entries=request.limits.output_files,
                volume_pages=docker_options.output_volume_pages(request.limits),
            )
        except OutputTooLarge:
            return RunResult(outcome=Outcome.OUTPUT_TOO_LARGE, **common, **tails)
        for skipped in collected.skipped:
            logger.warning("run %s: output %s skipped", request.run_id, skipped)
        if exit_code != 0:
            empty_folder(request.output_dir)
            return RunResult(outcome=Outcome.EXIT_NONZERO, **common, **tails)
        return RunResult(outcome=Outcome.SUCCEEDED, outputs=collected.files, **common, **tails)

    def _oom_counter_file(self, container: Container) -> Path | None:
        """The container's OOM-kill counter on this host, if its cgroup is visible here."""
        state = self.client.api.inspect_container(container.id).get("State") or {}
        pid = state.get("Pid") or 0
        return oom_counter_file(pid, container.id) if pid > 0 else None

    # --- clean-up -----------------------------------------------------------------------------
    def _remove(self, names: RunNames) -> None:
        """Remove one run's containers, then its volumes; log (never raise) what fails."""
        for name in (names.container, names.holder):
            self._remove_container(name)
        for name in (names.volume, names.input_volume):
            self._remove_volume(name)

    def _remove_container(self, name: str) -> bool:
        try:
            self.client.api.remove_container(name, force=True, v=False)
        except docker.errors.NotFound:
            return False
        except ENGINE_ERRORS:
            logger.exception("could not remove container %s (remove_leftovers will)", name)
            return False
        return True

    def _remove_volume(self, name: str) -> bool:
        try:
            self.client.api.remove_volume(name, force=True)
        except docker.errors.NotFound:
            return False
        except ENGINE_ERRORS:
            logger.exception("could not remove volume %s (remove_leftovers will)", name)
            return False
        return True

    def stop(self, run_id: str) -> None:
        """Kill the run's algorithm container (a cancelled evaluation); ``run`` then returns."""
        try:
            self.client.api.kill(RunNames.of(self.config.name_prefix, run_id).container)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as error:
            logger.warning("run %s: could not be stopped: %s", run_id, error)

    def remove_leftovers(self, prefix: str | None = None, *,
                         keep: Collection[str] = ()) -> list[str]:
        """Remove every container and volume whose name starts with ``prefix`` (default: this
        runner's ``name_prefix``) and names none of the runs in ``keep``; return their names.
        Call it at a worker's start (``keep``: the runs in flight, which another worker of the
        prefix may be finishing in a warm shutdown), or from a reaper for a dead worker."""
        prefix = prefix or self.config.name_prefix

        def leftover(name: str) -> bool:
            return name.startswith(prefix) and not any(run in name for run in keep)

        removed = []
        for summary in self.client.api.containers(all=True, filters={"name": prefix}):
            for name in (n.lstrip("/") for n in summary.get("Names") or []):
                if leftover(name) and self._remove_container(name):
                    removed.append(name)
        volumes = self.client.api.volumes(filters={"name": prefix}).get("Volumes") or []
        for volume in volumes:
            if leftover(volume["Name"]) and self._remove_volume(volume["Name"]):
                removed.append(volume["Name"])
        return removed


def _untagged_chunks(path: Path) -> Iterator[bytes]:
    """The archive as an uncompressed tar stream with every tag removed.

    ``docker load`` applies the tags an archive names (``RepoTags`` in manifest.json, the
    legacy ``repositories`` file, reference annotations in an OCI ``index.json``). A
    participant's archive could name the platform's own images (``podium-gpu-worker:latest``)
    and take them over on the node. Images are addressed by id only, so tags are dropped.
    Uncompressed because podman's compat API (4.3) cannot read a gzipped archive.
    """
    with tarfile.open(path, mode="r|*") as archive:
        for member in archive:
            name = member.name.removeprefix("./")
            if name == "repositories":
                continue
            if name in ("manifest.json", "index.json") and member.isreg():
                stream = archive.extractfile(member)
                data = _without_tags(name, stream.read(MAX_JSON_BYTES + 1))
                member.size = len(data)
                yield member.tobuf(format=tarfile.PAX_FORMAT)
                yield data + _padding(len(data))
                continue
            yield member.tobuf(format=tarfile.PAX_FORMAT)
            if member.isreg():
                stream = archive.extractfile(member)
                while chunk := stream.read(CHUNK_BYTES):
                    yield chunk
                yield _padding(member.size)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


def _without_tags(name: str, data: bytes) -> bytes:
    if len(data) > MAX_JSON_BYTES:
        raise EngineError(f"the archive's {name} is too large")
    document = json.loads(data)
    if name == "manifest.json":
        for entry in document:
            entry["RepoTags"] = None
    else:
        for manifest in document.get("manifests") or []:
            annotations = manifest.get("annotations") or {}
            for key in _REFERENCE_ANNOTATIONS:
                annotations.pop(key, None)
    return json.dumps(document).encode()


def _padding(size: int) -> bytes:
    return b"\0" * (-size % tarfile.BLOCKSIZE)


def _check_folders(request: RunRequest) -> None:
    if not request.input_dir.is_dir():
        raise ValueError(f"input folder {request.input_dir} does not exist")
    if not request.output_dir.is_dir() or any(request.output_dir.iterdir()):
        raise ValueError(f"output folder {request.output_dir} must exist and be empty")


def _check_gpu_applied(container: Container, gpu_device: str | None) -> None:
    """Refuse to start a GPU run whose device request the engine dropped (podman's compat API
    accepts and ignores ``DeviceRequests``, podman issue #22645)."""
    if gpu_device is None:
        return
    applied = (container.attrs.get("HostConfig") or {}).get("DeviceRequests") or []
    if not any(gpu_device in (r.get("DeviceIDs") or []) for r in applied):
        raise EngineError(f"the engine did not keep the device request for GPU {gpu_device}")


def _wait(container: Container, wall_time_s: float) -> tuple[int | None, bool]:
    """Wait for the container; kill it past ``wall_time_s``. Returns (exit code, timed out)."""
    try:
        return container.wait(timeout=wall_time_s)["StatusCode"], False
    except requests.exceptions.RequestException:
        container.reload()
        if container.status not in ("running", "paused", "restarting"):
            return container.attrs["State"]["ExitCode"], False
    container.kill()
    status = container.wait(timeout=KILL_GRACE_S)
    return status["StatusCode"], True


def _tail(container: Container, *, stdout: bool) -> str:
    """The last TAIL_BYTES of one stream, decoded leniently (algorithms print anything)."""
    data = container.logs(stdout=stdout, stderr=not stdout)
    return data[-TAIL_BYTES:].decode("utf-8", errors="replace")
