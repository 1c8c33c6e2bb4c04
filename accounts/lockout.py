"""Login lockout: after ``PODIUM_LOGIN_FAILURE_LIMIT`` failed logins of one username from one
address, each within ``PODIUM_LOGIN_COOLOFF_S`` of the previous one, that pair is refused (even
with the right password) until the cool-off has passed since the last failure. An address whose
failed logins over all usernames within the cool-off reach ``PODIUM_LOGIN_ADDRESS_FAILURE_LIMIT``
is refused for every username likewise (one address trying many usernames).

The counts live in the database, so every web process sees the same ones. An attempt is counted
*before* its password is checked, in one transaction with the check of the limit, so parallel
attempts cannot get past the limit either; the right password clears the count."""

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from .models import LoginFailure


def client_address(request) -> str:
    """The client's address as the API throttles see it (``PODIUM_NUM_PROXIES`` decides whether
    ``X-Forwarded-For`` is believed)."""
    return (BaseThrottle().get_ident(request) or "")[:64] if request is not None else ""


def _cooloff() -> timedelta:
    return timedelta(seconds=settings.PODIUM_LOGIN_COOLOFF_S)


def _seconds_left(row: LoginFailure | None, now: datetime) -> int:
    if row is None or row.failures < settings.PODIUM_LOGIN_FAILURE_LIMIT:
        return 0
    return max(0, math.ceil((row.last_failed_at + _cooloff() - now).total_seconds()))


def _address_seconds_left(address: str, now: datetime) -> int:
    recent = LoginFailure.objects.filter(ip_address=address, last_failed_at__gt=now - _cooloff())
    totals = recent.aggregate(failures=Sum("failures"), last=Max("last_failed_at"))
    if (totals["failures"] or 0) < settings.PODIUM_LOGIN_ADDRESS_FAILURE_LIMIT:
        return 0
    return max(0, math.ceil((totals["last"] + _cooloff() - now).total_seconds()))


def seconds_locked(username: str, address: str) -> int:
    """How long the pair stays refused (0: it may try)."""
    now = timezone.now()
    row = LoginFailure.objects.filter(username=username[:150], ip_address=address).first()
    return max(_seconds_left(row, now), _address_seconds_left(address, now))


def count_attempt(username: str, address: str) -> int:
    """Count an attempt as failed until :func:`reset` says otherwise, unless the pair is
    refused: then how long it stays refused, without counting (0: check the password)."""
    now = timezone.now()
    # Rows older than the cool-off count for nothing: dropping them bounds the table by the
    # failures of the last cool-off, whatever usernames an attacker tries.
    LoginFailure.objects.filter(last_failed_at__lte=now - _cooloff()).delete()
    with transaction.atomic():
        row, _ = LoginFailure.objects.select_for_update().get_or_create(
            username=username[:150], ip_address=address,
            defaults={"failures": 0, "last_failed_at": now},
        )
        locked_for = max(_seconds_left(row, now), _address_seconds_left(address, now))
        if not locked_for:
            row.failures += 1
            row.last_failed_at = now
            row.save(update_fields=["failures", "last_failed_at"])
    return locked_for


def reset(username: str, address: str) -> None:
    LoginFailure.objects.filter(username=username[:150], ip_address=address).delete()


def message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many failed logins; try again in {minutes} minute{'s' * (minutes != 1)}."
