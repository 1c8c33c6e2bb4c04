"""Login pages answering 429 with ``Retry-After`` while the lockout refuses the login."""

from functools import wraps

from django.contrib import admin
from django.contrib.auth import views as auth_views

from .forms import LoginForm


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


login = with_lockout_status(auth_views.LoginView.as_view(authentication_form=LoginForm))
# The admin site's form is accounts.forms.AdminLoginForm (set in accounts/admin.py).
admin_login = with_lockout_status(admin.site.login)
