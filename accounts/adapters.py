"""allauth, Podium's way: verification required of every account with an email address."""

from allauth.account import stages
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress

ALLAUTH_EMAIL_STAGE = "allauth.account.stages.EmailVerificationStage"


class EmailVerificationStage(stages.EmailVerificationStage):
    """allauth's mandatory verification at login, except for accounts with no email address at
    all: those an organizer made (the console, ``createsuperuser``, the demo). Every account that
    signs up has one (the sign-up form and ``SOCIALACCOUNT_EMAIL_REQUIRED`` ask for it, and
    :meth:`AccountAdapter.can_delete_email` keeps the last one), so it must verify it before it
    can log in."""

    def handle(self):
        # No user: allauth's stand-in flow for a taken address (``prevent_enumeration``).
        user = self.login.user
        if user is not None and not EmailAddress.objects.filter(user_id=user.pk).exists():
            return None, True
        return super().handle()


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "username_password_mismatch":
            "Your username and password did not match. Please try again.",
        "email_password_mismatch":
            "Your email address and password did not match. Please try again.",
    }

    def can_delete_email(self, email_address: EmailAddress) -> bool:
        """Not the last one (allauth allows it when logins by username are allowed too): every
        account that signed up keeps an address, to be verified and to reset its password."""
        others = EmailAddress.objects.filter(user_id=email_address.user_id).exclude(
            pk=email_address.pk)
        return others.exists() and super().can_delete_email(email_address)

    def get_login_stages(self) -> list[str]:
        return [f"{__name__}.EmailVerificationStage" if path == ALLAUTH_EMAIL_STAGE else path
                for path in super().get_login_stages()]
