"""The Kubernetes runner's conversation with the API server, replayed (recordings/).

The official client is pointed at a local server (recordings/replay.py) through a kubeconfig
file; the server answers each request from the recording and fails the test on any request
that differs from it (method, path, query, body). The object store is moto's S3 server in this
process: the runner really uploads the inputs and signs URLs, and where the recording says the
pod's helpers act, the test does what they would do with those URLs (download the inputs,
upload the outputs), so a URL that does not work fails the test.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import socket
import subprocess
import tarfile
import urllib.request
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from evaluation.runners import Outcome, kubernetes
from evaluation.runners.base import MIB
from evaluation.runners.collect import collect_outputs
from evaluation.runners.kubernetes import KubernetesRunner
from tests.evaluation.runners.recordings import compose
from tests.evaluation.runners.recordings.replay import Replay

PREDICTIONS = {"hippocampus_001.nii.gz": b"prediction one", "hippocampus_002.nii.gz": b"two"}
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def store_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def store(store_endpoint, monkeypatch):
    """An empty run bucket; the worker's credentials in the environment, as boto3 reads them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPODIUMTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "podium-test-secret")
    s3 = boto3.client("s3", endpoint_url=store_endpoint, region_name=REGION)
    s3.create_bucket(Bucket="podium-runs", CreateBucketConfiguration={"LocationConstraint": REGION})
    yield s3
    for item in s3.list_objects_v2(Bucket="podium-runs").get("Contents") or []:
        s3.delete_object(Bucket="podium-runs", Key=item["Key"])
    s3.delete_bucket(Bucket="podium-runs")


def kubeconfig(folder: Path, server: str) -> Path:
    path = folder / "kubeconfig"
    path.write_text(json.dumps({  # JSON is YAML
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "replay", "cluster": {"server": server}}],
        "users": [{"name": "worker", "user": {"token": "podium-worker-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "replay", "user": "worker"}}],
    }))
    return path


def helper_env(job: dict, container: str, variable: str) -> str:
    spec = job["spec"]["template"]["spec"]
    for entry in spec["initContainers"] + spec["containers"]:
        if entry["name"] == container:
            return next(e["value"] for e in entry["env"] if e["name"] == variable)
    raise AssertionError(f"no container {container}")


def tar_of(files: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name in links:
            info = tarfile.TarInfo(f"./{name}")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return buffer.getvalue()


class Cluster:
    """What the pod's helpers (and a cancelling heartbeat thread) do, through the real URLs."""

    def __init__(self, outputs: bytes):
        self.outputs = outputs
        self.fetched: dict[str, bytes] = {}
        self.runner: KubernetesRunner | None = None
        self.run_id = ""

    def fetch_inputs(self, replay: Replay) -> None:
        url = helper_env(replay.request_body(2), "fetch-inputs", "PODIUM_INPUT_URL")
        with urllib.request.urlopen(url) as answer:  # noqa: S310 (the test's own server)
            data = answer.read()
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            self.fetched = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}

    def upload_outputs(self, replay: Replay) -> None:
        url = helper_env(replay.request_body(2), "upload-outputs", "PODIUM_OUTPUT_URL")
        # As curl -T sends it (urllib would otherwise label the body as a form).
        put = urllib.request.Request(  # noqa: S310 (a signed URL of the test's own server)
            url, data=self.outputs, method="PUT",
            headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(put) as answer:  # noqa: S310 (the test's own server)
            assert answer.status == 200

    def cancel(self, replay: Replay) -> None:
        self.runner.stop(self.run_id)

    def actions(self) -> dict:
        return {"fetch_inputs": self.fetch_inputs, "upload_outputs": self.upload_outputs,
                "cancel": self.cancel}


def replay_run(scenario: str, tmp_path: Path, endpoint: str, *,
               outputs: bytes = tar_of(PREDICTIONS), limits=compose.LIMITS, **changes):
    cluster = Cluster(outputs)
    inputs = compose.write_inputs(tmp_path / "inputs")
    (tmp_path / "outputs").mkdir()
    with Replay(scenario, cluster.actions()) as replay:
        config = compose.config(endpoint, region=REGION,
                                kubeconfig=str(kubeconfig(tmp_path, replay.url)), **changes)
        runner = cluster.runner = KubernetesRunner(config)
        cluster.run_id = compose.SCENARIOS[scenario]
        result = runner.run(compose.request(cluster.run_id, inputs, tmp_path / "outputs",
                                            limits=limits))
    return result, replay, cluster


def assert_whole_conversation(replay: Replay) -> None:
    assert replay.mismatches == []
    assert replay.next == len(replay.exchanges), "the runner stopped before the recording ended"


def assert_store_empty(store) -> None:
    assert store.list_objects_v2(Bucket="podium-runs").get("KeyCount") == 0


def test_success_fetches_inputs_collects_outputs_and_cleans_up(tmp_path, store_endpoint, store):
    result, replay, cluster = replay_run("success", tmp_path, store_endpoint)
    assert_whole_conversation(replay)
    assert result.outcome == Outcome.SUCCEEDED and result.message == "" and result.error == ""
    assert cluster.fetched == compose.INPUT_FILES  # the signed GET served exactly the test images
    assert result.outputs == tuple(sorted(PREDICTIONS))
    assert {name: (tmp_path / "outputs" / name).read_bytes() for name in PREDICTIONS} \
        == PREDICTIONS
    assert result.exit_code == 0 and result.duration_s == 65.0
    assert result.stdout_tail == "reading 2 cases\nwrote 2 predictions\n"
    # The window was closed after the fetch and opened again only after the algorithm ended.
    window_calls = [r["method"] for r in replay.received
                    if r["path"].endswith("-storage") or (r["method"] == "POST" and r["body"][
                        "metadata"]["name"].endswith("-storage"))]
    assert window_calls == ["POST", "DELETE", "POST", "DELETE"]
    assert_store_empty(store)


def test_outputs_past_the_cap_are_output_too_large(tmp_path, store_endpoint, store):
    big = tar_of({"hippocampus_001.nii.gz": b"x" * (5 * MIB)})
    result, replay, _ = replay_run("success", tmp_path, store_endpoint, outputs=big)
    assert_whole_conversation(replay)
    assert result.outcome == Outcome.OUTPUT_TOO_LARGE
    assert result.message == "the outputs exceed the limit of 4 MiB or 20 files and folders"
    assert list((tmp_path / "outputs").iterdir()) == []


def test_links_in_the_outputs_are_skipped(tmp_path, store_endpoint, store):
    outputs = tar_of(PREDICTIONS, links=("hippocampus_003.nii.gz",))
    result, _, _ = replay_run("success", tmp_path, store_endpoint, outputs=outputs)
    assert result.outcome == Outcome.SUCCEEDED
    assert result.outputs == tuple(sorted(PREDICTIONS))
    assert not (tmp_path / "outputs" / "hippocampus_003.nii.gz").exists()


@pytest.mark.parametrize(("scenario", "outcome", "message", "tail"), [
    ("failure", Outcome.EXIT_NONZERO, "the algorithm exited with code 3", True),
    ("deadline", Outcome.TIME_LIMIT, "time limit of 120 s exceeded", False),
    ("oom", Outcome.MEMORY_LIMIT, "memory limit exceeded", True),
    ("image_pull", Outcome.ENGINE_ERROR,
     "the algorithm could not be run because of an internal error", False),
])
def test_failures_map_to_outcomes_and_clean_up(tmp_path, store_endpoint, store, scenario,
                                              outcome, message, tail):
    result, replay, _ = replay_run(scenario, tmp_path, store_endpoint)
    assert_whole_conversation(replay)
    assert result.outcome == outcome and result.message == message
    assert bool(result.stdout_tail) == tail
    assert list((tmp_path / "outputs").iterdir()) == []
    deleted = [r for r in replay.received if r["method"] == "DELETE"]
    assert deleted[-3]["path"].endswith(f"/jobs/podium-{compose.SCENARIOS[scenario]}")
    assert deleted[-3]["body"] == {"propagationPolicy": "Background"}
    assert_store_empty(store)


def test_the_wall_time_is_the_algorithms_own(tmp_path, store_endpoint, store):
    """Past ``wall_time_s`` of running the worker ends the run itself, well before the Job's
    deadline (which also covers the staging), and deletes the Job."""
    changes = dict(compose.WALL_TIME)
    result, replay, _ = replay_run("wall_time", tmp_path, store_endpoint,
                                   limits=changes.pop("limits"), **changes)
    assert_whole_conversation(replay)
    assert result.outcome == Outcome.TIME_LIMIT
    assert result.message == "time limit of 0.2 s exceeded"
    assert result.stdout_tail  # read from the running container before it was deleted
    assert replay.request_body(2)["spec"]["activeDeadlineSeconds"] == 1 + 300
    assert [r["method"] for r in replay.received][-3:] == ["DELETE"] * 3
    assert_store_empty(store)


def test_image_pull_error_keeps_the_detail_for_the_operator(tmp_path, store_endpoint, store):
    result, _, _ = replay_run("image_pull", tmp_path, store_endpoint)
    assert "ImagePullBackOff" in result.error and "Back-off pulling image" in result.error
    assert "ImagePullBackOff" not in result.message


def test_cancel_deletes_the_job_and_its_policies(tmp_path, store_endpoint, store):
    result, replay, _ = replay_run("cancel", tmp_path, store_endpoint)
    assert_whole_conversation(replay)
    assert result.outcome == Outcome.ENGINE_ERROR
    first_deletes = [r for r in replay.received if r["method"] == "DELETE"][1:4]  # after window
    assert [r["path"].rsplit("/", 2)[-2:] for r in first_deletes] == [
        ["jobs", "podium-eval-6-1"], ["networkpolicies", "podium-eval-6-1"],
        ["networkpolicies", "podium-eval-6-1-storage"]]
    assert all(r["body"] == {"propagationPolicy": "Background"} for r in first_deletes)
    assert_store_empty(store)


def test_a_request_other_than_the_recorded_one_is_caught(tmp_path, store_endpoint, store):
    """The replay is strict: a runner that sent another Job (here a longer staging time) gets
    500 from the server and reports an engine error, and the test sees the mismatch."""
    result, replay, _ = replay_run("success", tmp_path, store_endpoint, staging_s=301)
    assert result.outcome == Outcome.ENGINE_ERROR
    assert len(replay.mismatches) >= 1 and "request 2" in replay.mismatches[0]


# --- the helper containers' scripts, run here with busybox's sh and tar and curl -------------
@pytest.fixture
def helper_shell(tmp_path):
    """Runs a helper script as the pod would (busybox sh and tar, curl), with the pod's
    /input, /output and /staging mapped to folders of the test."""
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    for tool in ("sh", "tar", "sleep", "rm", "["):
        (bin_folder / tool).symlink_to(shutil.which("busybox"))
    (bin_folder / "curl").symlink_to(shutil.which("curl"))
    folders = {name: tmp_path / name for name in ("input", "output", "staging")}
    for folder in folders.values():
        folder.mkdir()

    def start(script: str, env: dict[str, str]) -> subprocess.Popen:
        script = re.sub(r"(?<![\w/.])/(input|output|staging)\b",
                        lambda match: str(folders[match[1]]), script)
        return subprocess.Popen([str(bin_folder / "sh"), "-c", script],
                                env={"PATH": str(bin_folder), **env})

    return start, folders


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_fetch_script_unpacks_the_signed_inputs(tmp_path, store_endpoint, store, helper_shell):
    start, folders = helper_shell
    runner = KubernetesRunner(compose.config(store_endpoint, region=REGION))
    inputs = compose.write_inputs(tmp_path / "test-images")
    runner._upload_inputs(inputs, "runs/x/input.tar")
    url = runner._sign("get_object", "runs/x/input.tar", 60)
    assert start(kubernetes.FETCH_SCRIPT, {"PODIUM_INPUT_URL": url}).wait(timeout=60) == 0
    assert {p.name: p.read_bytes() for p in folders["input"].iterdir()} == compose.INPUT_FILES
    assert list(folders["staging"].iterdir()) == []
    # An HTTP error fails the fetch (the pod then ends as an engine error), not an empty /input.
    # (moto does not check signatures, so a missing object stands for a refused URL here.)
    missing = runner._sign("get_object", "runs/x/missing.tar", 60)
    assert start(kubernetes.FETCH_SCRIPT, {"PODIUM_INPUT_URL": missing}).wait(timeout=60) != 0


def test_gate_waits_while_the_store_answers_and_ends_once_it_does_not(store_endpoint,
                                                                      helper_shell):
    start, _ = helper_shell
    waiting = start(kubernetes.GATE_SCRIPT, {"PODIUM_STORE_URL": f"{store_endpoint}/"})
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(timeout=3)
    finally:
        waiting.kill()
        waiting.wait()
    closed = start(kubernetes.GATE_SCRIPT, {"PODIUM_STORE_URL": f"http://127.0.0.1:{free_port()}/"})
    assert closed.wait(timeout=30) == 0


def test_upload_script_puts_the_outputs_to_the_signed_url(tmp_path, store_endpoint, store,
                                                          helper_shell):
    start, folders = helper_shell
    for name, data in PREDICTIONS.items():
        (folders["output"] / name).write_bytes(data)
    runner = KubernetesRunner(compose.config(store_endpoint, region=REGION))
    url = runner._sign("put_object", "runs/x/output.tar", 60)
    env = {"PODIUM_STORE_URL": f"{store_endpoint}/", "PODIUM_OUTPUT_URL": url}
    assert start(kubernetes.UPLOAD_SCRIPT, env).wait(timeout=60) == 0
    body = store.get_object(Bucket="podium-runs", Key="runs/x/output.tar")["Body"]
    (tmp_path / "collected").mkdir()
    collected = collect_outputs(body.iter_chunks(), tmp_path / "collected", max_bytes=MIB,
                                max_entries=10)
    assert collected.files == tuple(sorted(PREDICTIONS))
