"""A challenge's dates, derived from its phases: whether submissions are open, upcoming or
closed, when it opens and closes, and the next deadline. The home page's cards and the
Timeline page read it. ("Opening", not "status": status is a participation's approval.)"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from .models import Phase

OPEN = "open"
UPCOMING = "upcoming"
CLOSED = "closed"


@dataclass(frozen=True)
class ChallengeDates:
    """``opening``: open (a phase takes submissions now), upcoming (none does, one will open)
    or closed (every phase has closed). ``opens_at``/``closes_at``: the earliest opening and
    the latest closing of the phases (None when a phase has no such date). ``next_deadline``:
    the soonest closing of a phase open now."""

    opening: str
    opens_at: datetime | None
    closes_at: datetime | None
    next_deadline: datetime | None


def phase_opening(phase: Phase, now: datetime) -> str:
    if phase.is_open(now):
        return OPEN
    return UPCOMING if phase.opens_at and now < phase.opens_at else CLOSED


def challenge_dates(phases: Iterable[Phase], now: datetime | None = None) -> ChallengeDates:
    """The dates of a challenge with these phases. A challenge without phases is upcoming."""
    now = now or timezone.now()
    phases = list(phases)
    openings = {phase_opening(phase, now) for phase in phases}
    opening = next((o for o in (OPEN, UPCOMING) if o in openings),
                   CLOSED if phases else UPCOMING)
    opens = [phase.opens_at for phase in phases]
    closes = [phase.closes_at for phase in phases]
    deadlines = [phase.closes_at for phase in phases
                 if phase.closes_at and phase_opening(phase, now) == OPEN]
    return ChallengeDates(
        opening=opening,
        opens_at=min(opens) if opens and None not in opens else None,
        closes_at=max(closes) if closes and None not in closes else None,
        next_deadline=min(deadlines, default=None),
    )
