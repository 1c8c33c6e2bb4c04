"""Accounts: profiles, REST API tokens (stored hashed) and failed logins (for the lockout)."""

import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

PREFIX_LENGTH = 8


def hash_key(key: str) -> str:
    """The sha256 hex digest under which a token's key is stored (the key itself never is)."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A REST API credential of one user. Only the key's hash and its first characters (to tell
    tokens apart) are stored: the key is shown once, when :meth:`issue` creates it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for.")
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False,
                              help_text="The key's first characters (not secret).")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True,
                                      help_text="Refused from then on; empty: never expires.")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'}, {self.user})"

    @classmethod
    def issue(cls, user, *, name: str = "", expires_at: datetime | None = None
              ) -> tuple["ApiToken", str]:
        """A new token of ``user`` and its key, which only this return value ever holds."""
        key = secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, prefix=key[:PREFIX_LENGTH],
                                   key_hash=hash_key(key), expires_at=expires_at)
        return token, key

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


class LoginFailure(models.Model):
    """Failed logins of one username from one address; the row goes when a login succeeds."""

    username = models.CharField(max_length=150)
    ip_address = models.CharField(max_length=64)
    failures = models.PositiveIntegerField(default=0)
    last_failed_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["username", "ip_address"],
                                               name="one_login_failure_row")]

    def __str__(self) -> str:
        return f"{self.username} from {self.ip_address}: {self.failures}"


class Profile(models.Model):
    """What a user tells about themselves (shown to organizers with their participation), and
    which mails they want (docs/notifications.md)."""

    IMMEDIATE = "immediate"
    DAILY = "daily"
    OFF = "off"
    ORGANIZER_MAIL = [
        (IMMEDIATE, "A mail for each internal error and each participant awaiting approval"),
        (DAILY, "One daily digest"),
        (OFF, "No mail"),
    ]

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="profile")
    full_name = models.CharField(max_length=200, blank=True)
    affiliation = models.CharField(max_length=200, blank=True,
                                   help_text="Institution, company or lab.")
    notify_results = models.BooleanField(
        "Mail me my results", default=True,
        help_text="A mail when an evaluation of your submission succeeds or fails.")
    organizer_digest = models.CharField(
        "Mail about the challenges I organize", max_length=10, choices=ORGANIZER_MAIL,
        default=IMMEDIATE)

    def __str__(self) -> str:
        return self.full_name or str(self.user)

    @classmethod
    def of(cls, user) -> "Profile":
        """``user``'s profile, created empty if they have none yet."""
        return cls.objects.get_or_create(user=user)[0]
