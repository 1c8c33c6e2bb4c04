"""REST API: a phase's leaderboard and a challenge's overall rankings, read from snapshots
(never recomputed on a request), each with an ETag so that a client polling an unchanged
board gets 304 and no body."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from challenges.visibility import challenge_by_key, is_organizer, leaderboard_phase
from core.api import responses, with_etag

from .presentation import challenge_payload, leaderboard_payload

_NUMBER = {"allow_null": True, "required": False}


class EntrySerializer(serializers.Serializer):
    """One entrant's ranked submission; the score keys only where the phase shows scores (or
    to its organizers). More keys: docs/leaderboard.md."""

    rank = serializers.FloatField(allow_null=True, help_text=(
        "Competition rank (1, 2, 2, 4), or a tie-averaged rank; null without a score."))
    entrant = serializers.CharField(help_text="The team's name, or the participant's.")
    participant = serializers.CharField(help_text="Deprecated alias of entrant.")
    submission = serializers.UUIDField()
    evaluation = serializers.UUIDField()
    submitted = serializers.DateTimeField()
    description = serializers.CharField(allow_blank=True)
    score = serializers.FloatField(**_NUMBER)
    aggregate = serializers.DictField(**_NUMBER)
    ranking_score = serializers.FloatField(**_NUMBER)
    score_q025 = serializers.FloatField(**_NUMBER)
    score_q975 = serializers.FloatField(**_NUMBER)
    rank_q025 = serializers.FloatField(**_NUMBER, help_text=(
        "The 2.5% quantile of the entrant's rank over the bootstrap resamples."))
    rank_q975 = serializers.FloatField(**_NUMBER, help_text="The 97.5% quantile of its rank.")
    rank_median = serializers.FloatField(**_NUMBER, help_text="The median of its rank.")
    p_rank1 = serializers.FloatField(**_NUMBER, help_text=(
        "The share of bootstrap resamples that rank it first."))
    n_cases = serializers.IntegerField(required=False, help_text="Cases ranked.")


class LeaderboardStatisticsSerializer(serializers.Serializer):
    rank_distribution = serializers.JSONField(allow_null=True)
    significance = serializers.JSONField(allow_null=True)
    kendall_tau = serializers.JSONField(allow_null=True)


class GroundTruthSourceSerializer(serializers.Serializer):
    """The ground-truth version a snapshot scored against and where its labels come from
    (public: never a label file, a path or the import's manifest)."""

    ground_truth_version = serializers.IntegerField()
    collection = serializers.CharField(allow_blank=True)
    version = serializers.CharField(allow_blank=True, help_text="The collection's version.")
    doi = serializers.CharField(allow_blank=True)
    doi_url = serializers.CharField(allow_blank=True)
    licence = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True)
    reference = serializers.CharField(allow_blank=True)
    source_sha256 = serializers.CharField(allow_blank=True, help_text=(
        "The source's own content hash, as the import computed it."))
    manifest_sha256 = serializers.CharField(allow_blank=True, help_text=(
        "The digest of the import's manifest (canonical JSON); the manifest is not public."))


class LeaderboardSerializer(serializers.Serializer):
    """A phase's leaderboard snapshot (docs/leaderboard.md, "API")."""

    phase = serializers.UUIDField()
    task = serializers.CharField()
    metric = serializers.CharField()
    metric_label = serializers.CharField()
    larger_is_better = serializers.BooleanField()
    ground_truth_version = serializers.IntegerField(allow_null=True)
    ground_truth = GroundTruthSourceSerializer(allow_null=True, help_text=(
        "The version scored and its provenance; null before the first computation."))
    computed_at = serializers.DateTimeField(allow_null=True,
                                            help_text="Null before the first computation.")
    ranking_method = serializers.CharField(allow_null=True)
    ranking_method_description = serializers.CharField(allow_null=True)
    missing_value_rule = serializers.CharField(allow_null=True)
    seed = serializers.IntegerField(allow_null=True)
    n_boot = serializers.IntegerField()
    score_aggregate = serializers.CharField(allow_null=True)
    entries = EntrySerializer(many=True)
    statistics = LeaderboardStatisticsSerializer()
    method = serializers.CharField(allow_null=True, help_text="Deprecated: ranking_method.")
    method_description = serializers.CharField(
        allow_null=True, help_text="Deprecated: ranking_method_description.")
    na = serializers.CharField(allow_null=True, help_text="Deprecated: missing_value_rule.")


class OverallEntrySerializer(serializers.Serializer):
    """One entrant of an overall ranking, with its rank on each of the ranking's tasks (the
    columns of the overall page)."""

    rank = serializers.FloatField(allow_null=True)
    entrant = serializers.CharField()
    participant = serializers.CharField(help_text="Deprecated alias of entrant.")
    score = serializers.FloatField(allow_null=True, required=False, help_text=(
        "entries: the mean of the task ranks; msd_entries: the mean over tasks of the "
        "significance ranking's score."))
    tasks_ranked = serializers.IntegerField(required=False,
                                            help_text="On how many of the tasks it is ranked.")
    task_ranks = serializers.ListField(child=serializers.FloatField(allow_null=True),
                                       required=False, help_text=(
        "Its rank per task, in the order of the ranking's tasks; null where it is absent."))
    task_scores = serializers.ListField(child=serializers.FloatField(allow_null=True),
                                        required=False, help_text=(
        "The per-task values the consensus combined, in the order of the tasks."))


class OverallTaskSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    phase = serializers.UUIDField()
    participants = serializers.IntegerField(help_text="Entrants ranked on the task.")
    ground_truth = GroundTruthSourceSerializer(allow_null=True, required=False, help_text=(
        "The version the task's leaderboard scored and its provenance."))


class RankingSerializer(serializers.Serializer):
    """One overall ranking of the phases of one name (docs/leaderboard.md)."""

    phase_name = serializers.CharField()
    phases = serializers.ListField(child=serializers.UUIDField())
    tasks = OverallTaskSerializer(many=True)
    entries = OverallEntrySerializer(many=True)
    msd_entries = OverallEntrySerializer(many=True)
    public = serializers.BooleanField(
        help_text="Whether everyone sees this ranking (false: one of its tasks' leaderboards "
                  "is not public, and only its organizers see it).")


class OverallSerializer(serializers.Serializer):
    challenge = serializers.UUIDField()
    slug = serializers.CharField()
    computed_at = serializers.DateTimeField(allow_null=True)
    rankings = RankingSerializer(many=True)
    withheld = serializers.ListField(
        child=serializers.CharField(),
        help_text="Phase names whose overall ranking the caller does not see because one of "
                  "its tasks' leaderboards is not public (always empty for organizers).")


def _etag_responses(body: type[serializers.Serializer]) -> dict:
    return {
        200: body,
        304: OpenApiResponse(description="Unchanged since the ETag given in If-None-Match."),
    }


_CONDITIONAL = [
    OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, description=(
        "The ETag of the copy the client has: 304 without a body while it is current.")),
    OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200, 304], required=True,
                     description="The tag of this answer, for If-None-Match."),
]


@extend_schema(summary="The phase's leaderboard snapshot", parameters=_CONDITIONAL,
               responses=responses(_etag_responses(LeaderboardSerializer), 404))
@api_view(["GET"])
@permission_classes([AllowAny])
def phase_leaderboard(request, phase_id):
    phase, organizer = leaderboard_phase(request.user, phase_id)
    return with_etag(request, leaderboard_payload(phase, organizer=organizer))


@extend_schema(summary="The challenge's overall rankings across its tasks",
               parameters=_CONDITIONAL,
               responses=responses(_etag_responses(OverallSerializer), 404))
@api_view(["GET"])
@permission_classes([AllowAny])
def challenge_leaderboard(request, key: str):
    challenge = challenge_by_key(request.user, key)
    return with_etag(request, challenge_payload(
        challenge, organizer=is_organizer(request.user, challenge)))
