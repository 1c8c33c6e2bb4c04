"""Login forms of the pages (allauth's) and of the admin, both behind the lockout
(accounts/lockout.py)."""

from allauth.account.forms import LoginForm as AllauthLoginForm
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.db.models import Q

from . import lockout


class LockoutMixin:
    """Counts the attempt before the password is checked (refusing it while the username and
    address are locked out) and clears the count when the password is right. ``locked_for`` is
    the seconds left when the form refused a login for the lockout (the view answers 429).

    A form using it says which username is tried (:meth:`attempted_username`) and which user the
    password proved (:meth:`authenticated_user`)."""

    locked_for = 0

    def attempted_username(self) -> str:
        raise NotImplementedError

    def authenticated_user(self):
        raise NotImplementedError

    def clean(self):
        username = self.attempted_username()
        if not (username and self.cleaned_data.get("password")):
            return super().clean()  # the missing field's error; no password was tried
        address = lockout.client_address(self.request)
        self.locked_for = lockout.count_attempt(username, address)
        if self.locked_for:
            raise self._locked_out()
        try:
            return super().clean()
        except forms.ValidationError:
            if self.authenticated_user() is None:
                self.locked_for = lockout.seconds_locked(username, address)
                if self.locked_for:
                    raise self._locked_out() from None
            raise
        finally:
            # The right password, even where the admin then refuses a user who is not staff.
            if self.authenticated_user() is not None:
                lockout.reset(username, address)

    def _locked_out(self) -> forms.ValidationError:
        return forms.ValidationError(lockout.message(self.locked_for), code="locked_out")


class LoginForm(LockoutMixin, AllauthLoginForm):
    """allauth's login by username or email address. Both name one account, so the lockout
    counts them together, under the username (an email address of no account counts as typed)."""

    def attempted_username(self) -> str:
        login = (self.cleaned_data.get("login") or "").strip()
        if "@" not in login:
            return login
        owners = get_user_model().objects.filter(
            Q(emailaddress__email__iexact=login) | Q(email__iexact=login))
        owner = owners.order_by("pk").values_list("username", flat=True).first()
        return owner or login.lower()

    def authenticated_user(self):
        return self.user


class AdminLoginForm(LockoutMixin, AdminAuthenticationForm):
    def attempted_username(self) -> str:
        return self.cleaned_data.get("username") or ""

    def authenticated_user(self):
        return self.user_cache
