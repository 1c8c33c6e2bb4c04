"""Pages: a participant's submission page per phase and a submission's details."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from challenges.models import Participation
from challenges.visibility import visible_phase
from core.errors import InvalidInput, PodiumError

from .api import visible_submissions
from .models import State
from .presentation import results_tables, submission_payload
from .services.submission import cancel, submit


@login_required
def phase_submit(request, phase_id):
    """The upload form and the participant's own submissions with their states and messages.

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
    participation = Participation.objects.filter(challenge=phase.challenge,
                                                 user=request.user).first()
    own = visible_submissions(request.user).filter(phase=phase, creator=request.user)
    return render(request, "evaluation/phase_submit.html", {
        "phase": phase,
        "participation": participation,
        "submissions": [submission_payload(s, request.user, with_cases=False) for s in own],
    })


@login_required
def submission_page(request, submission_id):
    submission = get_object_or_404(visible_submissions(request.user), pk=submission_id)
    payload = submission_payload(submission, request.user)
    return render(request, "evaluation/submission.html", {
        "submission": submission,
        "payload": payload,
        "tables": results_tables(payload.get("results"), submission.phase.task.labels),
    })


@login_required
@require_POST
def submission_cancel(request, submission_id):
    submission = get_object_or_404(visible_submissions(request.user), pk=submission_id)
    try:
        cancel(submission, request.user)
        messages.success(request, "The submission was cancelled.")
    except PodiumError as exc:
        messages.error(request, str(exc))
    return redirect("submission", submission_id=submission.id)
