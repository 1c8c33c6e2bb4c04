"""Which submission of an entrant counts on its phase's leaderboard, and the choice a phase may
let entrants make (docs/leaderboard.md, "Which submission counts").

One rule serves the leaderboard (``leaderboard.services.selected_evaluations``), the pages and
the API's ``counts``, so a marker can never point at another submission than the one ranked.
Under ``selected`` a team (any accepted member), or a participant without a team, chooses one
of its succeeded submissions until the phase closes; a new choice replaces the old one, and
until there is one the latest successful submission counts.
"""

from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from challenges import visibility
from challenges.models import Participation, Phase
from core.errors import InvalidInput, Refused
from core.templatetags import when
from scorers.metrics import larger_is_better

from .models import ACTIVE_STATES, Evaluation, State, Submission
from .results import primary_score
from .services import entrants

# Called inside the choosing transaction with the chosen submission (the leaderboard asks for
# a refresh: leaderboard/signals.py; this layer cannot import the leaderboard).
_chosen_hooks: list[Callable[[Submission], None]] = []


def on_chosen(hook: Callable[[Submission], None]) -> Callable[[Submission], None]:
    """Register a hook run when an entrant chooses the submission that counts."""
    _chosen_hooks.append(hook)
    return hook


def _entrant(submission: Submission) -> tuple:
    return (submission.team_id, None) if submission.team_id else (None, submission.creator_id)


def counting_evaluations(phase: Phase, evaluations: Iterable[Evaluation], *,
                         metric: str) -> list[Evaluation]:
    """One evaluation per entrant: that of the submission that counts under the phase's
    ``leaderboard_selection`` (``metric`` judges "best"), among ``evaluations`` that succeeded
    against the active ground truth with the phase's current scoring configuration (scores of
    another configuration are never ranked together). Each evaluation's ``submission`` must be
    loaded. A chosen submission without such an evaluation (being re-scored, say) gives way to
    the latest successful one. Entrants come in the order of their newest submission."""
    config = phase.metric_config()
    usable = sorted(
        (e for e in evaluations if e.state == State.SUCCEEDED
         and e.ground_truth_id == phase.active_ground_truth_id and e.metric_config == config),
        key=lambda e: (e.submission.created, e.created), reverse=True)
    per_submission: dict = {}
    for evaluation in usable:
        per_submission.setdefault(evaluation.submission_id, evaluation)
    per_entrant: dict = {}
    for evaluation in per_submission.values():  # newest submission first
        key = _entrant(evaluation.submission)
        current = per_entrant.get(key)
        if current is None or _replaces(phase, evaluation, current, metric):
            per_entrant[key] = evaluation
    return list(per_entrant.values())


def _replaces(phase: Phase, older: Evaluation, current: Evaluation, metric: str) -> bool:
    """Whether an older submission's evaluation counts rather than ``current``'s."""
    if phase.leaderboard_selection == Phase.SELECTED:
        return older.submission.selected_at is not None
    if phase.leaderboard_selection == Phase.BEST:
        candidate = primary_score(older.aggregate, metric)
        best = primary_score(current.aggregate, metric)
        if candidate is None:
            return False
        if best is None:
            return True
        return candidate > best if larger_is_better(metric) else candidate < best
    return False


def entrant_submissions() -> list[Prefetch]:
    """Prefetches for a list of submissions: each row's entrant's submissions (its team's, or
    its creator's without a team) with their succeeded evaluations, the few columns
    :func:`counts` reads. A list costs the same five queries whatever its length, and loads
    only the entrants of the rows it returns (a page of them)."""
    succeeded = Evaluation.objects.filter(state=State.SUCCEEDED).only(
        "id", "submission_id", "ground_truth_id", "metric_config", "aggregate", "state",
        "created")
    lean = Submission.objects.only(
        "id", "phase_id", "team_id", "creator_id", "created", "selected_at").prefetch_related(
        Prefetch("evaluations", queryset=succeeded, to_attr="succeeded_evaluations"))
    return [Prefetch("team__submissions", queryset=lean, to_attr="entrant_submissions"),
            Prefetch("creator__submissions", queryset=lean.filter(team__isnull=True),
                     to_attr="lone_submissions")]


def counts(submission: Submission) -> bool:
    """Whether ``submission`` is the one of its entrant that the leaderboard ranks now. Free of
    queries for the rows of ``evaluation.presentation.with_payload_data``; otherwise two for
    the submission's entrant. The answer is kept on the phase (shared by a list's rows)."""
    phase = submission.phase
    counted = phase.__dict__.setdefault("_counted_submissions", {})
    key = _entrant(submission)
    if key not in counted:
        for evaluation in counting_evaluations(phase, _candidates(submission),
                                               metric=phase.primary_metric):
            counted[_entrant(evaluation.submission)] = evaluation.submission_id
        counted.setdefault(key, None)
    return counted[key] == submission.id


def _candidates(submission: Submission) -> list[Evaluation]:
    """The succeeded evaluations of the submission's entrant in its phase: prefetched by
    :func:`entrant_submissions`, else read."""
    owner, attribute = (("team", "entrant_submissions") if submission.team_id
                        else ("creator", "lone_submissions"))
    listed = None
    if getattr(Submission, owner).is_cached(submission):  # never a query to find out
        listed = getattr(getattr(submission, owner), attribute, None)
    if listed is None:
        listed = entrants.submissions_of(
            submission.phase_id, team_id=submission.team_id, user_id=submission.creator_id,
        ).prefetch_related(Prefetch(
            "evaluations", queryset=Evaluation.objects.filter(state=State.SUCCEEDED).defer(
                "organizer_log", "logs"), to_attr="succeeded_evaluations"))
    return [evaluation for listed_submission in listed
            if listed_submission.phase_id == submission.phase_id
            for evaluation in listed_submission.succeeded_evaluations]


def may_choose(submission: Submission, participation: Participation | None, *,
               state: str) -> bool:
    """Whether the holder of ``participation`` may make ``submission`` (whose newest evaluation
    is in ``state``) the one that counts now: :func:`choose` would accept it. No query."""
    phase = submission.phase
    return (phase.leaderboard_selection == Phase.SELECTED and not phase.is_closed()
            and state == State.SUCCEEDED and submission.selected_at is None
            and participation is not None and participation.status == Participation.ACCEPTED
            and _is_entrant(submission, participation))


def _is_entrant(submission: Submission, participation: Participation) -> bool:
    if submission.team_id:
        return participation.team_id == submission.team_id
    return submission.creator_id == participation.user_id


def choose(submission: Submission, user) -> Submission:
    """Make ``submission`` the one of its entrant that counts on the leaderboard, for ``user``
    (an accepted member of the team that made it, or its creator without a team); it replaces
    the entrant's earlier choice. Records who chose and when, and asks for a refresh."""
    phase = submission.phase
    participation = Participation.objects.filter(challenge=phase.challenge, user=user).first()
    if participation is None or participation.status == Participation.PENDING:
        raise Refused("only an accepted participant of the challenge can choose the submission "
                      "that counts")
    if participation.status == Participation.REJECTED:
        raise Refused("your participation in this challenge was not approved")
    if not _is_entrant(submission, participation):
        raise Refused("you are not a member of the team that made this submission"
                      if submission.team_id else "only its submitter can choose this submission")
    if phase.leaderboard_selection != Phase.SELECTED:
        raise Refused(f"this phase ranks each entrant's {phase.get_leaderboard_selection_display()}"
                      "; it does not let entrants choose", http_status=409)
    if phase.is_closed():
        raise Refused(f"the phase closed at {when.text(phase.closes_at)}: the submission that "
                      "counts can no longer be changed", http_status=409)
    latest = submission.evaluations.order_by("-created").values_list("state", flat=True).first()
    if latest in ACTIVE_STATES:
        raise Refused("the submission is still being checked or scored; choose it once it has "
                      "succeeded", http_status=409)
    if latest != State.SUCCEEDED:
        raise InvalidInput("only a succeeded submission can count on the leaderboard; this one "
                           + ("failed" if latest == State.FAILED else "was cancelled"))
    with transaction.atomic():
        entrants.lock(challenge_id=phase.challenge.id, team_id=submission.team_id,
                      user_id=submission.creator_id)
        if Submission.objects.filter(pk=submission.pk, selected_at__isnull=False).exists():
            return submission  # chosen already: nothing changes
        entrants.submissions_of(phase.id, team_id=submission.team_id,
                                user_id=submission.creator_id).filter(
            selected_at__isnull=False).update(selected_at=None, selected_by=None)
        submission.selected_at = timezone.now()
        submission.selected_by = user
        submission.save(update_fields=["selected_at", "selected_by"])
        for hook in _chosen_hooks:
            hook(submission)
    return submission


def chosen_by_user(user, submission_id) -> Submission:
    """The submission ``user`` asks to choose: one they may see, or one they made (so that a
    participant rejected or moved out of the team hears why); anything else is 404."""
    found = visibility.visible_submissions(user, Submission.objects.all()).filter(
        pk=submission_id).select_related("phase__task__challenge").first()
    if found is None:
        found = get_object_or_404(
            Submission.objects.select_related("phase__task__challenge"), pk=submission_id,
            creator=user)
    return found


@api_view(["POST"])
@permission_classes([IsAuthenticated])
def submission_select(request, submission_id):
    """Choose the submission that counts on the leaderboard → the submission's payload."""
    from .presentation import submission_payload  # presentation imports this module's rule

    submission = choose(chosen_by_user(request.user, submission_id), request.user)
    fresh = Submission.objects.select_related("phase__task__challenge").get(pk=submission.pk)
    return Response(submission_payload(fresh, request.user, with_cases=False))
