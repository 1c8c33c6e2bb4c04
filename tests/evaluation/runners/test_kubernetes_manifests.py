"""The Kubernetes runner's manifests: valid against the API's schema, and the sandbox of
docs/runner.md field by field.

The schema is tests/vendor/kubernetes/definitions.json (Job, NetworkPolicy and every type they
reference, from the official client's model classes; see its README): every object is closed
(``additionalProperties: false``), so a misspelt field fails, not only a wrong type.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from evaluation.runners import Outcome, get_runner
from evaluation.runners.base import MIB
from evaluation.runners.kubernetes import (
    ALGORITHM,
    KubernetesRunner,
    Observed,
    RunNames,
    _verdict,
    job_manifest,
    network_policy,
    storage_window,
)
from tests.evaluation.runners.recordings import compose

ROOT = Path(__file__).resolve().parents[3]
DEFINITIONS = json.loads((ROOT / "tests/vendor/kubernetes/definitions.json").read_text())
STORE = "https://store.internal:9000/some/path"
URLS = {"input": "https://store.internal:9000/in?sig=1", "output": "https://store.internal:9000/o"}


def validate(document: dict, kind: str) -> None:
    schema = {"$ref": f"#/definitions/{kind}", "definitions": DEFINITIONS["definitions"]}
    jsonschema.Draft7Validator(schema).validate(document)


def render(tmp_path: Path, *, gpu: str | None = None, **config_changes) -> dict:
    inputs = compose.write_inputs(tmp_path / "inputs")
    request = compose.request("eval-9-2", inputs, tmp_path, gpu_device=gpu)
    config = compose.config(STORE, **config_changes)
    return job_manifest(request, RunNames.of(config.name_prefix, "eval-9-2"), config,
                        image="registry.test/podium-algorithms:sha256-" + "ab" * 32,
                        input_bytes=4096, urls=URLS)


def all_containers(job: dict) -> list[dict]:
    spec = job["spec"]["template"]["spec"]
    return spec["initContainers"] + spec["containers"]


def keys_anywhere(document) -> set[str]:
    if isinstance(document, dict):
        return set(document) | set().union(*(keys_anywhere(v) for v in document.values()))
    if isinstance(document, list):
        return set().union(set(), *(keys_anywhere(v) for v in document))
    return set()


@pytest.mark.parametrize("gpu", [None, "0"])
def test_job_is_valid_against_the_schema(tmp_path, gpu):
    validate(render(tmp_path, gpu=gpu), "V1Job")


def test_policies_are_valid_against_the_schema():
    config = compose.config(STORE)
    names = RunNames.of(config.name_prefix, "eval-9-2")
    validate(network_policy(names, "eval-9-2", config.namespace), "V1NetworkPolicy")
    validate(storage_window(names, "eval-9-2", config), "V1NetworkPolicy")


@pytest.mark.parametrize(("path", "value"), [
    (("spec", "template", "spec", "containers", 0, "securityContext", "readOnlyRootFileSystem"),
     True),  # misspelt
    (("spec", "activeDeadlineSeconds"), "600"),  # wrong type
    (("spec", "template", "spec", "restartPolicy"), "never"),  # not in the enum
    (("spec", "template", "spec", "volumes", 0, "emptyDir", "sizeLimit"), 4096),  # a quantity
])
def test_the_schema_catches_mistakes(tmp_path, path, value):
    job = render(tmp_path)
    target = job
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validate(job, "V1Job")


def test_no_host_path_and_only_empty_dirs(tmp_path):
    job = render(tmp_path, gpu="0")
    assert "hostPath" not in keys_anywhere(job)
    spec = job["spec"]["template"]["spec"]
    assert all(set(volume) == {"name", "emptyDir"} for volume in spec["volumes"])
    assert not spec["hostNetwork"] and not spec["hostPID"] and not spec["hostIPC"]


def test_every_container_is_restricted(tmp_path):
    job = render(tmp_path)
    spec = job["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False and spec["shareProcessNamespace"] is False
    assert spec["securityContext"] == {"runAsNonRoot": True,
                                       "seccompProfile": {"type": "RuntimeDefault"}}
    for container in all_containers(job):
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["privileged"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    # The image's own numeric user runs the algorithm; the helpers run as nobody.
    assert "runAsUser" not in spec["containers"][0]["securityContext"]
    assert {c["securityContext"]["runAsUser"] for c in all_containers(job)[:2]} == {65534}


def test_the_algorithm_has_no_urls_and_sees_inputs_read_only(tmp_path):
    job = render(tmp_path)
    algorithm = job["spec"]["template"]["spec"]["containers"][0]
    assert algorithm["name"] == ALGORITHM
    assert algorithm["env"] == [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"}]
    assert "store.internal" not in json.dumps(algorithm)
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in algorithm["volumeMounts"]}
    assert mounts == {"/input": True, "/output": False, "/tmp": False, "/dev/shm": False}
    helpers = {c["name"]: {e["name"]: e["value"] for e in c.get("env", [])}
               for c in all_containers(job) if c["name"] != ALGORITHM}
    assert helpers["fetch-inputs"] == {"PODIUM_INPUT_URL": URLS["input"]}
    assert helpers["wait-network-closed"] == {"PODIUM_STORE_URL": "https://store.internal:9000/"}
    assert helpers["upload-outputs"]["PODIUM_OUTPUT_URL"] == URLS["output"]


def test_limits_deadline_ttl_and_labels_come_from_the_phase(tmp_path):
    job = render(tmp_path)
    assert job["metadata"]["name"] == "podium-eval-9-2"
    assert job["metadata"]["labels"] == {"podium.run": "eval-9-2"}
    assert job["spec"]["template"]["metadata"]["labels"] == {"podium.run": "eval-9-2"}
    assert job["spec"]["activeDeadlineSeconds"] == 120 + 300
    assert job["spec"]["ttlSecondsAfterFinished"] == 600
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    resources = job["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["limits"] == resources["requests"] == {"cpu": "1500m",
                                                            "memory": str(512 * MIB)}
    volumes = {v["name"]: v["emptyDir"] for v in job["spec"]["template"]["spec"]["volumes"]}
    assert volumes["output"] == {"medium": "Memory", "sizeLimit": str(4 * MIB)}
    assert volumes["tmp"] == {"medium": "Memory", "sizeLimit": str(64 * MIB)}
    assert volumes["shm"] == {"medium": "Memory", "sizeLimit": str(16 * MIB)}


def test_a_gpu_run_asks_for_one_gpu_and_tolerates_the_gpu_taint(tmp_path):
    job = render(tmp_path, gpu="0")
    spec = job["spec"]["template"]["spec"]
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "NVIDIA_VISIBLE_DEVICES" not in json.dumps(spec["containers"][0]["env"])
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists",
                                    "effect": "NoSchedule"}]
    cpu_spec = render(tmp_path / "cpu")["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in json.dumps(cpu_spec) and "tolerations" not in cpu_spec


def test_the_policies_deny_everything_but_the_window(tmp_path):
    config = compose.config(STORE)
    names = RunNames.of(config.name_prefix, "eval-9-2")
    deny = network_policy(names, "eval-9-2", config.namespace)["spec"]
    assert deny == {"podSelector": {"matchLabels": {"podium.run": "eval-9-2"}},
                    "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}
    window = storage_window(names, "eval-9-2", config)
    assert window["metadata"]["name"] == "podium-eval-9-2-storage"
    assert window["spec"]["policyTypes"] == ["Egress"]  # never opens ingress
    store_rule = window["spec"]["egress"][0]
    assert store_rule == {"to": [{"ipBlock": {"cidr": "127.0.0.1/32"}}],
                          "ports": [{"protocol": "TCP", "port": 9000}]}


def test_an_image_pull_secret_is_named_when_configured(tmp_path):
    spec = render(tmp_path, image_pull_secret="podium-registry")["spec"]["template"]["spec"]
    assert spec["imagePullSecrets"] == [{"name": "podium-registry"}]
    validate(render(tmp_path / "again", image_pull_secret="x"), "V1Job")


@pytest.mark.parametrize(("changes", "message"), [
    ({"bucket": ""}, "needs bucket"),
    ({"storage_cidr": ""}, "needs storage_cidr"),
    ({"helper_image": ""}, "needs helper_image"),
    ({"name_prefix": "Podium_"}, "name_prefix"),
])
def test_bad_configuration_is_refused_with_a_message(changes, message):
    with pytest.raises(ValueError, match=message):
        compose.config(STORE, **changes)


def test_a_store_endpoint_must_be_a_url():
    with pytest.raises(ValueError, match="must be an http"):
        compose.config("store.internal:9000")


def test_run_names_must_make_valid_kubernetes_names():
    with pytest.raises(ValueError, match="longer than 55"):
        RunNames.of("podium-", "e" * 50)
    with pytest.raises(ValueError, match="label value"):
        RunNames.of("podium-", "eval-1-")


def test_registered_as_a_backend():
    config = compose.config(STORE)
    runner = get_runner("kubernetes", **{f: getattr(config, f) for f in (
        "namespace", "image_repository", "helper_image", "bucket", "storage_endpoint",
        "storage_cidr")})
    assert isinstance(runner, KubernetesRunner) and runner.config.namespace == "podium-test"


def _pod(reason: str | None = None, message: str = "", **states) -> dict:
    return {"metadata": {"name": "p"}, "status": {
        **({"reason": reason, "message": message} if reason else {}),
        "containerStatuses": [{"name": n, "state": s} for n, s in states.items()]}}


@pytest.mark.parametrize(("job_status", "pod", "started", "expected"), [
    ({}, _pod("Evicted", 'Usage of EmptyDir volume "output" exceeds the limit "4Mi".'), True,
     Outcome.OUTPUT_TOO_LARGE),
    ({}, _pod("Evicted", 'Usage of EmptyDir volume "tmp" exceeds the limit "64Mi".'), True,
     Outcome.MEMORY_LIMIT),
    ({"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]},
     None, False, Outcome.ENGINE_ERROR),  # never scheduled: not the participant's time
    ({"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]},
     None, True, Outcome.TIME_LIMIT),
    ({}, _pod(algorithm={"terminated": {"exitCode": 137, "reason": "Error"}}), True,
     Outcome.MEMORY_LIMIT),
    ({}, _pod(algorithm={"waiting": {"reason": "CreateContainerConfigError",
                                     "message": "image has non-numeric user"}}), False,
     Outcome.ENGINE_ERROR),
    ({"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]},
     _pod(algorithm={"terminated": {"exitCode": 0}}), True, Outcome.ENGINE_ERROR),  # upload
    ({}, _pod(algorithm={"running": {}}), True, None),
])
def test_verdicts(job_status, pod, started, expected):
    verdict = _verdict(Observed(job={"status": job_status}, pod=pod), started=started)
    assert (verdict[0] if verdict else None) == expected
