"""One date format with the timezone everywhere, and countdowns to deadlines."""

from datetime import UTC, datetime, timedelta

from django.template import Context, Template
from django.test import override_settings

from core.templatetags.when import remaining, text


def test_dates_carry_the_timezone_and_an_iso_datetime():
    moment = datetime(2026, 12, 7, 14, 5, 33, tzinfo=UTC)
    html = Template("{% load when %}{{ moment|when }}").render(Context({"moment": moment}))
    assert html == '<time datetime="2026-12-07T14:05:33+00:00">2026-12-07 14:05 UTC</time>'
    with override_settings(TIME_ZONE="Europe/Paris"):
        assert text(moment) == "2026-12-07 15:05 CET"
    assert Template("{% load when %}{{ none|when }}").render(Context({"none": None})) == "—"


def test_countdowns():
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert remaining(now + timedelta(days=3, hours=4, minutes=5), now) == "in 3 days 4 h"
    assert remaining(now + timedelta(days=1, minutes=5), now) == "in 1 day 0 h"
    assert remaining(now + timedelta(hours=2, minutes=5), now) == "in 2 h 5 min"
    assert remaining(now + timedelta(seconds=40), now) == "in 40 s"
    assert remaining(now - timedelta(seconds=1), now) == "ended"
    html = Template("{% load when %}{{ deadline|countdown }}").render(
        Context({"deadline": datetime(2999, 1, 1, tzinfo=UTC)}))
    assert 'class="countdown" data-until="2999-01-01T00:00:00+00:00"' in html


def test_djangos_own_date_rendering_uses_the_same_format():
    from django.utils import formats

    moment = datetime(2026, 12, 7, 14, 5, tzinfo=UTC)
    assert formats.date_format(moment, "DATETIME_FORMAT") == "2026-12-07 14:05 UTC"
    assert formats.date_format(moment.date(), "DATE_FORMAT") == "2026-12-07"
