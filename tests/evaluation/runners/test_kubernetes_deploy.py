"""deploy/kubernetes/: valid objects, and a Role that grants the runner exactly the API calls
its recorded conversations make (plus the listing of remove_leftovers), nothing more."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

from tests.evaluation.runners.recordings.replay import RECORDINGS

ROOT = Path(__file__).resolve().parents[3]
DEFINITIONS = json.loads((ROOT / "tests/vendor/kubernetes/definitions.json").read_text())
DOCUMENTS = [doc for name in ("namespace.yaml", "rbac.yaml")
             for doc in yaml.safe_load_all((ROOT / "deploy/kubernetes" / name).read_text())]
VERBS = {"POST": "create", "DELETE": "delete"}


def needed_permission(method: str, path: str) -> tuple[str, str, str]:
    """(API group, resource, verb) that a request needs, as the API server authorizes it."""
    match = re.fullmatch(r"/(?:api/v1|apis/([^/]+)/v1)/namespaces/[^/]+/([^/]+)(?:/([^/]+))?"
                         r"(?:/([^/]+))?", path)
    group, resource, name, sub = match.groups()
    if sub:
        return group or "", f"{resource}/{sub}", "get"
    if name is None:
        return group or "", resource, "list" if method == "GET" else VERBS[method]
    return group or "", resource, "get" if method == "GET" else VERBS[method]


def test_every_object_is_valid_against_the_schema():
    assert [d["kind"] for d in DOCUMENTS] == ["Namespace", "ServiceAccount", "Role",
                                              "RoleBinding"]
    for document in DOCUMENTS:
        schema = {"$ref": f"#/definitions/V1{document['kind']}",
                  "definitions": DEFINITIONS["definitions"]}
        jsonschema.Draft7Validator(schema).validate(document)


def test_the_run_namespace_enforces_the_restricted_standard():
    labels = DOCUMENTS[0]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_role_grants_exactly_what_the_runner_uses():
    needed = {("batch", "jobs", "list"), ("networking.k8s.io", "networkpolicies", "list")}
    for recording in RECORDINGS.glob("*.json"):
        for exchange in json.loads(recording.read_text())["exchanges"]:
            request = exchange["request"]
            needed.add(needed_permission(request["method"], request["path"]))
    role = next(d for d in DOCUMENTS if d["kind"] == "Role")
    granted = {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"]}
    assert granted == needed
    binding = next(d for d in DOCUMENTS if d["kind"] == "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["metadata"]["namespace"] == role["metadata"]["namespace"] == "podium-runs"
