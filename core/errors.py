"""Participant-facing refusals. Problems with a file raise scorers.errors.InputError."""

from scorers.errors import InputError


class Refused(InputError):
    """A request is refused for a reason other than a file (not allowed, closed, limit).

    ``http_status`` tells the API which status code fits (403 not allowed, 409 closed or not
    ready, 429 limit reached).
    """

    def __init__(self, message: str, *, http_status: int = 403):
        super().__init__(message)
        self.http_status = http_status


class GroundTruthError(Exception):
    """The hidden ground truth itself is unreadable: an organizer problem. Its message goes to
    the organizer log only; participants see a neutral message."""
