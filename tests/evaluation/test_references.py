"""The per-process cache of decoded hidden labels: bounded, least recently used, read-only."""

import numpy as np
import pytest

from evaluation import references


@pytest.fixture(autouse=True)
def empty_cache():
    references.clear()
    yield
    references.clear()


def reader(calls: list, name: str, nbytes: int):
    def read():
        calls.append(name)
        return np.zeros(nbytes, np.uint8), f"geometry of {name}"
    return read


def test_cached_label_maps_are_read_once_read_only_and_evicted_least_recent_first(settings):
    settings.PODIUM_REFERENCE_CACHE_BYTES = 250
    calls: list = []
    first, _ = references.reference("a", reader(calls, "a", 100))
    assert not first.flags.writeable
    references.reference("b", reader(calls, "b", 100))
    references.reference("a", reader(calls, "a", 100))  # hit; "a" becomes the most recent
    references.reference("c", reader(calls, "c", 100))  # evicts "b"
    references.reference("a", reader(calls, "a", 100))
    references.reference("b", reader(calls, "b", 100))
    assert calls == ["a", "b", "c", "b"]


def test_a_zero_budget_caches_nothing(settings):
    settings.PODIUM_REFERENCE_CACHE_BYTES = 0
    calls: list = []
    for _ in range(2):
        references.reference("a", reader(calls, "a", 10))
    assert calls == ["a", "a"]
