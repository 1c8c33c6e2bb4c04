"""The pages' words for sentences stored with a leaderboard's snapshot.

The ranking library (leaderboard.stats, after challengeR) speaks of "algorithms" and metric
keys ("dice"); pages speak of entrants and metric labels ("Dice"). Snapshots keep the sentences
as computed, so older snapshots are reworded too: ``{{ sentence|board_words:metric_key }}``."""

import re

from django import template

from scorers.metrics import metric

register = template.Library()

_ALGORITHM = re.compile(r"\b(algorithm)(s?)\b(?!\s+container)")


@register.filter
def board_words(sentence, metric_name: str = "") -> str:
    if not sentence:
        return ""
    text = _ALGORITHM.sub(lambda found: "entrant" + found[2], str(sentence))
    try:
        label = metric(metric_name).label
    except KeyError:  # an old snapshot's metric, no longer registered: its key stays
        return text
    return re.sub(rf"\b{re.escape(metric_name)}\b", lambda _: label, text)
