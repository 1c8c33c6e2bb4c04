"""Leaderboard snapshots: computed by a worker after evaluations finish, read by pages and API.

A phase's snapshot holds its ranked ``entries`` and the ``statistics`` behind its plots
(docs/leaderboard.md lists both); the plots the worker drew are rows of their own
(:class:`SnapshotPlot`), read only by the plot's URL. A challenge's snapshot holds its overall
(Decathlon) ``rankings``, one per phase name. Each kind leaves the other's fields empty.
"""

from django.db import models

from challenges.models import Challenge, GroundTruth, Phase


class LeaderboardSnapshot(models.Model):
    """The current leaderboard of one phase (or, with ``challenge``, the overall ranking)."""

    phase = models.OneToOneField(
        Phase, null=True, blank=True, on_delete=models.CASCADE, related_name="snapshot"
    )
    challenge = models.OneToOneField(
        Challenge, null=True, blank=True, on_delete=models.CASCADE, related_name="snapshot"
    )
    ground_truth = models.ForeignKey(
        GroundTruth, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    computed_at = models.DateTimeField(null=True, blank=True)
    inputs_read_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the computation read its inputs: an older computation never overwrites.",
    )
    input_sha256 = models.CharField(max_length=64, blank=True)
    ranking_method = models.CharField(max_length=40, blank=True)
    options = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    entries = models.JSONField(
        default=list, blank=True, help_text="A phase's ranked entrants, best first."
    )
    statistics = models.JSONField(default=dict, blank=True)
    rankings = models.JSONField(
        default=list, blank=True,
        help_text="A challenge's overall rankings, one per phase name (its own entries inside).",
    )
    refresh_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="A refresh was asked for and has not started yet."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(phase__isnull=False) ^ models.Q(challenge__isnull=False),
                name="snapshot_of_phase_xor_challenge",
            ),
        ]

    def __str__(self) -> str:
        return f"leaderboard of {self.phase or self.challenge}"

    @property
    def refresh_pending(self) -> bool:
        return self.refresh_requested_at is not None


class SnapshotPlot(models.Model):
    """A plot the worker drew for a phase snapshot, as SVG: a row of its own, because the plots
    are most of a snapshot's bytes and only their own URL shows them."""

    snapshot = models.ForeignKey(LeaderboardSnapshot, on_delete=models.CASCADE,
                                 related_name="plots")
    name = models.CharField(max_length=40, help_text="blob or significance")
    svg = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["snapshot", "name"],
                                               name="one_plot_per_name")]

    def __str__(self) -> str:
        return f"{self.name} plot of {self.snapshot}"
