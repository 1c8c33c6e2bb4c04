"""REST API plumbing shared by the apps: errors become JSON a client can act on."""

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from evaluation.errors import Refused
from scorers.errors import InputError


def exception_handler(exc, context):
    """Participant-facing errors → ``{"detail": message}`` with a fitting status code."""
    if isinstance(exc, Refused):
        return Response({"detail": str(exc)}, status=exc.http_status)
    if isinstance(exc, InputError):
        return Response({"detail": str(exc)}, status=400)
    return drf_exception_handler(exc, context)
