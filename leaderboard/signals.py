"""Keeps snapshots current: a finished evaluation asks for its phase's leaderboard refresh, and
so does a change to the phase's ranking configuration (saved in the admin)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from challenges.models import Phase
from evaluation.models import Evaluation, State, Submission
from evaluation.selection import on_chosen
from evaluation.states import on_finished

from .models import LeaderboardSnapshot
from .services import phase_options, request_refresh


@on_finished
def evaluation_finished(evaluation: Evaluation) -> None:
    if evaluation.state == State.SUCCEEDED:
        request_refresh(evaluation.submission.phase_id)


@on_chosen
def submission_chosen(submission: Submission) -> None:
    request_refresh(submission.phase_id)


@receiver(post_save, sender=Phase, dispatch_uid="leaderboard-phase-saved")
def phase_saved(sender, instance: Phase, created: bool, **kwargs) -> None:
    if created:
        return
    stored = (LeaderboardSnapshot.objects.filter(phase=instance, computed_at__isnull=False)
              .values_list("options", flat=True).first())
    if stored is not None and stored != phase_options(instance):
        request_refresh(instance.id)
