"""Login pages answering 429 with ``Retry-After`` while the lockout refuses the login, and the
profile page."""

from functools import wraps

from allauth.account import views as allauth_views
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .models import Profile
from .profiles import ProfileForm


def with_lockout_status(view):
    """``view``, a login page rendering a :class:`~accounts.forms.LockoutMixin` form as
    ``form``, answering 429 when that form refused a locked-out login."""

    @wraps(view)
    def login_page(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        form = (getattr(response, "context_data", None) or {}).get("form")
        locked_for = getattr(form, "locked_for", 0)
        if locked_for:
            response.status_code = 429
            response["Retry-After"] = str(locked_for)
        return response

    return login_page


# allauth's login page; its form is accounts.forms.LoginForm (ACCOUNT_FORMS in settings).
login = with_lockout_status(allauth_views.login)
# The admin site's form is accounts.forms.AdminLoginForm (set in accounts/admin.py).
admin_login = with_lockout_status(admin.site.login)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """The user's name and affiliation, with links to their email addresses and password."""
    form = ProfileForm(request.POST or None, instance=Profile.of(request.user))
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("profile")
    return render(request, "account/profile.html", {"form": form})
