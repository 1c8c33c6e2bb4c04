"""A client for a Podium challenge server's REST API: :class:`Client` for notebooks and
scripts, and the ``podium`` command (:mod:`podium_client.cli`)."""

from .client import Client
from .errors import ApiError, PodiumError, TimedOut

__all__ = ["ApiError", "Client", "PodiumError", "TimedOut"]
__version__ = "0.1.0"
