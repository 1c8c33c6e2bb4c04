"""The Content-Security-Policy header, which Django 5.2 does not send by itself.

The policy is ``settings.SECURE_CSP``, a dict of directive → sources in the shape Django 6.0's
own CSP middleware reads, so moving to it later is a change of one line in MIDDLEWARE. No page
needs a nonce: every script is a static file, and the leaderboard's SVG plots use presentation
attributes, never ``style``.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def policy_header(directives: dict[str, list[str]]) -> str:
    """``{"default-src": ["'self'"], ...}`` as a header value: ``default-src 'self'; ...``."""
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every response that does not set its own (pages, the admin, the API,
    static files)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.header = policy_header(settings.SECURE_CSP)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.header)
        return response
