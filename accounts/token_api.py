"""REST API tokens through the API: a user lists, creates and revokes their own tokens (the
page is accounts/token_views.py; an administrator's shell command is ``api_token``).

A new token's key is in the answer that created it only (``Cache-Control: no-store``); the
database keeps its hash (accounts/models.py). A request authenticated by a token that expires
may create only tokens that expire no later than it: a leaked short-lived key cannot be turned
into a lasting one. Longer-lived tokens come from the page, behind the password login.
"""

import math
from datetime import timedelta

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core.api import PageSerializer, page_of, paginated, responses, validated
from core.errors import Refused

from .models import ApiToken
from .token_views import MAX_TOKENS

MAX_LIFETIME_DAYS = 3650


class TokenSerializer(serializers.ModelSerializer):
    """A token as its owner sees it: never the key, only its first characters."""

    expired = serializers.SerializerMethodField()
    current = serializers.SerializerMethodField(
        help_text="Whether this request was authenticated by this token.")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created", "expires_at", "last_used_at", "expired",
                  "current"]

    def get_expired(self, token: ApiToken) -> bool:
        return token.is_expired()

    def get_current(self, token: ApiToken) -> bool:
        auth = self.context.get("auth")
        return isinstance(auth, ApiToken) and auth.pk == token.pk


class CreatedTokenSerializer(TokenSerializer):
    key = serializers.CharField(help_text="The token itself, shown in this answer only.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]


class NewTokenSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, default="", allow_blank=True,
                                 help_text='What the token is for, e.g. "laptop" or "CI".')
    expires_in_days = serializers.IntegerField(
        min_value=1, max_value=MAX_LIFETIME_DAYS, default=None, allow_null=True,
        help_text="Lifetime in days; null: never expires (not allowed to a request "
                  "authenticated by a token that expires).")


def _own(request):
    return ApiToken.objects.filter(user=request.user)


def _token(request, token_id: int) -> ApiToken:
    """One of the user's own tokens; another user's answers 404 like a missing one."""
    token = _own(request).filter(pk=token_id).first()
    if token is None:
        raise Refused(f"you have no token with id {token_id}", http_status=404)
    return token


def _check_lifetime(auth, expires_at) -> None:
    """Refuse a token that would outlive the token authenticating the request (module doc)."""
    if not isinstance(auth, ApiToken) or auth.expires_at is None:
        return
    if expires_at is None or expires_at > auth.expires_at:
        days = math.floor((auth.expires_at - timezone.now()) / timedelta(days=1))
        raise Refused(
            f"the token of this request expires at {auth.expires_at.isoformat()}, so a token it "
            f"creates must expire by then (expires_in_days at most {days}); create longer-lived "
            "tokens on the API tokens page (/accounts/tokens/)")


@extend_schema(
    methods=["GET"], operation_id="tokens_list", summary="Your API tokens, newest first",
    parameters=[PageSerializer],
    responses=responses({200: page_of(TokenSerializer)}, 400, 404))
@extend_schema(
    methods=["POST"], summary="Create an API token; its key is in this answer only",
    request=NewTokenSerializer,
    responses=responses({201: OpenApiResponse(CreatedTokenSerializer, "The new token and its "
                                                                      "key.")}, 400, 403, 415))
@api_view(["GET", "POST"])
@permission_classes([IsAuthenticated])
def token_list(request):
    context = {"auth": request.auth}
    if request.method == "GET":
        return paginated(request, _own(request).order_by("-created", "-id"),
                         lambda page: TokenSerializer(page, many=True, context=context).data)
    fields = validated(request, NewTokenSerializer)
    days = fields["expires_in_days"]
    expires_at = timezone.now() + timedelta(days=days) if days else None
    _check_lifetime(request.auth, expires_at)
    if _own(request).count() >= MAX_TOKENS:
        raise Refused(f"you have {MAX_TOKENS} tokens, the most one may hold; revoke one you "
                      "no longer use first", http_status=429)
    token, key = ApiToken.issue(request.user, name=fields["name"], expires_at=expires_at)
    token.key = key
    return Response(CreatedTokenSerializer(token, context=context).data, status=201,
                    headers={"Cache-Control": "no-store"})


@extend_schema(methods=["GET"], summary="One of your API tokens",
               responses=responses({200: TokenSerializer}, 404))
@extend_schema(methods=["DELETE"], summary="Revoke one of your API tokens",
               responses=responses({204: OpenApiResponse(description="Revoked.")}, 404))
@api_view(["GET", "DELETE"])
@permission_classes([IsAuthenticated])
def token_detail(request, token_id: int):
    token = _token(request, token_id)
    if request.method == "DELETE":
        token.delete()
        return Response(status=204)
    return Response(TokenSerializer(token, context={"auth": request.auth}).data)


@extend_schema(summary="Revoke one of your API tokens (as DELETE on the token)", request=None,
               responses=responses({204: OpenApiResponse(description="Revoked.")}, 404))
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def token_revoke(request, token_id: int):
    _token(request, token_id).delete()
    return Response(status=204)


# Included under /api/v1/tokens/ by podium/urls.py.
urlpatterns = [
    path("", token_list, name="api-token-list"),
    path("<int:token_id>/", token_detail, name="api-token"),
    path("<int:token_id>/revoke/", token_revoke, name="api-token-revoke-api"),
]
