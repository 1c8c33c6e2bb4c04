"""Run two independent compiled kernels at once (they release the GIL: ``nogil=True``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

First = TypeVar("First")
Second = TypeVar("Second")


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="scorers")


# A forked child (e.g. a Celery prefork worker) does not inherit the helper thread.
os.register_at_fork(after_in_child=_pool.cache_clear)


def both(first: Callable[[], First], second: Callable[[], Second]) -> tuple[First, Second]:
    """``(first(), second())``, the first on a helper thread while the second runs here."""
    pending = _pool().submit(first)
    other = second()
    return pending.result(), other
