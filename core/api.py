"""REST API plumbing shared by the apps: request bodies are validated in one place, errors
become JSON a client can act on, and submitting has a rate of its own."""

from collections.abc import Mapping

from django.http import QueryDict
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import PodiumError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, also answering 400 for JSON nested too deeply for Python's parser."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None


_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "a boolean", type(None): "null"}


def validated(request, fields: type[serializers.Serializer]) -> dict:
    """The request body checked against the serializer ``fields``: anything but an object of
    those fields (a list, a string, a wrong type, a missing required field) answers 400."""
    data = request.data
    if isinstance(data, QueryDict):
        # A form sends one value per field; a field it leaves out takes its default.
        data = data.dict()
    if not isinstance(data, Mapping):
        raise ParseError(f"send a JSON object (fields: {', '.join(fields().fields)}), "
                         f"not {_JSON_KINDS.get(type(data), 'that')}")
    serializer = fields(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _message(detail) -> str:
    """A validation error's details as one line: ``field: what is wrong``."""
    if isinstance(detail, dict):
        return "; ".join(
            _message(value) if field == api_settings.NON_FIELD_ERRORS_KEY
            else f"{field}: {_message(value)}"
            for field, value in detail.items()
        )
    if isinstance(detail, list):
        return " ".join(_message(item) for item in detail)
    return str(detail)


def exception_handler(exc, context):
    """Participant-facing errors → ``{"detail": message}`` with a fitting status code."""
    if isinstance(exc, PodiumError):
        return Response({"detail": str(exc)}, status=exc.http_status)
    if isinstance(exc, ValidationError):
        return Response({"detail": _message(exc.detail)}, status=400)
    return drf_exception_handler(exc, context)


class SubmitRateThrottle(UserRateThrottle):
    """Sending a submission (an upload of up to ``PODIUM_UPLOAD_MAX_BYTES``) has a stricter
    rate per user, ``PODIUM_API_THROTTLE_SUBMIT``; reading the list does not count."""

    scope = "submit"

    def allow_request(self, request, view) -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)


class UploadChunkRateThrottle(UserRateThrottle):
    """The requests of an upload in chunks (hundreds for one large file) have a rate of their
    own, ``PODIUM_API_THROTTLE_UPLOAD_CHUNK``, so that one upload spends neither the submit
    rate nor the per-user rate of everything else."""

    scope = "upload_chunk"
