"""What a participant sees of a submission: shared by the API and the pages.

Only the configured scores leave the server: never the organizer log, storage names, or
anything else derived from the hidden labels. Per-case values only where the phase shows them,
and scores rounded as the phase rounds them, except for its organizers.
"""

from challenges.visibility import is_organizer
from scorers.metrics import SEGMENTATION, metric, metric_names

from .models import ACTIVE_STATES, CaseResult, Evaluation, State, Submission
from .results import public_scores


def submission_payload(submission: Submission, user, *, with_cases: bool = True) -> dict:
    phase = submission.phase
    latest = submission.current_evaluation()
    organizer = is_organizer(user, phase.challenge)
    payload = {
        "id": str(submission.id),
        "phase": str(phase.id),
        "created": submission.created.isoformat(),
        "file_name": submission.file_name,
        "description": submission.description,
        "state": latest.state if latest else State.QUEUED,
        # Deprecated alias of "state" (docs/api.md): removed in the next release.
        "status": latest.state if latest else State.QUEUED,
        # Clients and pages ask this rather than keep their own list of unfinished states.
        "active": latest.state in ACTIVE_STATES if latest else True,
        "message": latest.participant_message if latest else "",
        "progress": {"done": latest.cases_done, "total": latest.cases_total} if latest else None,
    }
    if submission.kind == "algorithm" and (phase.show_algorithm_logs or organizer):
        payload["logs"] = latest.logs if latest else ""
    if phase.show_scores or organizer:
        scored = latest_result(submission)
        cases = with_cases and (phase.show_case_results or organizer)
        decimals = None if organizer else phase.public_score_decimals
        payload["results"] = (results_payload(scored, with_cases=cases, decimals=decimals)
                              if scored else None)
    return payload


def latest_result(submission: Submission) -> Evaluation | None:
    """The newest succeeded evaluation (results stay visible while a re-evaluation runs)."""
    return (
        submission.evaluations.filter(state=State.SUCCEEDED)
        .select_related("ground_truth")
        .order_by("-created")
        .first()
    )


def results_payload(evaluation: Evaluation, *, with_cases: bool, decimals: int | None) -> dict:
    """The evaluation's aggregate (and, ``with_cases``, its per-case values), rounded to
    ``decimals`` places unless that is None."""
    config = evaluation.metric_config
    names = config.get("metrics") or metric_names(config.get("kind", SEGMENTATION))
    result = {
        "ground_truth_version": evaluation.ground_truth.version,
        "metrics": [metric_payload(name) for name in names],
        "aggregate": public_scores(evaluation.aggregate, decimals),
    }
    if with_cases and config.get("kind") == "segmentation":
        result["cases"] = [
            {"case": row.case, "label": row.label,
             **{m: public_scores(row.values.get(m), decimals) for m in names},
             "missing": row.missing}
            for row in CaseResult.objects.filter(evaluation=evaluation).order_by("case", "label")
        ]
    return result


def metric_payload(name: str) -> dict:
    """What a client needs to show a metric: its label, unit and direction (the registry)."""
    entry = metric(name)
    return {"name": entry.name, "label": entry.label, "unit": entry.unit,
            "larger_better": entry.larger_better, "decimals": entry.decimals}


def results_tables(results: dict | None, labels: dict) -> dict | None:
    """The results of a payload as tables for the page: the aggregate (one row per label, or
    one row for a detection task plus VOC AP per class) and the per-case values, with the
    metric registry's labels, units and decimals. ``labels``: the task's label names."""
    if not results:
        return None
    metrics = results["metrics"]
    headings = [m["label"] + (f" ({m['unit']})" if m["unit"] else "") for m in metrics]
    aggregate = results["aggregate"] or {}

    def shown(value, entry: dict) -> str:
        return "—" if not isinstance(value, int | float) else f"{value:.{entry['decimals']}f}"

    if all(isinstance(value, dict) for value in aggregate.values()):  # segmentation: per label
        rows = [[labels.get(label, label), *(shown(values.get(m["name"]), m) for m in metrics)]
                for label, values in aggregate.items()]
        per_class = []
    else:
        rows = [["all", *(shown(aggregate.get(m["name"]), m) for m in metrics)]]
        per_class = [[name, shown(value, {"decimals": 4})]
                     for name, value in sorted((aggregate.get("per_class") or {}).items())]
    cases = [
        [row["case"], labels.get(str(row["label"]), row["label"]),
         *(shown(row.get(m["name"]), m) for m in metrics), "yes" if row["missing"] else ""]
        for row in results.get("cases") or []
    ]
    return {"headings": headings, "aggregate": rows, "per_class": per_class, "cases": cases}
