"""What a participant sees of a submission: shared by the API and the pages.

Only the configured scores leave the server: never the organizer log, storage names, or
anything else derived from the hidden labels. Per-case values only where the phase shows them,
and scores rounded as the phase rounds them, except for its organizers.
"""

from .models import ACTIVE_STATES, CaseResult, Evaluation, State, Submission
from .results import public_scores


def submission_payload(submission: Submission, user, *, with_cases: bool = True) -> dict:
    phase = submission.phase
    latest = submission.current_evaluation()
    organizer = phase.challenge.is_organizer(user)
    payload = {
        "id": str(submission.id),
        "phase": str(phase.id),
        "created": submission.created.isoformat(),
        "file_name": submission.file_name,
        "description": submission.description,
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
    result = {
        "ground_truth_version": evaluation.ground_truth.version,
        "aggregate": public_scores(evaluation.aggregate, decimals),
    }
    if with_cases and evaluation.metric_config.get("kind") == "segmentation":
        metrics = evaluation.metric_config["metrics"]
        result["cases"] = [
            {"case": row.case, "label": row.label,
             **{m: public_scores(getattr(row, m), decimals) for m in metrics},
             "missing": row.missing}
            for row in CaseResult.objects.filter(evaluation=evaluation).order_by("case", "label")
        ]
    return result
