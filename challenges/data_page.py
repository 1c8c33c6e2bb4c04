"""What a task's data page says beside the downloads: how to name and shape a prediction for
the task's kind (docs/participants.md, "Downloading the test data"), and, for the phases that
accept DICOM SEG, the series each case's SEG must reference and where those series come from
(docs/dicom.md, "DICOM SEG predictions").

Only public things: the kind's file format, the phases' survival times, the series' UIDs of
``task.cases[i]["dicom"]`` (image metadata, never a label) and the ground truth's public
provenance (:func:`challenges.provenance.public`, without its manifest).
"""

from .models import Phase, Task
from .provenance import public

CURVE_PREFIX = "S@"  # the survival curve columns (evaluation/kinds/clinical_curves.py)


def _curve_column(t: float) -> str:
    return f"{CURVE_PREFIX}{float(t):g}"


def prediction_format(task: Task, phases: list[Phase]) -> dict:
    """The instruction of the data page for ``task``: ``kind`` (the task's), ``header`` (the
    CSV header of a clinical or detection file, else empty) and, for survival, ``curves``: the
    optional ``S@<t>`` columns of each phase that has survival times."""
    target = task.clinical.get("target", "")
    if task.kind == Task.DETECTION:
        return {"kind": task.kind, "header": "image_id,label,score,xmin,ymin,xmax,ymax"}
    if task.kind == Task.SURVIVAL:
        curves = [(phase.name, ",".join(_curve_column(t) for t in phase.survival_times))
                  for phase in phases if phase.survival_times]
        return {"kind": task.kind, "header": "case,risk", "alternative": f"case,{target}_risk",
                "curves": curves, "unit": task.clinical.get("time_unit", "")}
    if task.kind == Task.CLASSIFICATION:
        classes = list(task.clinical.get("classes") or [])
        if len(classes) == 2:
            return {"kind": task.kind, "header": "case,probability",
                    "alternative": f"case,{target}_probability",
                    "positive": task.clinical.get("positive_class", "")}
        return {"kind": task.kind,
                "header": "case," + ",".join(f"{name}_probability" for name in classes)}
    return {"kind": task.kind, "header": ""}


def dicom_seg(task: Task, phases: list[Phase]) -> dict | None:
    """For a task with a phase that accepts DICOM SEG: those phases (name, threshold), the
    label names a segment may carry, each case's Series Instance UID and Frame of Reference
    UID, and the public provenance of the ground truths those phases score against (where the
    source series can be fetched). None when no phase accepts SEG."""
    seg_phases = [phase for phase in phases if phase.accepts_dicom_seg]
    if not seg_phases:
        return None
    series = [{"case": case["name"],
               "series_instance_uid": case["dicom"].get("series_instance_uid", ""),
               "frame_of_reference_uid": case["dicom"].get("frame_of_reference_uid", "")}
              for case in task.cases if case.get("dicom")]
    sources, seen = [], set()
    for phase in seg_phases:
        truth = phase.active_ground_truth
        if truth is not None and truth.pk not in seen:
            seen.add(truth.pk)
            sources.append(public(truth))
    labels = [name for value, name in sorted(task.labels.items(), key=lambda kv: int(kv[0]))
              if int(value) != 0]
    return {"phases": [(phase.name, phase.seg_fractional_threshold) for phase in seg_phases],
            "labels": labels, "series": series, "sources": sources}
