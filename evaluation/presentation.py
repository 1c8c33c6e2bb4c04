"""What a participant sees of a submission: shared by the API and the pages.

Only the configured scores leave the server: never the organizer log, storage names, or
anything else derived from the hidden labels. Per-case values only where the phase shows them,
and scores rounded as the phase rounds them, except for its organizers.
"""

from django.db.models import BooleanField, ExpressionWrapper, Prefetch, Q, QuerySet

from challenges.visibility import is_organizer, organized_challenges
from scorers.metrics import SEGMENTATION, metric, metric_label, metric_names

from .models import ACTIVE_STATES, CaseResult, Evaluation, State, Submission
from .results import public_scores
from .selection import counts, entrant_submissions


def with_payload_data(submissions: QuerySet, user) -> QuerySet:
    """``submissions`` with everything :func:`submission_payload` reads for ``user`` fetched in
    bulk: a list of them costs the same few queries whatever its length (no query per row)."""
    # Phases, tasks and ground truths are few and wide (JSON): fetched once each, not per row.
    evaluations = (Evaluation.objects.defer("organizer_log", "shards_taken", "shards_finished")
                   .prefetch_related("ground_truth").order_by("-created"))
    return submissions.select_related("creator__profile").prefetch_related(
        "phase__task__challenge",
        Prefetch("evaluations", queryset=evaluations, to_attr="evaluations_newest_first"),
        *entrant_submissions(),
    ).annotate(viewer_organizes=ExpressionWrapper(
        Q(phase__task__challenge__in=organized_challenges(user)), output_field=BooleanField()))


def submission_payload(submission: Submission, user, *, with_cases: bool = True) -> dict:
    """The submission as ``user`` may see it (the module doc); from :func:`with_payload_data`'s
    rows without a query, unless ``with_cases`` adds the per-case values."""
    phase = submission.phase
    evaluations = getattr(submission, "evaluations_newest_first", None)
    latest = submission.current_evaluation() if evaluations is None else next(
        iter(evaluations), None)
    organizer = getattr(submission, "viewer_organizes", None)
    if organizer is None:
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
        # Which of the entrant's submissions the leaderboard ranks; under "best" that compares
        # scores, so it is withheld (null) where the scores are.
        "counts": (counts(submission) if phase.leaderboard_selection != phase.BEST
                   or phase.show_scores or organizer else None),
        "selected": submission.selected_at is not None,
    }
    if submission.kind == "algorithm" and (phase.show_algorithm_logs or organizer):
        payload["logs"] = latest.logs if latest else ""
    if phase.show_scores or organizer:
        scored = latest_result(submission) if evaluations is None else next(
            (e for e in evaluations if e.state == State.SUCCEEDED), None)
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
    headings = [metric_label(m["name"]) for m in metrics]
    aggregate = results["aggregate"] or {}

    def shown(value, entry: dict) -> str:
        return "—" if not isinstance(value, int | float) else f"{value:.{entry['decimals']}f}"

    per_time = []
    if aggregate and all(isinstance(value, dict) for value in aggregate.values()):
        rows = [[labels.get(label, label), *(shown(values.get(m["name"]), m) for m in metrics)]
                for label, values in aggregate.items()]  # segmentation: per label
        per_class, row_heading = [], "Label"
    elif "per_class" in aggregate:  # detection: the set, then VOC AP per class
        rows = [["all", *(shown(aggregate.get(m["name"]), m) for m in metrics)]]
        per_class = [[name, shown(value, {"decimals": 4})]
                     for name, value in sorted((aggregate.get("per_class") or {}).items())]
        row_heading = "Classes"
    else:  # classification, survival: one row of set metrics, nothing per label
        rows = [[shown(aggregate.get(m["name"]), m) for m in metrics]]
        per_class, row_heading = [], None
        td_auc = {"decimals": metric("td_auc").decimals}
        per_time = [[time, shown(value, td_auc)]
                    for time, value in (aggregate.get("td_auc_per_time") or {}).items()]
    cases = [
        [row["case"], labels.get(str(row["label"]), row["label"]),
         *(shown(row.get(m["name"]), m) for m in metrics), "yes" if row["missing"] else ""]
        for row in results.get("cases") or []
    ]
    return {"headings": headings, "aggregate": rows, "per_class": per_class, "cases": cases,
            "row_heading": row_heading, "per_time": per_time}
