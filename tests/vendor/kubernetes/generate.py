"""Write definitions.json: the JSON Schema of Job and NetworkPolicy, and of the Namespace,
ServiceAccount, Role and RoleBinding of deploy/kubernetes/ (and every type they reference) in the
API's wire format, from the model classes of the installed official ``kubernetes`` client.

Those classes are generated from the Kubernetes OpenAPI spec of the client's release, and carry
for each type its wire names (``attribute_map``), their types (``openapi_types``) and, in each
setter, whether the field is required. Every object gets ``additionalProperties: false``, so a
misspelt or misplaced field fails validation. Quantities and int-or-string values are strings
or integers, as the client types them. The client does not carry enums, so ENUMS adds those of
the fields the runner sets, as the Kubernetes OpenAPI v3 spec lists them ("Possible enum
values", api/openapi-spec/v3 of kubernetes/kubernetes).
Run: ``.venv/bin/python tests/vendor/kubernetes/generate.py``.
"""

import inspect
import json
import re
from pathlib import Path

import kubernetes
import kubernetes.client as models

ROOTS = ("V1Job", "V1NetworkPolicy", "V1Namespace", "V1ServiceAccount", "V1Role",
         "V1RoleBinding")
PRIMITIVES = {"str": {"type": "string"}, "int": {"type": "integer"},
              "bool": {"type": "boolean"}, "float": {"type": "number"},
              "datetime": {"type": "string"}, "date": {"type": "string"},
              "object": {"type": ["string", "integer", "number", "boolean", "object", "array"]}}


# (type, wire property) → allowed values, from the Kubernetes OpenAPI v3 spec.
ENUMS = {
    ("V1PodSpec", "restartPolicy"): ["Always", "Never", "OnFailure"],
    ("V1Container", "imagePullPolicy"): ["Always", "IfNotPresent", "Never"],
    ("V1SeccompProfile", "type"): ["Localhost", "RuntimeDefault", "Unconfined"],
    ("V1Toleration", "operator"): ["Equal", "Exists"],
    ("V1Toleration", "effect"): ["NoExecute", "NoSchedule", "PreferNoSchedule"],
    ("V1NetworkPolicyPort", "protocol"): ["SCTP", "TCP", "UDP"],
}
POLICY_TYPES = ["Egress", "Ingress"]


def schema_of(type_name: str, pending: list[str]) -> dict:
    if type_name in PRIMITIVES:
        return PRIMITIVES[type_name]
    if match := re.fullmatch(r"list\[(.+)\]", type_name):
        return {"type": "array", "items": schema_of(match[1], pending)}
    if match := re.fullmatch(r"dict\(str, (.+)\)", type_name):
        return {"type": "object", "additionalProperties": schema_of(match[1], pending)}
    pending.append(type_name)
    return {"$ref": f"#/definitions/{type_name}"}


def definition(name: str, pending: list[str]) -> dict:
    model = getattr(models, name)
    properties, required = {}, []
    for attribute, type_name in model.openapi_types.items():
        wire = model.attribute_map[attribute]
        properties[wire] = schema_of(type_name, pending)
        if (name, wire) in ENUMS:
            properties[wire] = {"type": "string", "enum": ENUMS[name, wire]}
        if (name, wire) == ("V1NetworkPolicySpec", "policyTypes"):
            properties[wire]["items"] = {"type": "string", "enum": POLICY_TYPES}
        setter = inspect.getsource(getattr(model, attribute).fset)
        if "must not be `None`" in setter:
            required.append(wire)
    return {"type": "object", "properties": properties, "required": sorted(required),
            "additionalProperties": False}


def main() -> None:
    pending, definitions = list(ROOTS), {}
    while pending:
        name = pending.pop()
        if name not in definitions:
            definitions[name] = definition(name, pending)
    document = {
        "source": f"kubernetes Python client {kubernetes.__version__} (model classes), "
                  "generated from the Kubernetes OpenAPI spec of its release",
        "definitions": dict(sorted(definitions.items())),
    }
    target = Path(__file__).with_name("definitions.json")
    target.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
    print(f"{len(definitions)} definitions written to {target}")


if __name__ == "__main__":
    main()
