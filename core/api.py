"""REST API plumbing shared by the apps: request bodies and query strings are validated in one
place, errors become JSON a client can act on, lists come in pages, leaderboards answer 304 to a
client that has them, submitting has a rate of its own, and the OpenAPI schema describes all of
it (docs/api.md)."""

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping

from django.conf import settings
from django.core.paginator import Paginator
from django.http import JsonResponse, QueryDict
from django.shortcuts import render
from django.utils.http import parse_etags
from django.views import defaults
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import parsers, serializers
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle
from rest_framework.utils.urls import remove_query_param, replace_query_param
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


def api_docs(request):
    """The interactive documentation of the schema (templates/api_docs.html). Swagger UI's
    stylesheet draws its icons as data: images, so this page's policy also allows those; the
    rest of the site's policy (scripts and styles from this server only) holds."""
    policy = {**settings.SECURE_CSP, "img-src": [*settings.SECURE_CSP["img-src"], "data:"]}
    response = render(request, "api_docs.html")
    response["Content-Security-Policy"] = "; ".join(
        " ".join([directive, *sources]) for directive, sources in policy.items())
    return response


def not_found(request, exception):
    """The site's 404 (handler404): under /api/ the API's error body, so that a client asking
    for a path no endpoint serves (a malformed id, a typo) still gets JSON; elsewhere the
    site's page."""
    if request.path.startswith("/api/"):
        # The path is not echoed: whatever a client put in it stays out of the answer.
        return JsonResponse({"detail": "no API endpoint at this path (the endpoints: "
                                       "/api/schema/)"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """The site's 500 (handler500): under /api/ a JSON body a client can read (the error is
    logged; nothing of it is echoed); elsewhere the site's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "the server could not answer this request; the error "
                                       "is logged for the platform's administrators, please "
                                       "try again in a little while"}, status=500)
    return defaults.server_error(request)


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


class ErrorSerializer(serializers.Serializer):
    """Every error of the API has this one shape (the exception handler above)."""

    detail = serializers.CharField(help_text="What is wrong, and what was expected.")


ERROR_MEANINGS = {
    400: "Bad input: a body that is not a JSON object of the listed fields, malformed JSON, a "
         "field or query parameter of the wrong type, a refused upload.",
    401: "Not logged in, or a wrong, expired or revoked token.",
    403: "Not allowed: not an accepted participant of the challenge, or not its organizer.",
    404: "Not found, or not visible to the caller.",
    409: "Not now: the phase is closed or not ready, the submission already finished, a chunk "
         "at the wrong offset.",
    411: "A chunk without Content-Length.",
    413: "An upload or chunk too large.",
    415: "A body type the endpoint does not take.",
    429: "Too many requests (see the Retry-After header), or the submission limit reached.",
}


def responses(answers: dict, *errors: int) -> dict:
    """An operation's documented responses: its ``answers`` by status, the ``errors`` it gives,
    and 401 and 429, which any request can meet (a wrong token, a rate)."""
    statuses = sorted({*errors, 401, 429})
    return {**answers, **{status: OpenApiResponse(ErrorSerializer, ERROR_MEANINGS[status])
                          for status in statuses}}


def query(request, fields: type[serializers.Serializer]) -> dict:
    """The query string checked against the serializer ``fields``: a parameter of the wrong
    type or out of range answers 400, naming it."""
    # A plain dict, not the QueryDict: DRF would take an empty value (``?ordering=``) as
    # "not given" rather than refuse it.
    serializer = fields(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


class PageSerializer(serializers.Serializer):
    """The query parameters of every list."""

    page = serializers.IntegerField(min_value=1, default=1, help_text="The page, from 1.")
    page_size = serializers.IntegerField(
        min_value=1, max_value=MAX_PAGE_SIZE, default=PAGE_SIZE,
        help_text=f"Items per page (at most {MAX_PAGE_SIZE}).")


def paginated(request, items, present: Callable[[Iterable], list]) -> Response:
    """One page of ``items`` (a queryset or a list) as ``{count, next, previous, results}``:
    ``next`` and ``previous`` are links to the neighbouring pages, or null; ``present`` turns
    the page's items into the results. A page past the last answers 404."""
    params = query(request, PageSerializer)
    size = params["page_size"]
    pages = Paginator(items, size)
    number = params["page"]
    if number > pages.num_pages:
        raise NotFound(f"page {number} does not exist: the list has {pages.num_pages} "
                       f"page{'s' if pages.num_pages > 1 else ''} of {size}")
    page = pages.page(number)
    url = request.build_absolute_uri()

    def link(to: int) -> str:
        return remove_query_param(url, "page") if to == 1 else replace_query_param(url, "page", to)

    return Response({
        "count": pages.count,
        "next": link(number + 1) if page.has_next() else None,
        "previous": link(number - 1) if page.has_previous() else None,
        "results": present(page.object_list),
    })


def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of a page of ``item`` as :func:`paginated` answers it."""
    name = item.__name__.removesuffix("Serializer")
    return type(f"Paginated{name}List", (serializers.Serializer,), {
        "__doc__": f"A page of {name} items; follow `next` for the following page.",
        "count": serializers.IntegerField(min_value=0, help_text="Items in the whole list."),
        "next": serializers.URLField(allow_null=True, help_text="The next page, or null."),
        "previous": serializers.URLField(allow_null=True,
                                         help_text="The previous page, or null."),
        "results": item(many=True),
    })


def with_etag(request, payload: dict) -> Response:
    """``payload`` with an ``ETag`` (a digest of it), or an empty 304 when the client's
    ``If-None-Match`` names that tag: a client polling an unchanged leaderboard gets no body.
    The digest covers exactly what this viewer is shown, so a new snapshot, another rounding
    or an organizer's view are other tags; ``private`` keeps shared caches out."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    # GZipMiddleware makes a compressed answer's tag weak (W/"…"); either form matches.
    asked = parse_etags(request.headers.get("If-None-Match", ""))
    known = {tag.removeprefix("W/") for tag in asked}
    if etag in known or "*" in known:
        return Response(status=304, headers=headers)
    return Response(payload, headers=headers)


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """The schema's name for accounts' token header (docs/api.md, authentication)."""

    target_class = "accounts.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <key>` (or `Bearer <key>`), a key from the API tokens "
                               "page (/accounts/tokens/)."}


def retry_after_on_429(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: every 429 of the schema carries ``Retry-After`` (seconds), as
    DRF's throttles send it. A 429 for the submission limit has none: not required."""
    header = {"schema": {"type": "integer"},
              "description": "Seconds until the rate allows the next request."}
    for operations in result["paths"].values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("429")
            if answer is not None:
                answer.setdefault("headers", {})["Retry-After"] = header
    return result
