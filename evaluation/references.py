"""Decoded hidden labels, kept in each worker process between evaluations.

Every submission of a phase is scored against the same ground-truth files, so decoding them
again for each one is repeated work (inflating and checking a label map costs about as much as
scoring it). A least-recently-used cache of decoded label maps, bounded in bytes
(PODIUM_REFERENCE_CACHE_BYTES per worker process; 0 turns it off), keyed by the file's
content-addressed storage name. Cached arrays are read-only. Safe to call from any thread (the
scoring loop reads on a helper thread).
"""

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from django.conf import settings

from scorers.nifti import Geometry

_cache: OrderedDict[str, tuple[np.ndarray, Geometry]] = OrderedDict()
_size = 0
_lock = threading.Lock()


def reference(name: str, read: Callable[[], tuple[np.ndarray, Geometry]]):
    """The decoded label map stored under ``name``: from the cache, or ``read()`` and kept."""
    global _size
    with _lock:
        if name in _cache:
            _cache.move_to_end(name)
            return _cache[name]
    array, geometry = read()
    array.flags.writeable = False
    budget = settings.PODIUM_REFERENCE_CACHE_BYTES
    with _lock:
        if array.nbytes <= budget and name not in _cache:
            _cache[name] = (array, geometry)
            _size += array.nbytes
            while _size > budget:
                _, (evicted, _) = _cache.popitem(last=False)
                _size -= evicted.nbytes
    return array, geometry


def clear() -> None:
    global _size
    with _lock:
        _cache.clear()
        _size = 0
