"""python manage.py api_token USERNAME [--create]"""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Print a user's REST API token (creating the token, and with --create the user)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--create", action="store_true", help="create the user if missing")

    def handle(self, *args, username, create, **options):
        users = get_user_model()
        user = users.objects.filter(username=username).first()
        if user is None:
            if not create:
                raise CommandError(f"no user {username!r} (use --create to create one)")
            user = users.objects.create_user(username=username,
                                             password=secrets.token_urlsafe(24))
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
