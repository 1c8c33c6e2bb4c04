"""Which faults inside a task are worth retrying, which are the server's resources, and how
long to wait between tries (docs/reliability.md).

- Transient: a dropped database connection (``OperationalError``/``InterfaceError``), a broker
  that did not answer, a storage read that failed. Retried PODIUM_TRANSIENT_RETRIES times with
  exponential backoff; idempotent work makes a retry safe.
- Resources: the worker's disk or quota is full. No retry helps and no other worker is better
  placed until an operator acts, so the evaluation fails at once with an operator-facing log
  line and a neutral message.
"""

import errno
import time

import kombu.exceptions
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

from core.storage import StorageUnavailable

TRANSIENT = (OperationalError, InterfaceError, kombu.exceptions.OperationalError,
             StorageUnavailable)
RESOURCE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a fault that may be gone on the next try."""
    return isinstance(exc, TRANSIENT)


def is_resource(exc: BaseException) -> bool:
    """Whether ``exc`` says the worker ran out of disk space (or quota)."""
    return isinstance(exc, OSError) and exc.errno in RESOURCE_ERRNOS


def backoff_s(attempt: int) -> float:
    """Seconds to wait before try ``attempt + 1`` (1, 2, 4, ... s, at most 30 s)."""
    return min(2.0 ** attempt, 30.0)


def retry_pause(attempt: int) -> None:
    """Wait before the next try, with fresh database connections: a connection the fault broke
    is closed here so the next query opens a new one."""
    for connection in connections.all(initialized_only=True):
        connection.close()
    time.sleep(backoff_s(attempt))


def retries() -> int:
    """How many times a transient fault is retried (PODIUM_TRANSIENT_RETRIES)."""
    return settings.PODIUM_TRANSIENT_RETRIES
