"""The platform's error family, independent of the metric library's.

:class:`PodiumError` carries a message for the person who caused it and the HTTP status that
fits. :class:`InvalidInput` is an upload, file or case that cannot be used as given;
:class:`Refused` a request refused for another reason (not allowed, closed, limit). The metric
library (:mod:`scorers`) raises its own :class:`scorers.errors.InputError`; the edges that call
it (the task kinds, the importers) translate it with :func:`from_scorers`, so nothing above
them catches or raises the library's error. :class:`GroundTruthError` is not a participant's
error at all: the hidden labels are broken.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from scorers.errors import InputError


class PodiumError(Exception):
    """A participant-facing error: its message is shown as it is; ``http_status`` is the
    status code the API answers with."""

    http_status = 400

    def __init__(self, message: str, *, http_status: int | None = None):
        super().__init__(message)
        if http_status is not None:
            self.http_status = http_status


class InvalidInput(PodiumError):
    """An upload, file or case that cannot be used as given (400)."""


class Refused(PodiumError):
    """A request refused for a reason other than a file: 403 not allowed (the default), 409
    closed or not ready, 429 limit reached."""

    http_status = 403


class GroundTruthError(Exception):
    """The hidden ground truth itself is unreadable: an organizer problem. Its message goes to
    the organizer log only; participants see a neutral message."""


@contextmanager
def from_scorers() -> Iterator[None]:
    """Translate the metric library's :class:`~scorers.errors.InputError` raised inside the
    block into :class:`InvalidInput` with the same message (the edge between the two)."""
    try:
        yield
    except InputError as exc:
        raise InvalidInput(str(exc)) from exc
