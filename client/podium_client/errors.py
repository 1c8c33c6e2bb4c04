"""The client's errors: each message is one line a person can act on, the server's own words
where it sent some."""


class PodiumError(Exception):
    """Something the user has to fix or know: a refused request, an unreachable server, a
    missing file. Its message is shown as it is."""


class ApiError(PodiumError):
    """The server answered with an error status; ``message`` is its ``detail``."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.message = message


class TimedOut(PodiumError):
    """Waiting for a submission took longer than allowed."""
