"""python manage.py purge_upload_sessions"""

from django.core.management.base import BaseCommand

from ...uploads import purge_expired


class Command(BaseCommand):
    help = ("Delete the upload sessions past their expiry (PODIUM_UPLOAD_SESSION_HOURS after "
            "their last chunk) and their partial files. Opening a session also does it; run "
            "this from cron where uploads are rare.")

    def handle(self, *args, **options):
        self.stdout.write(f"Purged {purge_expired()} expired upload sessions.")
