"""Produce the items of an iterator on a helper thread, a few items ahead of their consumer.

The scoring loop reads each prediction (inflate, validate) while the previous case is being
scored: the inflate and the compiled kernels release the GIL, so on a worker with spare cores
reading no longer adds to the wall time of a submission.
"""

import os
import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import connections

Item = TypeVar("Item")

_END = object()
_POLL_S = 0.05


@contextmanager
def ahead(items: Iterable[Item], depth: int = 1) -> Iterator[Iterator[Item]]:
    """An iterator over ``items``, which a helper thread produces up to ``depth`` items ahead.

    An exception the producer raises reaches the consumer in its place, after the items made
    before it. Leaving the block (normally or by an exception) stops the producer and waits for
    it, so whatever it uses (a scratch folder) may be removed afterwards. The producer must not
    need the database: it gets no connection of the consumer's, and any it opens is closed.
    """
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:  # Linux: a thread's own nice value, so it takes only cores the consumer leaves idle
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):
            pass
        iterator = iter(items)
        try:
            for item in iterator:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((None, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            connections.close_all()

    def consume() -> Iterator[Item]:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item

    thread = threading.Thread(target=produce, name="podium-prefetch", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        while thread.is_alive():  # free a slot the producer may be waiting for, then wait
            try:
                slots.get_nowait()
            except queue.Empty:
                thread.join(_POLL_S)
