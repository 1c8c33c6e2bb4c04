"""Write the recordings the Kubernetes runner tests replay, and hold the runs they describe.

No live API server was available where these were made, so each conversation is composed from
the Kubernetes API's documented request paths and object shapes (batch/v1 Job status
conditions, core/v1 pod container states), not captured from a cluster. Each one is the exact
sequence of requests the runner must make for one run, with the answers that drive it down one
path. Re-run after a deliberate change to the runner's requests:
``.venv/bin/python -m tests.evaluation.runners.recordings.compose``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

from evaluation.runners.base import MIB, ResourceLimits, RunRequest
from evaluation.runners.input_archive import input_chunks
from evaluation.runners.kubernetes import KubernetesConfig, RunNames, job_manifest, storage_window
from evaluation.runners.kubernetes import network_policy as deny_all
from tests.evaluation.runners.recordings.replay import RECORDINGS, masked

NAMESPACE = "podium-test"
IMAGE_ID = "sha256:" + "ab" * 32
HELPER_IMAGE = "registry.test/podium-helper@sha256:" + "cd" * 32
INPUT_FILES = {"hippocampus_001.nii.gz": b"\x1f\x8b first case", "hippocampus_002.nii.gz": b"2nd"}
LIMITS = ResourceLimits(memory_bytes=512 * MIB, cpus=1.5, wall_time_s=120, output_bytes=4 * MIB,
                        output_files=20, tmp_bytes=64 * MIB, shm_bytes=16 * MIB)
SCENARIOS = {"success": "eval-1-1", "failure": "eval-2-1", "deadline": "eval-3-1",
             "oom": "eval-4-1", "image_pull": "eval-5-1", "cancel": "eval-6-1",
             "wall_time": "eval-7-1"}
# The wall-time run: a limit shorter than one poll interval, so the second poll that sees the
# algorithm running finds it over its time.
WALL_TIME = {"limits": replace(LIMITS, wall_time_s=0.2), "poll_interval_s": 0.25}


def config(storage_endpoint: str, **changes) -> KubernetesConfig:
    """The runner configuration of the tests (the store's endpoint is the test's)."""
    return KubernetesConfig(**{
        "namespace": NAMESPACE, "image_repository": "registry.test/podium-algorithms",
        "helper_image": HELPER_IMAGE, "bucket": "podium-runs",
        "storage_endpoint": storage_endpoint, "storage_cidr": "127.0.0.1/32",
        "storage_port": 9000, "staging_s": 300, "ttl_after_finished_s": 600,
        "poll_interval_s": 0.0, **changes})


def write_inputs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in INPUT_FILES.items():
        (folder / name).write_bytes(data)
    return folder


def request(run_id: str, inputs: Path, outputs: Path, gpu_device: str | None = None,
            limits: ResourceLimits = LIMITS) -> RunRequest:
    return RunRequest(run_id=run_id, image_id=IMAGE_ID, input_dir=inputs, output_dir=outputs,
                      limits=limits, gpu_device=gpu_device)


# --- the API's objects, as the server answers them ---------------------------------------------
def _state(kind: str, **fields) -> dict:
    return {kind: {"startedAt": "2026-12-07T05:00:00Z", **fields}} if kind == "running" else {
        kind: fields}


def _done(code: int, reason: str = "Completed") -> dict:
    return _state("terminated", exitCode=code, reason=reason,
                  startedAt="2026-12-07T05:00:10Z", finishedAt="2026-12-07T05:01:15Z")


WAITING = _state("waiting", reason="PodInitializing")


def pod_list(run_id: str, fetch: dict, gate: dict, algorithm: dict, upload: dict,
             phase: str = "Running") -> dict:
    init = {"fetch-inputs": fetch, "wait-network-closed": gate}
    main = {"algorithm": algorithm, "upload-outputs": upload}
    return {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [{
        "metadata": {"name": f"podium-{run_id}-x7k2p", "labels": {"podium.run": run_id}},
        "status": {
            "phase": phase,
            "initContainerStatuses": [{"name": n, "state": s} for n, s in init.items()],
            "containerStatuses": [{"name": n, "state": s} for n, s in main.items()],
        }}]}


def job(run_id: str, condition: tuple[str, str] | None = None) -> dict:
    status: dict = {"active": 1, "startTime": "2026-12-07T05:00:00Z"}
    if condition:
        kind, reason = condition
        status = {"conditions": [{"type": kind, "status": "True", "reason": reason}],
                  "succeeded" if kind == "Complete" else "failed": 1}
    return {"kind": "Job", "apiVersion": "batch/v1",
            "metadata": {"name": f"podium-{run_id}", "namespace": NAMESPACE}, "status": status}


def status(code: int, reason: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
            "code": code}


# --- the conversations -------------------------------------------------------------------------
def _x(method: str, path: str, answer, code: int = 200, query=None, body=None, cluster=None):
    exchange = {"request": {"method": method, "path": path},
                "response": {"status": code, "body": answer}}
    if query:
        exchange["request"]["query"] = query
    if body is not None:
        exchange["request"]["body"] = body
    if cluster:
        exchange["cluster"] = cluster
    return exchange


def conversation(scenario: str, inputs: Path) -> list[dict]:
    run_id = SCENARIOS[scenario]
    cfg = config("http://store.invalid")
    limits = WALL_TIME["limits"] if scenario == "wall_time" else LIMITS
    run = request(run_id, inputs, inputs, limits=limits)
    names = RunNames.of(cfg.name_prefix, run_id)
    input_bytes = len(b"".join(input_chunks(inputs)))
    manifest = job_manifest(run, names, cfg, image=f"{cfg.image_repository}:sha256-{'ab' * 32}",
                            input_bytes=input_bytes, urls={"input": "", "output": ""})
    policies = f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/networkpolicies"
    jobs = f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs"
    pods = f"/api/v1/namespaces/{NAMESPACE}/pods"
    window = storage_window(names, run_id, cfg)
    background = {"propagationPolicy": "Background"}
    by_label = {"labelSelector": f"podium.run={run_id}"}

    def poll(job_answer, pods_answer, job_code=200, cluster=None):
        return [_x("GET", f"{jobs}/{names.job}/status", job_answer, job_code),
                _x("GET", pods, pods_answer, query=by_label, cluster=cluster)]

    def deletes(window_code: int = 200, job_code: int = 200, policy_code: int = 200):
        return [_x("DELETE", f"{jobs}/{names.job}", status(job_code, "x") if job_code != 200
                   else {"kind": "Status", "status": "Success"}, job_code, body=background),
                *[_x("DELETE", f"{policies}/{name}", status(code, "NotFound") if code != 200
                     else {"kind": "Status", "status": "Success"}, code, body=background)
                  for name, code in ((names.policy, policy_code), (names.window, window_code))]]

    log = _x("GET", f"{pods}/podium-{run_id}-x7k2p/log",
             "reading 2 cases\nwrote 2 predictions\n",
             query={"container": "algorithm", "limitBytes": "65536", "tailLines": "2000"})
    start = [
        _x("POST", policies, deny_all(names, run_id, NAMESPACE), 201,
           body=deny_all(names, run_id, NAMESPACE)),
        _x("POST", policies, masked(window), 201, body=masked(window)),
        _x("POST", jobs, job(run_id), 201, body=masked(manifest)),
        *poll(job(run_id), pod_list(run_id, _state("running"), WAITING, WAITING, WAITING,
                                    "Pending")),
        *poll(job(run_id), pod_list(run_id, _done(0), _state("running"), WAITING, WAITING,
                                    "Pending"), cluster="fetch_inputs"),
        _x("DELETE", f"{policies}/{names.window}", {"kind": "Status", "status": "Success"},
           body=None),
    ]
    running = pod_list(run_id, _done(0), _done(0), _state("running"), _state("running"))
    if scenario == "success":
        ended = pod_list(run_id, _done(0), _done(0), _done(0), _state("running"))
        finished = pod_list(run_id, _done(0), _done(0), _done(0), _done(0), "Succeeded")
        return [*start, *poll(job(run_id), running), *poll(job(run_id), ended),
                _x("POST", policies, masked(window), 201, body=masked(window)),
                *poll(job(run_id, ("Complete", "CompletionsReached")), finished,
                      cluster="upload_outputs"),
                log, *deletes()]
    if scenario == "failure":
        ended = pod_list(run_id, _done(0), _done(0), _done(3, "Error"), _state("running"))
        return [*start, *poll(job(run_id, ("Failed", "BackoffLimitExceeded")), ended),
                log, *deletes(window_code=404)]
    if scenario == "deadline":
        gone = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}
        return [*start, *poll(job(run_id), running),
                *poll(job(run_id, ("Failed", "DeadlineExceeded")), gone),
                *deletes(window_code=404)]
    if scenario == "oom":
        ended = pod_list(run_id, _done(0), _done(0), _done(137, "OOMKilled"), _state("running"))
        return [*start, *poll(job(run_id), ended), log, *deletes(window_code=404)]
    if scenario == "image_pull":
        stuck = pod_list(run_id, _done(0), _done(0), _state(
            "waiting", reason="ImagePullBackOff", message="Back-off pulling image"),
            _state("running"))
        return [*start, *poll(job(run_id), stuck), *deletes(window_code=404)]
    if scenario == "cancel":
        # The evaluation is cancelled while the algorithm runs: stop() deletes the Job and the
        # policies (from the heartbeat thread); the next poll finds the Job gone.
        return [*start, *poll(job(run_id), running, cluster="cancel"),
                *deletes(window_code=404),
                _x("GET", f"{jobs}/{names.job}/status", status(404, "NotFound"), 404),
                *deletes(window_code=404, job_code=404, policy_code=404)]
    if scenario == "wall_time":
        return [*start, *poll(job(run_id), running), *poll(job(run_id), running), log,
                *deletes(window_code=404)]
    raise ValueError(f"unknown scenario {scenario!r}")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        inputs = write_inputs(Path(folder) / "inputs")
        for scenario in SCENARIOS:
            document = {"scenario": scenario, "composed_by": "compose.py (see its docstring)",
                        "exchanges": conversation(scenario, inputs)}
            path = RECORDINGS / f"{scenario}.json"
            path.write_text(json.dumps(document, indent=1) + "\n")
            print(f"{path.name}: {len(document['exchanges'])} exchanges")


if __name__ == "__main__":
    main()
