"""Produce the items of an iterator on a helper thread, a few items ahead of their consumer.

The scoring loop reads each prediction (inflate, validate) while the previous case is being
scored: the inflate and the compiled kernels release the GIL, so on a worker with spare cores
reading no longer adds to the wall time of a submission. The helper thread runs at the lowest
CPU priority (Linux lets a thread have its own nice value): it takes the cores the scorer's
own threads leave idle instead of competing with them. On a host whose every core is busy it
waits for a free one, which delays that worker but does not lower the host's throughput.
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
    """An iterator over ``items``, which a helper thread produces at most ``depth`` items
    ahead of the consumer (made but not yet taken).

    An exception the producer raises reaches the consumer in its place, after the items made
    before it. Leaving the block (normally or by an exception) stops the producer and waits for
    it, so whatever it uses (a scratch folder) may be removed afterwards. The producer must not
    need the database: it gets no connection of the consumer's, and any it opens is closed.
    """
    made: queue.SimpleQueue = queue.SimpleQueue()
    room = threading.Semaphore(depth)  # items the producer may make before one is taken
    stop = threading.Event()

    def wait_for_room() -> bool:
        while not stop.is_set():
            if room.acquire(timeout=_POLL_S):
                return not stop.is_set()
        return False

    def produce() -> None:
        try:  # Linux: this thread's own nice value
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):
            pass
        iterator = None
        try:
            iterator = iter(items)
            while wait_for_room():
                try:
                    item = next(iterator)
                except StopIteration:
                    made.put((_END, None))
                    return
                made.put((item, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            made.put((None, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            connections.close_all()

    def consume() -> Iterator[Item]:
        while True:
            try:
                item, error = made.get(timeout=_POLL_S)
            except queue.Empty:
                if thread.is_alive() or not made.empty():
                    continue
                raise RuntimeError("the reading thread ended without a result") from None
            if error is not None:
                raise error
            if item is _END:
                return
            room.release()
            yield item

    thread = threading.Thread(target=produce, name="podium-prefetch", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        room.release()  # wakes a producer waiting for room
        thread.join()
