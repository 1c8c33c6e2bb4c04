"""REST API authentication with hashed tokens: ``Authorization: Token <key>`` (or ``Bearer``)."""

from datetime import timedelta
from functools import wraps

from django.http import JsonResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from .models import ApiToken, hash_key

# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenAuthentication(BaseAuthentication):
    keywords = (b"token", b"bearer")

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("send the header as 'Authorization: Token <key>'")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("invalid token") from None
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()
        now = timezone.now()
        if token is None or not token.user.is_active:
            raise AuthenticationFailed("invalid token")
        if token.is_expired(now):
            raise AuthenticationFailed("the token has expired; ask for a new one")
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Token"


def token_login(request) -> None:
    """Outside the REST API (file downloads, leaderboard exports), an API token in the request
    counts as its login, as it does in the API: scripts and the ``podium`` command use the token
    they already have. Raises AuthenticationFailed for a token that is wrong or expired."""
    found = TokenAuthentication().authenticate(request)
    if found is not None:
        request.user = found[0]


def token_or_session(view):
    """A page-level view that takes an API token as well as the browser's login; a bad token
    answers 401 as the API does (``{"detail": ...}``)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            token_login(request)
        except AuthenticationFailed as exc:
            return JsonResponse({"detail": str(exc.detail)}, status=401)
        response = view(request, *args, **kwargs)
        patch_vary_headers(response, ["Authorization"])
        return response

    return wrapper
