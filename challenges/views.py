"""Pages: the challenge list and a challenge's page (tasks, phases, joining)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.errors import Refused

from .models import Participation, Phase
from .services.participation import create_team, join, join_team, leave_team
from .visibility import visible_challenges


def home(request):
    return render(request, "challenges/home.html",
                  {"challenges": visible_challenges(request.user)})


def challenge_page(request, slug: str):
    challenge = get_object_or_404(visible_challenges(request.user), slug=slug)
    participation = None
    if request.user.is_authenticated:
        participation = Participation.objects.filter(challenge=challenge,
                                                     user=request.user).first()
    phases = Phase.objects.filter(task__challenge=challenge).select_related("task")
    return render(request, "challenges/challenge.html", {
        "challenge": challenge, "phases": phases, "participation": participation,
    })


@login_required
@require_POST
def challenge_join(request, slug: str):
    challenge = get_object_or_404(visible_challenges(request.user), slug=slug)
    try:
        participation, _ = join(challenge, request.user,
                                accept_terms=request.POST.get("accept_terms") == "on")
    except Refused as exc:
        messages.error(request, str(exc))
    else:
        if participation.status == Participation.PENDING:
            messages.info(request, "Thank you: an organizer will review your request to join.")
        else:
            messages.success(request, f"You have joined {challenge.title}.")
    return redirect("challenge", slug=slug)


@login_required
@require_POST
def challenge_team(request, slug: str):
    """Create, join (with a member's code) or leave a team."""
    challenge = get_object_or_404(visible_challenges(request.user), slug=slug)
    participation = get_object_or_404(Participation, challenge=challenge, user=request.user)
    action = request.POST.get("action")
    try:
        if action == "create":
            team = create_team(participation, request.POST.get("name", ""))
            messages.success(request, f"Team {team.name} created. Share its code with your "
                                      "teammates so they can join.")
        elif action == "join":
            team = join_team(participation, request.POST.get("code", ""))
            messages.success(request, f"You joined team {team.name}.")
        elif action == "leave":
            leave_team(participation)
            messages.success(request, "You left the team.")
        else:
            messages.error(request, "Unknown team action.")
    except Refused as exc:
        messages.error(request, str(exc))
    return redirect("challenge", slug=slug)
