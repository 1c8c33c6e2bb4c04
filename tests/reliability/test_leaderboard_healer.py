"""The leaderboard healer finds every snapshot a lost message left stale: a refresh asked for
and never run, and a snapshot whose input hash no longer matches the evaluations."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leaderboard import services
from leaderboard.models import LeaderboardSnapshot

from .conftest import scored

pytestmark = pytest.mark.django_db


def test_a_refresh_whose_message_was_lost_is_asked_for_again(queued, settings,
                                                             django_capture_on_commit_callbacks):
    settings.PODIUM_REFRESH_RESEND_AFTER_S = 60
    phase_id = str(queued.submission.phase_id)
    scored(queued)
    services.request_refresh(phase_id)  # its message is lost: on_commit never sends it here
    snapshot = LeaderboardSnapshot.objects.get(phase_id=phase_id)
    assert snapshot.refresh_requested_at is not None and snapshot.computed_at is None
    assert services.heal()["phases"] == []  # asked for just now: still on its way
    LeaderboardSnapshot.objects.filter(pk=snapshot.pk).update(
        refresh_requested_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks() as sent:
        assert services.heal()["phases"] == [phase_id]
    assert len(sent) == 1
    renewed = LeaderboardSnapshot.objects.get(pk=snapshot.pk)
    assert renewed.refresh_requested_at > timezone.now() - timedelta(seconds=30)


def test_a_snapshot_that_no_longer_matches_its_evaluations_is_recomputed(
        queued, django_capture_on_commit_callbacks):
    phase_id = queued.submission.phase_id
    scored(queued)
    fresh = services.refresh(phase_id)
    assert len(fresh.entries) == 1
    assert services.heal()["phases"] == []  # up to date: nothing to do
    LeaderboardSnapshot.objects.filter(pk=fresh.pk).update(input_sha256="0" * 64)
    with django_capture_on_commit_callbacks() as sent:
        assert services.heal()["phases"] == [str(phase_id)]
    assert len(sent) == 1
    assert services.refresh(phase_id).input_sha256 == fresh.input_sha256


def test_succeeded_evaluations_without_any_snapshot_are_ranked(queued):
    phase_id = queued.submission.phase_id
    scored(queued)
    LeaderboardSnapshot.objects.filter(phase_id=phase_id).delete()
    assert services.heal()["phases"] == [str(phase_id)]
