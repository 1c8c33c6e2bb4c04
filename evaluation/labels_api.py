"""Label names beside label values in the API's results: the aggregate and per-case rows key
labels by their ``dataset.json`` value (``"1"``, ``1``) as they always did; the API adds the
names the pages show, so that a client needs no second request to name them."""

from challenges.models import Task
from challenges.resources_api import label_list


def with_label_names(payload: dict, task: Task) -> dict:
    """``payload`` (a submission's or an evaluation's) whose ``results`` also name the labels:
    ``results.labels`` (``[{value, name}]``, background left out) and each case row's
    ``label_name``. Segmentation only: detection results are keyed by class name already."""
    results = payload.get("results")
    if results and task.kind == Task.SEGMENTATION:
        results["labels"] = label_list({value: name for value, name in task.labels.items()
                                        if int(value) != 0})
        for row in results.get("cases") or []:
            row["label_name"] = task.labels.get(str(row["label"]), "")
    return payload
