"""Login forms of the pages and the admin, both behind the lockout (accounts/lockout.py)."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from . import lockout


class LockoutMixin:
    """Counts the attempt before the password is checked (refusing it while the username and
    address are locked out) and clears the count when the password is right. ``locked_for`` is
    the seconds left when the form refused a login for the lockout (the view answers 429)."""

    locked_for = 0

    def clean(self):
        username = self.cleaned_data.get("username")
        if not (username and self.cleaned_data.get("password")):
            return super().clean()  # the missing field's error; no password was tried
        address = lockout.client_address(self.request)
        self.locked_for = lockout.count_attempt(username, address)
        if self.locked_for:
            raise self._locked_out()
        try:
            return super().clean()
        except forms.ValidationError:
            if self.user_cache is None:
                self.locked_for = lockout.seconds_locked(username, address)
                if self.locked_for:
                    raise self._locked_out() from None
            raise
        finally:
            # The right password, even where the admin then refuses a user who is not staff.
            if self.user_cache is not None:
                lockout.reset(username, address)

    def _locked_out(self) -> forms.ValidationError:
        return forms.ValidationError(lockout.message(self.locked_for), code="locked_out")


class LoginForm(LockoutMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password did not match. Please try again.",
    }


class AdminLoginForm(LockoutMixin, AdminAuthenticationForm):
    pass
