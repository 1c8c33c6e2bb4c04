"""python manage.py api_token USERNAME [--create] [--name NAME] [--expires-days DAYS]"""

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import ApiToken


class Command(BaseCommand):
    help = ("Issue a new REST API token for a user (with --create, creating the user) and print "
            "its key: it is shown only this once, the database keeps only its hash.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--create", action="store_true", help="create the user if missing")
        parser.add_argument("--name", default="", help="what the token is for")
        parser.add_argument("--expires-days", type=int, default=None,
                            help="refuse the token after this many days (default: never)")

    def handle(self, *args, username, create, name, expires_days, **options):
        users = get_user_model()
        user = users.objects.filter(username=username).first()
        if user is None:
            if not create:
                raise CommandError(f"no user {username!r} (use --create to create one)")
            user = users.objects.create_user(username=username,
                                             password=secrets.token_urlsafe(24))
        if expires_days is not None and expires_days <= 0:
            raise CommandError("--expires-days must be a positive number of days")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        _, key = ApiToken.issue(user, name=name[:100], expires_at=expires_at)
        self.stdout.write(key)
