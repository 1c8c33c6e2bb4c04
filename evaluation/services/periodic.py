"""One run at a time of a periodic task (reaper, leaderboard healer, digests), however many
schedulers send it and however long a run takes.

Celery beat is the one scheduler (docs/reliability.md), but two beats started by mistake, a pass
slower than its interval or a message delivered twice would otherwise run a pass twice at once.
The lock lives where every worker already is:

- on PostgreSQL, a session advisory lock taken without waiting: the server drops it when the
  holder's connection ends, so a killed worker never leaves it behind, and a hung pass ends at
  the task's time limit (:data:`TIME_LIMIT_S`), which kills its process and its connection;
- on SQLite (the embedded default, one host), an exclusive ``flock`` on a file in the data
  folder, which the kernel drops when the holder's process ends.
"""

import fcntl
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection

log = logging.getLogger(__name__)

TIME_LIMIT_S = 600
"""A periodic pass still running after this long is killed (and its lock released with it)."""


@contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """Hold the lock called ``name`` for the block: yields True, or False at once when another
    run holds it (the caller then skips its pass)."""
    if connection.vendor == "postgresql":
        with _advisory_lock(name) as held:
            yield held
    else:
        with _file_lock(name) as held:
            yield held


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"podium:{name}".encode()).digest()[:8], "big",
                          signed=True)


@contextmanager
def _advisory_lock(name: str) -> Iterator[bool]:
    key = _key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError:  # the connection is gone, and the lock with it
                log.warning("periodic %s: connection lost while holding the lock", name)


@contextmanager
def _file_lock(name: str) -> Iterator[bool]:
    folder = Path(settings.DATA_DIR) / "locks"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_once(name: str, function) -> object:
    """``function()`` under the lock ``name``; None (and a log line) when a run is in progress."""
    with exclusive(name) as held:
        if not held:
            log.info("periodic %s: another run is in progress; this one is skipped", name)
            return None
        return function()
