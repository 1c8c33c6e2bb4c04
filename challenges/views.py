"""Pages: the challenge cards, a challenge's pages (overview with tasks, phases and joining;
rules, data, timeline, organizers, citation) and its join and team forms. The Evaluation page,
which reads the leaderboard's configuration, is in leaderboard/views.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.errors import Refused
from core.templatetags.people import display_name

from . import deid_gate, provenance
from .models import Challenge, Participation, Phase
from .services.participation import create_team, join, join_team, leave_team
from .timeline import challenge_dates, phase_opening
from .visibility import visible_challenges


def home(request):
    challenges = visible_challenges(request.user).annotate(participant_count=Count(
        "participations", filter=Q(participations__status=Participation.ACCEPTED),
        distinct=True,
    )).prefetch_related("tasks__phases")
    now = timezone.now()
    cards = [
        {"challenge": challenge, "tasks": list(challenge.tasks.all()),
         "dates": challenge_dates([phase for task in challenge.tasks.all()
                                   for phase in task.phases.all()], now)}
        for challenge in challenges
    ]
    return render(request, "challenges/home.html", {"cards": cards})


def _visible(request, slug: str) -> Challenge:
    return get_object_or_404(visible_challenges(request.user), slug=slug)


def _phases(challenge: Challenge):
    return Phase.objects.filter(task__challenge=challenge).select_related(
        "task", "active_ground_truth").order_by("task__key", "opens_at", "created")


def challenge_page(request, slug: str):
    """The Overview: the organizers' overview, joining, and the tasks and phases."""
    challenge = _visible(request, slug)
    participation = None
    if request.user.is_authenticated:
        participation = Participation.objects.filter(challenge=challenge,
                                                     user=request.user).first()
    phases = _phases(challenge)
    return render(request, "challenges/challenge.html", {
        "challenge": challenge, "phases": phases, "participation": participation,
        "tab": "overview", "held": deid_gate.held_tasks({p.task_id for p in phases}),
    })


def challenge_rules(request, slug: str):
    return render(request, "challenges/rules.html",
                  {"challenge": _visible(request, slug), "tab": "rules"})


def challenge_data(request, slug: str):
    """The data description and each task's facts, with its *Test data* link for those who
    may download it (as the Overview's table; the data page itself decides)."""
    challenge = _visible(request, slug)
    user = request.user
    may_download = user.is_authenticated and (
        challenge.is_organizer(user) or user.is_superuser
        or Participation.objects.filter(challenge=challenge, user=user,
                                        status=Participation.ACCEPTED).exists())
    tasks = list(challenge.tasks.all())
    return render(request, "challenges/data.html", {
        "challenge": challenge, "tasks": tasks, "tab": "data", "may_download": may_download,
        "held": deid_gate.held_tasks({task.id for task in tasks}),
    })


def challenge_timeline(request, slug: str):
    challenge = _visible(request, slug)
    phases = list(_phases(challenge))
    now = timezone.now()
    return render(request, "challenges/timeline.html", {
        "challenge": challenge, "dates": challenge_dates(phases, now), "tab": "timeline",
        "rows": [{"phase": phase, "opening": phase_opening(phase, now)} for phase in phases],
    })


def challenge_organizers(request, slug: str):
    """The organizers by name (full name, else username); never their e-mail addresses."""
    challenge = _visible(request, slug)
    names = sorted((display_name(user) for user in
                    challenge.organizers.select_related("profile")), key=str.casefold)
    return render(request, "challenges/organizers.html",
                  {"challenge": challenge, "names": names, "tab": "organizers"})


def challenge_citation(request, slug: str):
    """Each task's dataset (name, release, reference, licence) and the ground-truth version
    each of its phases scores against, then the organizers' citation text, then the source of
    each version scored (its provenance, a plain citation and a BibTeX entry)."""
    challenge = _visible(request, slug)
    tasks = list(challenge.tasks.prefetch_related(Prefetch(
        "phases", queryset=Phase.objects.select_related("active_ground_truth"))))
    return render(request, "challenges/citation.html", {
        "challenge": challenge, "tasks": tasks, "tab": "citation",
        "sources": [source for task in tasks for source in provenance.sources(task)],
    })


@login_required
@require_POST
def challenge_join(request, slug: str):
    challenge = _visible(request, slug)
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
    challenge = _visible(request, slug)
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
