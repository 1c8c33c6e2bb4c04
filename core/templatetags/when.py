"""Dates and times on every page in one format, with the timezone: ``{{ value|when }}`` gives
"2026-12-07 14:05 UTC" inside a ``<time>`` element whose ``datetime`` is ISO 8601;
``{{ value|countdown }}`` adds "in 3 days 4 h" (or "ended") computed at render time, which
static/when.js keeps current. Both take a datetime or its ISO 8601 text (as snapshots' payloads
hold it)."""

from datetime import datetime

from django import template
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

register = template.Library()


def _local(value: datetime) -> datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


def text(value: datetime) -> str:
    """"2026-12-07 14:05 UTC": the project's timezone, minutes, the zone's name: Django's
    DATETIME_FORMAT (podium/formats), which the console renders dates with too."""
    return formats.date_format(_local(value), "DATETIME_FORMAT")


def remaining(value: datetime, now: datetime | None = None) -> str:
    """"in 3 days 4 h", "in 2 h 5 min", "in 40 s", or "ended"."""
    seconds = int((value - (now or timezone.now())).total_seconds())
    if seconds <= 0:
        return "ended"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"in {days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"in {hours} h {minutes} min"
    return f"in {minutes} min" if minutes else f"in {seconds} s"


def _datetime(value) -> datetime | None:
    """``value`` as a datetime: itself, or parsed from ISO 8601 text; None for anything else."""
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:  # well formed but no such date
            return None
    return value if isinstance(value, datetime) else None


@register.filter
def when(value):
    value = _datetime(value)
    if value is None:
        return "—"
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), text(value))


@register.filter
def countdown(value):
    value = _datetime(value)
    if value is None:
        return "—"
    return format_html('<time datetime="{}">{}</time> (<span class="countdown" data-until="{}">'
                       "{}</span>)", value.isoformat(), text(value), value.isoformat(),
                       remaining(value))
