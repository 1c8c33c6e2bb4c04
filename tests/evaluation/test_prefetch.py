"""The helper thread that reads predictions ahead of the scorer."""

import threading
import time
from contextlib import nullcontext

import pytest

from evaluation.prefetch import ahead


def test_items_arrive_in_order_produced_on_another_thread():
    producers = set()

    def items():
        for i in range(20):
            producers.add(threading.get_ident())
            yield i

    with ahead(items(), depth=2) as produced:
        assert list(produced) == list(range(20))
    assert producers and threading.get_ident() not in producers


def test_a_producer_error_arrives_after_the_items_made_before_it():
    def items():
        yield "a"
        yield "b"
        raise ValueError("case 3: broken")

    received = []
    with pytest.raises(ValueError, match="case 3: broken"), ahead(items()) as produced:
        for item in produced:
            received.append(item)
    assert received == ["a", "b"]


@pytest.mark.parametrize("how", ["break", "raise"])
def test_leaving_early_stops_and_closes_the_producer(how):
    made = []
    closed = threading.Event()

    def endless():
        try:
            while True:
                made.append(len(made))
                yield made[-1]
        finally:
            closed.set()

    class Stop(Exception):
        pass

    started = time.monotonic()
    with pytest.raises(Stop) if how == "raise" else nullcontext(), ahead(endless()) as produced:
        for item in produced:
            if item == 3:
                if how == "raise":
                    raise Stop
                break
    assert closed.is_set()  # the block waited for the producer to end and close its items
    count = len(made)
    time.sleep(0.1)
    assert len(made) == count <= 3 + 1 + 2  # taken, the one in the slot, one being made
    assert time.monotonic() - started < 10.0  # (no hang; generous for a loaded machine)
    assert not [t for t in threading.enumerate() if t.name == "podium-prefetch"]



@pytest.mark.parametrize("depth", [1, 3])
def test_the_producer_is_never_more_than_depth_items_ahead(depth):
    made = []

    def items():
        for i in range(10):
            made.append(i)
            yield i

    with ahead(items(), depth=depth) as produced:
        for taken, item in enumerate(produced, start=1):
            time.sleep(0.02)  # the producer has time to run ahead as far as it may
            assert len(made) - taken <= depth
            assert item == taken - 1
