"""Who is on a leaderboard: the entrants (a team, or a participant submitting alone), one
evaluation each, and the names they are shown by."""

import uuid
from collections import Counter
from dataclasses import dataclass

from evaluation.models import Evaluation


@dataclass(frozen=True)
class Entrant:
    """One entrant: the evaluation that represents it, its stable key across the
    tasks of a challenge (``team:<id>`` or ``user:<id>``, never shown) and its display name."""

    key: str
    name: str
    evaluation: Evaluation


def entrant_key(evaluation: Evaluation) -> str:
    """``team:<id>`` for a team's submission, else ``user:<id>`` of its creator."""
    submission = evaluation.submission
    return f"team:{submission.team_id}" if submission.team_id else f"user:{submission.creator_id}"


def printable(name: str) -> str:
    """The name with control characters replaced by "?" (never empty)."""
    return "".join(c if c.isprintable() else "?" for c in name) or "?"


def entrants(evaluations: list[Evaluation]) -> list[Entrant]:
    """One entrant per evaluation, named by team or username; a team and a user that share a
    name are told apart by " (team)" / " (user)"."""
    keyed = [(entrant_key(e), printable(e.submission.participant_name), e)
             for e in evaluations]
    counts = Counter(name for _, name, _ in keyed)
    return [
        Entrant(key=key, evaluation=evaluation,
                  name=name if counts[name] == 1 else f"{name} ({key.split(':')[0]})")
        for key, name, evaluation in keyed
    ]


def from_entries(entries: list[dict], keys: list[str]) -> list[Entrant]:
    """The entrants behind a snapshot's entries (``keys``: its ``entrant_keys``), in entry
    order; an evaluation deleted since the snapshot was computed is left out."""
    ids = [uuid.UUID(entry["evaluation"]) for entry in entries]
    evaluations = Evaluation.objects.select_related("submission").in_bulk(ids)
    return [
        Entrant(key=key, name=entry["entrant"], evaluation=evaluations[pk])
        for key, entry, pk in zip(keys, entries, ids, strict=True)
        if pk in evaluations
    ]
