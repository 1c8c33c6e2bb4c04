"""Organizer console: API tokens (never their keys) and failed logins (delete a row to unlock)."""

from django.contrib import admin

from .forms import AdminLoginForm
from .models import ApiToken, LoginFailure

admin.site.login_form = AdminLoginForm


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by ``manage.py api_token`` (the key is shown only then); here they can
    be renamed, given an expiry or deleted (revoked)."""

    list_display = ["prefix", "name", "user", "created", "expires_at", "last_used_at"]
    list_filter = ["created", "expires_at"]
    search_fields = ["prefix", "name", "user__username"]
    fields = ["user", "name", "prefix", "created", "expires_at", "last_used_at"]
    readonly_fields = ["user", "prefix", "created", "last_used_at"]

    def has_add_permission(self, request):
        return False


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    list_display = ["username", "ip_address", "failures", "last_failed_at"]
    search_fields = ["username", "ip_address"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
