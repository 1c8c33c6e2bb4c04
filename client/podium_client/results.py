"""A submission's results as rows: labels by value and name, one column per metric with its
unit (the names of the phase's task, the metrics of the answer's ``results.metrics``)."""


def _label(key, labels: dict[str, str]) -> tuple[object, str]:
    """(value, name) of an aggregate key, which may be a label's value or its name."""
    key = str(key)
    if key in labels:
        return (int(key) if key.lstrip("-").isdigit() else key), labels[key]
    for value, name in labels.items():
        if name == key:
            return (int(value) if value.lstrip("-").isdigit() else value), name
    return key, key


def heading(metric: dict) -> str:
    """``HD95 (mm)``: the metric's label and unit, for tables and CSV headers."""
    return f"{metric['label']} ({metric['unit']})" if metric.get("unit") else metric["label"]


def rows(submission: dict, labels: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """(the metrics, one dict per row): the aggregate per label (``case`` None), then the
    per-case values where the phase shows them. A detection task has one aggregate row
    (label ``all``) and one row per class with its VOC AP under ``mAP``."""
    results = submission.get("results") or {}
    metrics = results.get("metrics") or []
    names = [m["name"] for m in metrics]
    aggregate = results.get("aggregate") or {}
    out = []
    if aggregate and all(isinstance(v, dict) for v in aggregate.values()):
        for key, values in aggregate.items():
            value, name = _label(key, labels)
            out.append({"case": None, "label": value, "label_name": name,
                        **{m: values.get(m) for m in names}})
    elif aggregate:
        out.append({"case": None, "label": "all", "label_name": "all",
                    **{m: aggregate.get(m) for m in names}})
        for cls, ap in sorted((aggregate.get("per_class") or {}).items()):
            out.append({"case": None, "label": cls, "label_name": cls,
                        **{m: (ap if m == "mAP" else None) for m in names}})
    for case in results.get("cases") or []:
        value, name = _label(case["label"], labels)
        out.append({"case": case["case"], "label": value, "label_name": name,
                    **{m: case.get(m) for m in names}, "missing": case.get("missing")})
    return metrics, out
