"""REST API: a challenge's pages (as source and as the safe HTML the site shows) and the
exports its leaderboard pages offer (docs/api.md, "Resources").

The pages live here, above challenges, because one of them, Evaluation, is written from each
phase's configuration by leaderboard.describe (as its page is, in leaderboard/views.py)."""

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from challenges.markdown import render
from challenges.models import Challenge, Task
from challenges.visibility import challenge_by_key, leaderboard_phase
from core.api import PageSerializer, page_of, paginated, responses
from core.templatetags.people import display_name

from .describe import describe_challenge
from .exports import may_export

# The challenge's pages in the order of its tabs.
PAGE_NAMES = ("overview", "rules", "data", "evaluation", "timeline", "organizers", "citation")


def _evaluation_source(challenge: Challenge) -> str:
    """The Evaluation page as Markdown: per phase, its sections as lists of sentences."""
    parts = []
    for phase, sections in describe_challenge(challenge):
        parts.append(f"## {phase.task.name} · {phase.name}")
        for section in sections:
            parts.append(f"### {section.title}")
            parts.append("\n".join(f"- {sentence}" for sentence in section.sentences))
    return "\n\n".join(parts)


def _organizers_source(challenge: Challenge) -> str:
    """The organizers by the names the pages show (never their e-mail addresses)."""
    names = sorted((display_name(user) for user in
                    challenge.organizers.select_related("profile")), key=str.casefold)
    return "\n".join(f"- {name}" for name in names)


# name → (title, the site's URL name, its Markdown source: the organizers' field, or written
# from the challenge's data).
_PAGES = {
    "overview": ("Overview", "challenge", lambda c: c.overview),
    "rules": ("Rules", "challenge-rules", lambda c: c.rules),
    "data": ("Data", "challenge-data", lambda c: c.data_description),
    "evaluation": ("Evaluation", "challenge-evaluation", _evaluation_source),
    "timeline": ("Timeline", "challenge-timeline", lambda c: c.timeline),
    "organizers": ("Organizers", "challenge-organizers", _organizers_source),
    "citation": ("Citation", "challenge-citation", lambda c: c.citation),
}


class ChallengePageSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=PAGE_NAMES)
    title = serializers.CharField()
    url = serializers.URLField(help_text="The page on the site.")
    generated = serializers.BooleanField(help_text=(
        "Written by Podium from the challenge's data (evaluation, organizers) rather than by "
        "its organizers."))
    source = serializers.CharField(allow_blank=True, help_text="Markdown.")
    html = serializers.CharField(allow_blank=True, help_text=(
        "The source as the site renders it: sanitised HTML, safe to show."))


def page_payload(request, challenge: Challenge, name: str) -> dict:
    title, url_name, source_of = _PAGES[name]
    source = source_of(challenge)
    return {
        "name": name, "title": title,
        "url": request.build_absolute_uri(reverse(url_name, args=[challenge.slug])),
        "generated": name in ("evaluation", "organizers"),
        "source": source, "html": str(render(source)) if source else "",
    }


@extend_schema(operation_id="challenges_pages_list",
               summary="The challenge's pages: overview, rules, data, evaluation, timeline, "
                       "organizers, citation",
               parameters=[PageSerializer],
               responses=responses({200: page_of(ChallengePageSerializer)}, 400, 404))
@api_view(["GET"])
@permission_classes([AllowAny])
def challenge_pages(request, key: str):
    challenge = challenge_by_key(request.user, key)
    return paginated(request, list(PAGE_NAMES),
                     lambda page: [page_payload(request, challenge, name) for name in page])


@extend_schema(summary="One page of the challenge, as Markdown and as safe HTML",
               responses=responses({200: ChallengePageSerializer}, 404))
@api_view(["GET"])
@permission_classes([AllowAny])
def challenge_page(request, key: str, name: str):
    challenge = challenge_by_key(request.user, key)
    if name not in _PAGES:
        raise Http404(f"no page {name!r}: the pages are {', '.join(PAGE_NAMES)}")
    return Response(page_payload(request, challenge, name))


class ExportSerializer(serializers.Serializer):
    name = serializers.CharField(help_text='What it holds: "leaderboard", "cases", '
                                           '"ranking-input".')
    format = serializers.ChoiceField(choices=["csv", "json"])
    url = serializers.URLField()
    description = serializers.CharField()


class ExportListSerializer(serializers.Serializer):
    exports = ExportSerializer(many=True, help_text=(
        "Those the page offers this caller; empty where the phase publishes no scores."))


def _export(request, name: str, fmt: str, url_name: str, arg, description: str) -> dict:
    return {"name": name, "format": fmt, "description": description,
            "url": request.build_absolute_uri(reverse(url_name, args=[arg]))}


@extend_schema(summary="The phase leaderboard's exports (CSV and JSON) this caller may download",
               responses=responses({200: ExportListSerializer}, 404))
@api_view(["GET"])
@permission_classes([AllowAny])
def phase_exports(request, phase_id):
    phase, organizer = leaderboard_phase(request.user, phase_id)
    found = []
    if may_export(phase, organizer=organizer):
        found += [
            _export(request, "leaderboard", "json", "phase-leaderboard-json", phase.id,
                    "The leaderboard with its statistics, as the API answers it."),
            _export(request, "leaderboard", "csv", "phase-leaderboard-csv", phase.id,
                    "One row per ranked entrant."),
        ]
    if may_export(phase, organizer=organizer, cases=True):
        found += [
            _export(request, "cases", "csv", "phase-cases-csv", phase.id,
                    "Every ranked submission's per-case values."),
            _export(request, "cases", "json", "phase-cases-json", phase.id,
                    "Every ranked submission's per-case values."),
        ]
        if phase.task.kind == Task.SEGMENTATION:
            found.append(_export(request, "ranking-input", "csv", "phase-ranking-input-csv",
                                 phase.id, "The table ranked, for python -m leaderboard.stats."))
    return Response({"exports": found})


@extend_schema(summary="The overall ranking's exports (CSV and JSON)",
               responses=responses({200: ExportListSerializer}, 404))
@api_view(["GET"])
@permission_classes([AllowAny])
def challenge_exports(request, key: str):
    challenge = challenge_by_key(request.user, key)
    return Response({"exports": [
        _export(request, "leaderboard", "csv", "challenge-leaderboard-csv", challenge.slug,
                "The overall rankings (mean rank and MSD-style), one row per entrant."),
        _export(request, "leaderboard", "json", "challenge-leaderboard-json", challenge.slug,
                "The overall rankings as the API answers them."),
    ]})
