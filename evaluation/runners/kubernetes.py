"""The ``kubernetes`` runner: one Kubernetes Job per algorithm run (docs/kubernetes.md).

A cluster pulls images from a registry and shares no folder with the worker, so inputs and
outputs go through object storage, and the pod never mounts a host path. One run:

1. upload the test images as ``runs/<job>/input.tar`` and sign two short-lived URLs: a GET for
   that object and a PUT for ``runs/<job>/output.tar``;
2. create a deny-all NetworkPolicy for the run's pod (no ingress, no egress) and a second,
   *storage window* policy that lets the pod reach only the object store (and DNS);
3. create the Job. Its init containers (the platform's helper image, never the algorithm's)
   download and unpack the inputs into an ``emptyDir`` at ``/input``, then wait until the
   store is unreachable; the runner deletes the window as soon as the download has finished,
   so the algorithm container starts with no network at all. It also gets no credentials:
   the signed URLs are in the helpers' environment only, no service-account token is mounted,
   and containers of a pod do not see each other's processes;
4. once the algorithm container has exited 0, the runner opens the window again; the uploader
   container (waiting for exactly that) tars ``/output`` and PUTs it to the signed URL. The
   runner downloads the archive and extracts it under the same caps as the Docker backend
   (:func:`evaluation.runners.collect.collect_outputs`);
5. delete the Job (``propagationPolicy: Background``), both policies and the stored objects,
   whatever happened.

Outcomes come from the Job's conditions and the pod's container states (see
:func:`_verdict`). Images: :meth:`KubernetesRunner.load_image` pushes the inspected archive to
the platform's private registry with skopeo, under a tag made of the image id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import botocore.config
import botocore.exceptions
import urllib3.exceptions
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from evaluation.algorithm_images import inspect_archive
from evaluation.runners.base import MIB, Outcome, Runner, RunRequest, RunResult
from evaluation.runners.collect import OutputTooLarge, collect_outputs
from evaluation.runners.input_archive import input_chunks

logger = logging.getLogger(__name__)

RUN_LABEL = "podium.run"
ALGORITHM = "algorithm"
FETCH = "fetch-inputs"
GATE = "wait-network-closed"
UPLOAD = "upload-outputs"
HELPER_UID = 65534
TAIL_BYTES = 16 * 1024
LOG_LIMIT_BYTES = 64 * 1024
HELPER_RESOURCES = {"cpu": "250m", "memory": str(128 * MIB)}
IMAGE_ERRORS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
                "CreateContainerConfigError", "CreateContainerError"}
NAME_PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
LABEL_VALUE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
MAX_NAME = 63 - len("-storage")
ENGINE_ERRORS = (ApiException, urllib3.exceptions.HTTPError, botocore.exceptions.BotoCoreError,
                 botocore.exceptions.ClientError, subprocess.SubprocessError, OSError,
                 tarfile.TarError)


class EngineError(Exception):
    """The cluster, the registry or the store failed (operator-facing detail)."""


@dataclass(frozen=True, kw_only=True)
class KubernetesConfig:
    """Where the cluster, the registry and the store are (settings ``PODIUM_K8S_*``).

    ``kubeconfig``: a kubeconfig file; ``None`` uses the worker pod's own service account.
    ``image_repository``: the private registry repository the cluster pulls algorithm images
    from (``registry.internal/podium-algorithms``); ``image_pull_secret`` names its pull
    secret in ``namespace``. ``helper_image``: the fetch/gate/upload image (needs ``sh``,
    ``tar`` and ``curl``; pin it by digest). ``bucket``/``storage_endpoint``/``region``: the
    S3 bucket for run inputs and outputs, through an endpoint that both the worker and the pods
    resolve; ``storage_cidr``/``storage_port``: the store's addresses, the only egress the
    storage window opens. ``staging_s``: time allowed for download and upload, added to the
    wall time in ``activeDeadlineSeconds``.
    """

    namespace: str = "podium-runs"
    name_prefix: str = "podium-"
    kubeconfig: str | None = None
    image_repository: str = ""
    image_pull_secret: str = ""
    helper_image: str = ""
    bucket: str = ""
    storage_endpoint: str = ""
    region: str | None = None
    storage_cidr: str = ""
    storage_port: int = 443
    staging_s: int = 600
    ttl_after_finished_s: int = 3600
    poll_interval_s: float = 2.0

    def __post_init__(self) -> None:
        if not NAME_PREFIX_PATTERN.match(self.name_prefix):
            raise ValueError(f"name_prefix {self.name_prefix!r} must match {NAME_PREFIX_PATTERN}")
        for name in ("image_repository", "helper_image", "bucket", "storage_endpoint",
                     "storage_cidr"):
            if not getattr(self, name):
                raise ValueError(f"the kubernetes runner needs {name} (PODIUM_K8S_*)")
        if urlsplit(self.storage_endpoint).scheme not in ("http", "https"):
            raise ValueError(f"storage_endpoint {self.storage_endpoint!r} must be an http(s) URL")


@dataclass(frozen=True)
class RunNames:
    """The run's Job and policy names, and its object keys."""

    job: str
    policy: str
    window: str
    input_key: str
    output_key: str

    @classmethod
    def of(cls, prefix: str, run_id: str) -> RunNames:
        if not LABEL_VALUE.fullmatch(run_id):
            raise ValueError(f"run_id {run_id!r} must end with a letter or digit (a label value)")
        job = f"{prefix}{run_id}"
        if len(job) > MAX_NAME:
            raise ValueError(f"the job name {job!r} is longer than {MAX_NAME} characters")
        return cls(job=job, policy=job, window=f"{job}-storage",
                   input_key=f"runs/{job}/input.tar", output_key=f"runs/{job}/output.tar")


# --- manifests (plain dicts in the API's wire format; tests validate them against the schema) --
def network_policy(names: RunNames, run_id: str, namespace: str) -> dict:
    """Deny all: selects the run's pod, allows no ingress and no egress."""
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": names.policy, "namespace": namespace, "labels": {RUN_LABEL: run_id}},
        "spec": {"podSelector": {"matchLabels": {RUN_LABEL: run_id}},
                 "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []},
    }


def storage_window(names: RunNames, run_id: str, config: KubernetesConfig) -> dict:
    """Egress to the object store and to the cluster's DNS only, added to the deny-all while
    the helpers download or upload (policies are a union: deleting this one closes it)."""
    dns = [{"protocol": protocol, "port": 53} for protocol in ("UDP", "TCP")]
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": names.window, "namespace": config.namespace,
                     "labels": {RUN_LABEL: run_id}},
        "spec": {
            "podSelector": {"matchLabels": {RUN_LABEL: run_id}},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"ipBlock": {"cidr": config.storage_cidr}}],
                 "ports": [{"protocol": "TCP", "port": config.storage_port}]},
                {"to": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": "kube-system"}}}], "ports": dns},
            ],
        },
    }


def _restricted(uid: int | None) -> dict:
    context = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
               "privileged": False, "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
               "seccompProfile": {"type": "RuntimeDefault"}}
    if uid is not None:
        context |= {"runAsUser": uid, "runAsGroup": uid}
    return context


def _helper(name: str, script: str, env: dict[str, str], mounts: list[dict],
            image: str) -> dict:
    return {
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", script],
        "env": [{"name": key, "value": value} for key, value in env.items()],
        "resources": {"limits": HELPER_RESOURCES, "requests": HELPER_RESOURCES},
        "securityContext": _restricted(HELPER_UID), "volumeMounts": mounts,
    }


# Probes succeed on any HTTP answer (curl exits 0) and fail on no connection; the gate needs
# three failures in a row, so one lost packet does not start the algorithm with the window open.
FETCH_SCRIPT = ('curl -fsS --retry 3 -o /staging/input.tar "$PODIUM_INPUT_URL" && '
                'tar -x -o -f /staging/input.tar -C /input && rm /staging/input.tar')
GATE_SCRIPT = ('n=0; while [ "$n" -lt 3 ]; do if curl -s -o /dev/null -m 3 "$PODIUM_STORE_URL"; '
               'then n=0; sleep 1; else n=$((n+1)); fi; done')
UPLOAD_SCRIPT = ('until curl -s -o /dev/null -m 3 "$PODIUM_STORE_URL"; do sleep 2; done; '
                 'tar -c -f /staging/output.tar -C /output . && '
                 'curl -fsS --retry 3 -T /staging/output.tar "$PODIUM_OUTPUT_URL"')


def job_manifest(request: RunRequest, names: RunNames, config: KubernetesConfig, *,
                 image: str, input_bytes: int, urls: dict[str, str]) -> dict:
    """The Job of one run: the sandbox of docs/runner.md in Kubernetes terms."""
    limits = request.limits
    store_url = _origin(config.storage_endpoint)
    resources = {"cpu": f"{math.ceil(limits.cpus * 1000)}m", "memory": str(limits.memory_bytes)}
    if request.gpu_device is not None:
        resources["nvidia.com/gpu"] = "1"
    # The tar of /output holds the files plus one 512-byte header (two with a long name) per
    # entry; the staging volume holds that, or the input archive before it is unpacked.
    output_tar = limits.output_bytes + 1024 * (limits.output_files + 2) + MIB
    staging = max(input_bytes, output_tar)
    env = [] if request.gpu_device is not None else [
        # CUDA images set NVIDIA_VISIBLE_DEVICES=all; on a node whose default runtime is
        # nvidia that alone would expose every GPU to a CPU run.
        {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"}]
    algorithm = {
        "name": ALGORITHM, "image": image, "imagePullPolicy": "IfNotPresent", "env": env,
        "resources": {"limits": resources, "requests": dict(resources)},
        "securityContext": _restricted(None),
        "volumeMounts": [
            {"name": "input", "mountPath": "/input", "readOnly": True},
            {"name": "output", "mountPath": "/output"},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 (the run's own sized tmpfs)
            {"name": "shm", "mountPath": "/dev/shm"},  # noqa: S108 (the run's own)
        ],
    }
    pod_spec = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "hostNetwork": False, "hostPID": False, "hostIPC": False,
        "shareProcessNamespace": False,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [
            _helper(FETCH, FETCH_SCRIPT, {"PODIUM_INPUT_URL": urls["input"]},
                    [{"name": "input", "mountPath": "/input"},
                     {"name": "staging", "mountPath": "/staging"}], config.helper_image),
            _helper(GATE, GATE_SCRIPT, {"PODIUM_STORE_URL": store_url}, [], config.helper_image),
        ],
        "containers": [
            algorithm,
            _helper(UPLOAD, UPLOAD_SCRIPT,
                    {"PODIUM_STORE_URL": store_url, "PODIUM_OUTPUT_URL": urls["output"]},
                    [{"name": "output", "mountPath": "/output", "readOnly": True},
                     {"name": "staging", "mountPath": "/staging"}], config.helper_image),
        ],
        "volumes": [
            {"name": "input", "emptyDir": {"sizeLimit": str(input_bytes)}},
            {"name": "staging", "emptyDir": {"sizeLimit": str(staging)}},
            {"name": "output", "emptyDir": {"medium": "Memory",
                                            "sizeLimit": str(limits.output_bytes)}},
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": str(limits.tmp_bytes)}},
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": str(limits.shm_bytes)}},
        ],
    }
    if config.image_pull_secret:
        pod_spec["imagePullSecrets"] = [{"name": config.image_pull_secret}]
    if request.gpu_device is not None:
        pod_spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists",
                                    "effect": "NoSchedule"}]
    labels = {RUN_LABEL: request.run_id}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": names.job, "namespace": config.namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": math.ceil(limits.wall_time_s) + config.staging_s,
            "ttlSecondsAfterFinished": config.ttl_after_finished_s,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


# --- reading the cluster's state ---------------------------------------------------------------
@dataclass(frozen=True)
class Observed:
    """What one poll saw (the raw JSON of the Job and of its pod, if any)."""

    job: dict
    pod: dict | None

    def condition(self, kind: str) -> dict | None:
        for condition in (self.job.get("status") or {}).get("conditions") or []:
            if condition.get("type") == kind and condition.get("status") == "True":
                return condition
        return None

    def container(self, name: str) -> dict:
        status = (self.pod or {}).get("status") or {}
        for entry in (status.get("initContainerStatuses") or []) + (
                status.get("containerStatuses") or []):
            if entry.get("name") == name:
                return entry.get("state") or {}
        return {}


def _verdict(seen: Observed, *, started: bool) -> tuple[Outcome, str] | None:
    """The run's outcome if it is decided (with the internal detail), else None.

    ``started``: whether any poll so far saw the algorithm running or ended (past the deadline
    the Job controller deletes the pod, so the last poll may not show it). Deadline before
    anything else: the pod is killed then, whatever it was doing. An eviction for the output
    volume's ``sizeLimit`` is ``output_too_large``; for ``/tmp`` or ``/dev/shm`` (RAM, counted
    against the memory like on Docker) ``memory_limit``.
    """
    algorithm = seen.container(ALGORITHM)
    failed = seen.condition("Failed")
    if failed and failed.get("reason") == "DeadlineExceeded":
        if started:
            return Outcome.TIME_LIMIT, "deadline exceeded"
        return Outcome.ENGINE_ERROR, "the deadline passed before the algorithm started"
    status = (seen.pod or {}).get("status") or {}
    if status.get("reason") == "Evicted":
        message = status.get("message") or ""
        outcome = Outcome.OUTPUT_TOO_LARGE if '"output"' in message else Outcome.MEMORY_LIMIT
        return outcome, message
    for name in (FETCH, GATE, ALGORITHM, UPLOAD):
        waiting = seen.container(name).get("waiting") or {}
        if waiting.get("reason") in IMAGE_ERRORS:
            return Outcome.ENGINE_ERROR, f"{name}: {waiting['reason']}: {waiting.get('message')}"
    fetch = seen.container(FETCH).get("terminated")
    if fetch and fetch.get("exitCode") != 0:
        return Outcome.ENGINE_ERROR, f"fetching the inputs failed: {fetch}"
    ended = algorithm.get("terminated")
    if ended and (ended.get("reason") == "OOMKilled" or ended.get("exitCode") == 137):
        return Outcome.MEMORY_LIMIT, "OOMKilled"
    if ended and ended.get("exitCode") != 0:
        return Outcome.EXIT_NONZERO, ""
    if failed:
        return Outcome.ENGINE_ERROR, f"the job failed: {failed.get('reason')}"
    if seen.condition("Complete"):
        return Outcome.SUCCEEDED, ""
    return None


class KubernetesRunner(Runner):
    """Runs algorithm containers as Kubernetes Jobs (see the module docstring).

    Configure it with a :class:`KubernetesConfig` or with its fields as keyword arguments
    (what ``get_runner("kubernetes", **settings.PODIUM_K8S_OPTIONS)`` passes).
    """

    def __init__(self, config: KubernetesConfig | None = None, **options: object):
        self.config = config or KubernetesConfig(**options)  # type: ignore[arg-type]
        self._api: k8s.ApiClient | None = None
        self._s3 = None

    @property
    def api(self) -> k8s.ApiClient:
        if self._api is None:
            configuration = k8s.Configuration()
            if self.config.kubeconfig:
                k8s_config.load_kube_config(self.config.kubeconfig,
                                            client_configuration=configuration)
            else:
                k8s_config.load_incluster_config(client_configuration=configuration)
            self._api = k8s.ApiClient(configuration)
        return self._api

    @property
    def s3(self):
        if self._s3 is None:
            # Signature v4: URLs that expire within 7 days, bound to the method and the key.
            self._s3 = boto3.client("s3", endpoint_url=self.config.storage_endpoint,
                                    region_name=self.config.region,
                                    config=botocore.config.Config(signature_version="s3v4"))
        return self._s3

    # --- images (skopeo and the private registry) ---------------------------------------------
    def _reference(self, image_id: str) -> str:
        digest = image_id.removeprefix("sha256:")
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError(f"image id {image_id!r} is not a sha256 digest")
        return f"{self.config.image_repository}:sha256-{digest}"

    def load_image(self, archive_path: Path) -> str:
        """Inspect the archive (InvalidInput if it may not run, e.g. root), push it to the
        registry under its id's tag, and check the registry now holds that config."""
        image = inspect_archive(archive_path)
        _skopeo("copy", "--quiet", f"docker-archive:{archive_path}",
                f"docker://{self._reference(image.image_id)}")
        if not self.has_image(image.image_id):
            raise EngineError(f"the registry does not hold {image.image_id} after the push")
        return image.image_id

    def has_image(self, image_id: str) -> bool:
        """Whether the registry's tag holds a config whose digest is ``image_id``."""
        try:
            config = _skopeo("inspect", "--raw", "--config",
                             f"docker://{self._reference(image_id)}")
        except EngineError:
            return False
        return f"sha256:{hashlib.sha256(config).hexdigest()}" == image_id

    def remove_image(self, image_id: str) -> None:
        try:
            _skopeo("delete", f"docker://{self._reference(image_id)}")
        except EngineError as error:
            logger.info("image %s not deleted from the registry: %s", image_id, error)

    # --- runs ---------------------------------------------------------------------------------
    def run(self, request: RunRequest) -> RunResult:
        """Run one algorithm Job; see :meth:`Runner.run` and docs/kubernetes.md."""
        if not request.input_dir.is_dir():
            raise ValueError(f"input folder {request.input_dir} does not exist")
        if not request.output_dir.is_dir() or any(request.output_dir.iterdir()):
            raise ValueError(f"output folder {request.output_dir} must exist and be empty")
        names = RunNames.of(self.config.name_prefix, request.run_id)
        image = self._reference(request.image_id)
        try:
            return self._run(request, names, image)
        except (EngineError, *ENGINE_ERRORS) as error:
            logger.exception("run %s: cluster error", request.run_id)
            return RunResult(outcome=Outcome.ENGINE_ERROR, limits=request.limits, error=str(error))
        finally:
            self._remove(names)

    def _run(self, request: RunRequest, names: RunNames, image: str) -> RunResult:
        config = self.config
        input_bytes = self._upload_inputs(request.input_dir, names.input_key)
        lifetime = math.ceil(request.limits.wall_time_s) + 2 * config.staging_s
        urls = {"input": self._sign("get_object", names.input_key, config.staging_s),
                "output": self._sign("put_object", names.output_key, lifetime)}
        networking = k8s.NetworkingV1Api(self.api)
        networking.create_namespaced_network_policy(
            config.namespace, network_policy(names, request.run_id, config.namespace))
        networking.create_namespaced_network_policy(
            config.namespace, storage_window(names, request.run_id, config))
        k8s.BatchV1Api(self.api).create_namespaced_job(
            config.namespace, job_manifest(request, names, config, image=image,
                                           input_bytes=input_bytes, urls=urls))
        outcome, detail, seen = self._watch(request, names)
        terminated = seen.container(ALGORITHM).get("terminated") or {}
        common = {"limits": request.limits, "exit_code": terminated.get("exitCode"),
                  "duration_s": _duration(terminated), "stdout_tail": self._log_tail(seen),
                  "error": detail if outcome == Outcome.ENGINE_ERROR else ""}
        if outcome != Outcome.SUCCEEDED:
            return RunResult(outcome=outcome, **common)
        body = self.s3.get_object(Bucket=config.bucket, Key=names.output_key)["Body"]
        try:
            collected = collect_outputs(body.iter_chunks(1024 * 1024), request.output_dir,
                                        max_bytes=request.limits.output_bytes,
                                        max_entries=request.limits.output_files)
        except OutputTooLarge:
            return RunResult(outcome=Outcome.OUTPUT_TOO_LARGE, **common)
        for skipped in collected.skipped:
            logger.warning("run %s: output %s skipped", request.run_id, skipped)
        return RunResult(outcome=Outcome.SUCCEEDED, outputs=collected.files, **common)

    def _watch(self, request: RunRequest, names: RunNames) -> tuple[Outcome, str, Observed]:
        """Poll the Job and its pod until the outcome is decided, closing the storage window
        once the inputs are in and opening it again once the algorithm has exited 0."""
        config = self.config
        networking = k8s.NetworkingV1Api(self.api)
        window_open, algorithm_done = True, False
        running_since: float | None = None
        # A backstop beyond activeDeadlineSeconds, should the Job controller never report.
        give_up = time.monotonic() + math.ceil(request.limits.wall_time_s) + 2 * config.staging_s
        while True:
            seen = self._observe(names, request.run_id)
            if running_since is None and {"running", "terminated"} & seen.container(
                    ALGORITHM).keys():
                running_since = time.monotonic()
            verdict = _verdict(seen, started=running_since is not None)
            if verdict is not None:
                return (*verdict, seen)
            # The wall time is the algorithm's own, measured here from when it was first seen
            # running; activeDeadlineSeconds (which also covers the staging) is the backstop.
            if running_since is not None and (
                    time.monotonic() - running_since > request.limits.wall_time_s):
                return Outcome.TIME_LIMIT, "wall time exceeded", seen
            if window_open and (seen.container(FETCH).get("terminated") or {}).get(
                    "exitCode") == 0:
                networking.delete_namespaced_network_policy(names.window, config.namespace)
                window_open = False
            ended = seen.container(ALGORITHM).get("terminated")
            if ended and not algorithm_done:
                networking.create_namespaced_network_policy(
                    config.namespace, storage_window(names, request.run_id, config))
                algorithm_done = True
            if time.monotonic() > give_up:
                return Outcome.ENGINE_ERROR, "the job did not finish in time", seen
            time.sleep(config.poll_interval_s)

    def _observe(self, names: RunNames, run_id: str) -> Observed:
        batch, core = k8s.BatchV1Api(self.api), k8s.CoreV1Api(self.api)
        job = _json(batch.read_namespaced_job_status(
            names.job, self.config.namespace, _preload_content=False))
        pods = _json(core.list_namespaced_pod(
            self.config.namespace, label_selector=f"{RUN_LABEL}={run_id}",
            _preload_content=False)).get("items") or []
        return Observed(job=job, pod=pods[0] if pods else None)

    def _log_tail(self, seen: Observed) -> str:
        """The algorithm's log (stdout and stderr, merged by the kubelet): the last TAIL_BYTES
        of at most LOG_LIMIT_BYTES read; empty when the pod is gone or the algorithm never ran."""
        if seen.pod is None or not {"running", "terminated"} & seen.container(ALGORITHM).keys():
            return ""
        try:
            data = k8s.CoreV1Api(self.api).read_namespaced_pod_log(
                seen.pod["metadata"]["name"], self.config.namespace, container=ALGORITHM,
                tail_lines=2000, limit_bytes=LOG_LIMIT_BYTES, _preload_content=False).data
        except ApiException as error:
            logger.info("log of %s not read: %s", seen.pod["metadata"]["name"], error.reason)
            return ""
        return data[-TAIL_BYTES:].decode("utf-8", errors="replace")

    def _upload_inputs(self, folder: Path, key: str) -> int:
        with tempfile.TemporaryFile() as archive:
            for chunk in input_chunks(folder):
                archive.write(chunk)
            size = archive.tell()
            archive.seek(0)
            self.s3.upload_fileobj(archive, self.config.bucket, key)
        return size

    def _sign(self, method: str, key: str, seconds: int) -> str:
        return self.s3.generate_presigned_url(
            method, Params={"Bucket": self.config.bucket, "Key": key}, ExpiresIn=seconds)

    # --- clean-up -----------------------------------------------------------------------------
    def stop(self, run_id: str) -> None:
        """Cancel a run in flight: delete its Job and policies; ``run`` then returns."""
        self._remove(RunNames.of(self.config.name_prefix, run_id), objects=False)

    def _remove(self, names: RunNames, *, objects: bool = True) -> list[str]:
        """Delete the run's Job (its pod with it), its policies and, with ``objects``, its
        stored archives; log (never raise) what fails, return what was deleted."""
        namespace, removed = self.config.namespace, []
        body = k8s.V1DeleteOptions(propagation_policy="Background")
        calls = [(k8s.BatchV1Api(self.api).delete_namespaced_job, names.job)] + [
            (k8s.NetworkingV1Api(self.api).delete_namespaced_network_policy, name)
            for name in (names.policy, names.window)]
        for delete, name in calls:
            try:
                delete(name, namespace, body=body)
                removed.append(name)
            except ApiException as error:
                if error.status != 404:
                    logger.error("could not delete %s (remove_leftovers will): %s", name, error)
            except urllib3.exceptions.HTTPError:
                logger.exception("could not delete %s (remove_leftovers will)", name)
        if objects:
            for key in (names.input_key, names.output_key):
                try:
                    self.s3.delete_object(Bucket=self.config.bucket, Key=key)
                except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                    logger.exception("could not delete s3://%s/%s", self.config.bucket, key)
        return removed

    def remove_leftovers(self, prefix: str | None = None, *,
                         keep: Collection[str] = ()) -> list[str]:
        """Delete every Job and NetworkPolicy of the namespace that carries the run label,
        whose name starts with ``prefix`` (default: this runner's) and that belongs to none of
        the runs in ``keep``; return their names."""
        prefix = prefix or self.config.name_prefix
        batch = k8s.BatchV1Api(self.api)
        networking = k8s.NetworkingV1Api(self.api)
        removed = []
        for job in batch.list_namespaced_job(self.config.namespace,
                                             label_selector=RUN_LABEL).items:
            run_id = job.metadata.labels[RUN_LABEL]
            if job.metadata.name.startswith(prefix) and run_id not in keep:
                removed += self._remove(RunNames.of(prefix, run_id))
        for policy in networking.list_namespaced_network_policy(
                self.config.namespace, label_selector=RUN_LABEL).items:
            name = policy.metadata.name
            if (name.startswith(prefix) and name not in removed
                    and not any(run in name for run in keep)):
                networking.delete_namespaced_network_policy(name, self.config.namespace)
                removed.append(name)
        return removed


def _json(response) -> dict:
    return json.loads(response.data)


def _duration(terminated: dict) -> float:
    try:
        started = datetime.fromisoformat(terminated["startedAt"])
        finished = datetime.fromisoformat(terminated["finishedAt"])
    except (KeyError, TypeError, ValueError):
        return 0.0
    return (finished - started).total_seconds()


def _skopeo(*arguments: str) -> bytes:
    """Run skopeo (the registry client; credentials from its auth file); its stdout."""
    try:
        done = subprocess.run(["skopeo", *arguments], capture_output=True, timeout=3600,
                              check=False)
    except (OSError, subprocess.SubprocessError) as error:
        raise EngineError(f"skopeo {arguments[0]} could not run: {error}") from error
    if done.returncode != 0:
        raise EngineError(f"skopeo {arguments[0]} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout
