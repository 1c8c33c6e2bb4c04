"""Pages: a participant's submission page per phase, a team's page and a submission's details."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from challenges import deid_gate
from challenges.models import Participation, Phase, Task, Team
from challenges.organizer_api import audit_if_organizer
from challenges.visibility import challenge_by_key, is_organizer, visible_phase
from core.errors import InvalidInput, PodiumError
from scorers.metrics import metric

from .api import visible_submissions
from .kinds.clinical_curves import columns_text as curve_text
from .kinds.clinical_curves import upload_rule
from .models import State, Submission
from .presentation import results_tables, submission_payload, with_payload_data
from .results import primary_score
from .selection import choose, chosen_by_user, may_choose
from .services.submission import cancel, own_submissions, quota, submit


@login_required
def phase_submit(request, phase_id):
    """The upload form; the phase's dates, the quota left and which submission the leaderboard
    ranks; and the submissions of the participant's team (or their own, without a team).

    A browser with JavaScript posts the form with XMLHttpRequest (to show upload progress) and
    gets JSON back; without JavaScript the form posts normally and the page redirects.
    """
    phase = visible_phase(request.user, phase_id)
    wants_json = request.headers.get("x-requested-with") == "XMLHttpRequest"
    if request.method == "POST":
        try:
            upload = request.FILES.get("file")
            if upload is None:
                raise InvalidInput("choose a predictions archive to upload")
            submission = submit(phase=phase, user=request.user, upload=upload,
                                description=request.POST.get("description", ""))
        except PodiumError as exc:
            if wants_json:
                return JsonResponse({"detail": str(exc)},
                                    status=getattr(exc, "http_status", 400))
            messages.error(request, str(exc))
        else:
            state = submission.current_evaluation().state
            if wants_json:  # "status": deprecated alias of "state" (docs/api.md)
                return JsonResponse({"id": str(submission.id), "state": state, "status": state},
                                    status=201)
            messages.success(request, "Your upload is being checked; its state below changes "
                             "when it is queued for scoring." if state == State.VALIDATING
                             else "Your submission is queued for scoring.")
        return redirect("phase-submit", phase_id=phase.id)
    participation = Participation.objects.filter(challenge=phase.challenge, user=request.user
                                                 ).select_related("team").first()
    entrant = participation is not None and participation.status == Participation.ACCEPTED
    if entrant:  # the team's submissions, whoever made them, or the lone participant's
        own = own_submissions(phase, participation)
    else:
        own = Submission.objects.filter(phase=phase, creator=request.user)
    own = visible_submissions(request.user).filter(pk__in=own.values("pk"))
    return render(request, "evaluation/phase_submit.html", {
        "phase": phase,
        "held": phase.task_id in deid_gate.held_tasks([phase.task_id]),
        "participation": participation,
        "quota": quota(phase, participation) if entrant else None,
        "selection": _selection(phase, participation),
        "submissions": _rows(own, request.user, participation),
        **_accepted_formats(phase),
    })


def _accepted_formats(phase: Phase) -> dict:
    """What the upload form says beyond the kind's file: the segment labels a DICOM SEG
    prediction must use (docs/dicom.md), or a survival phase's curve columns and whether its
    ranking needs them (docs/clinical.md, "Survival curves")."""
    task = phase.task
    if phase.accepts_dicom_seg:
        return {"seg_labels": [task.labels[str(value)] for value in task.foreground_labels]}
    if task.kind == Task.SURVIVAL and phase.survival_times:
        rule = upload_rule(phase)
        return {"curve_columns": curve_text(rule.times), "curve_required": rule.required}
    return {}


@login_required
def team_page(request, team_id):
    """A team's members and every submission it made to the challenge's phases: for its
    accepted members and the challenge's organizers."""
    team, member = _visible_team(request.user, team_id)
    members = (team.members.filter(status=Participation.ACCEPTED).select_related("user__profile")
               .order_by("user__username"))
    submissions = visible_submissions(request.user).filter(team=team)
    participation = Participation.objects.filter(challenge=team.challenge, user=request.user
                                                 ).first()
    return render(request, "evaluation/team.html", {
        "team": team,
        "challenge": team.challenge,
        "is_member": member,
        "members": [m.user for m in members],
        "submissions": _rows(submissions, request.user, participation),
    })


@login_required
def submission_page(request, submission_id):
    submission = get_object_or_404(visible_submissions(request.user), pk=submission_id)
    payload = submission_payload(submission, request.user)
    participation = Participation.objects.filter(challenge=submission.phase.challenge,
                                                 user=request.user).first()
    return render(request, "evaluation/submission.html", {
        "submission": submission,
        "payload": payload,
        "may_choose": may_choose(submission, participation, state=payload["state"]),
        "tables": results_tables(payload.get("results"), submission.phase.task.labels),
    })


@login_required
@require_POST
def submission_cancel(request, submission_id):
    submission = get_object_or_404(visible_submissions(request.user), pk=submission_id)
    try:
        cancel(submission, request.user)
        audit_if_organizer(request, submission.phase.challenge, [submission],
                           "Evaluation cancelled.")
        messages.success(request, "The submission was cancelled.")
    except PodiumError as exc:
        messages.error(request, str(exc))
    return redirect("submission", submission_id=submission.id)


@login_required
@require_POST
def submission_select(request, submission_id):
    """Make the submission the one that counts on the leaderboard; back to the page the button
    was on (``next``), else the submission's page, or its phase's where the participant may no
    longer see it."""
    submission = chosen_by_user(request.user, submission_id)
    try:
        choose(submission, request.user)
        messages.success(request, "This submission now counts on the leaderboard; the "
                         "leaderboard shows it after its next refresh.")
    except PodiumError as exc:
        messages.error(request, str(exc))
        if not visible_submissions(request.user).filter(pk=submission.pk).exists():
            return redirect("phase-submit", phase_id=submission.phase_id)
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return redirect(target)
    return redirect("submission", submission_id=submission.id)


def _visible_team(user, team_id) -> tuple[Team, bool]:
    """A team of a challenge ``user`` may see, if ``user`` is one of its accepted members or
    organizes the challenge, else 404 (a team's existence is not disclosed to others); and
    whether ``user`` is a member."""
    team = get_object_or_404(Team.objects.select_related("challenge"), pk=team_id)
    challenge = challenge_by_key(user, str(team.challenge_id))
    member = team.members.filter(user=user, status=Participation.ACCEPTED).exists()
    if not (member or is_organizer(user, challenge)):
        raise Http404("no such team")
    return team, member


def _selection(phase, participation) -> str:
    """Which of the entrant's submissions the leaderboard ranks, in words."""
    team = bool(participation and participation.team_id)
    whose = "Your team's" if team else "Your"
    if phase.leaderboard_selection == Phase.BEST:
        return f"{whose} best submission counts (by {metric(phase.primary_metric).label})"
    if phase.leaderboard_selection == Phase.SELECTED:
        who = "Your team chooses" if team else "You choose"
        return (f"{who} the submission that counts (“Count this submission on the "
                f"leaderboard”{', any member' if team else ''}, until the phase closes); until "
                f"then {whose.lower()} latest successful submission counts")
    return f"{whose} latest successful submission counts"


def _rows(submissions, user, participation) -> list[dict]:
    """Submissions as table rows: the API payload, who submitted, the phase, the one number
    the leaderboard ranks by (the primary metric, as the participant may see it), and whether
    ``participation``'s holder may choose the submission to count."""
    rows = []
    for submission in with_payload_data(submissions, user):
        payload = submission_payload(submission, user, with_cases=False)
        phase = submission.phase
        results = payload.get("results")
        score = primary_score(results["aggregate"], phase.primary_metric) if results else None
        entry = metric(phase.primary_metric)
        rows.append({**payload, "submitted": submission.created, "submitter": submission.creator,
                     "phase_name": str(phase),
                     "score": None if score is None else f"{score:.{entry.decimals}f}",
                     "score_label": entry.label,
                     "may_choose": may_choose(submission, participation,
                                              state=payload["state"])})
    return rows
