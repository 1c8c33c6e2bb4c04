"""Console for platform administrators only: profiles, API tokens (never their keys) and failed
logins (delete a row to unlock)."""

from django.contrib import admin

from .forms import AdminLoginForm
from .models import ApiToken, LoginFailure, Profile
from .roles import is_platform_admin

admin.site.login_form = AdminLoginForm


class PlatformAdminOnly:
    """A console table for platform administrators only, whatever model permissions a staff
    user was given: its rows belong to no challenge, so no organizer may see them
    (docs/security.md#roles). podium/admin.py puts every such table behind it."""

    def has_module_permission(self, request):
        return is_platform_admin(request.user) and super().has_module_permission(request)

    def has_add_permission(self, request, *args):
        return is_platform_admin(request.user) and super().has_add_permission(request, *args)

    def has_view_permission(self, request, obj=None):
        return is_platform_admin(request.user) and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return is_platform_admin(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_platform_admin(request.user) and super().has_delete_permission(request, obj)


@admin.register(ApiToken)
class ApiTokenAdmin(PlatformAdminOnly, admin.ModelAdmin):
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
class LoginFailureAdmin(PlatformAdminOnly, admin.ModelAdmin):
    list_display = ["username", "ip_address", "failures", "last_failed_at"]
    search_fields = ["username", "ip_address"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "full_name", "affiliation"]
    search_fields = ["user__username", "user__email", "full_name", "affiliation"]
    readonly_fields = ["user"]

    def has_add_permission(self, request):
        return False
