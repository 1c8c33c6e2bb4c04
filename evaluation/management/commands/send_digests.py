"""python manage.py send_digests: the organizers' daily digest, now (docs/notifications.md)."""

from django.core.management.base import BaseCommand

from evaluation.notifications import send_digests


class Command(BaseCommand):
    help = ("Mail each organizer who chose the daily digest what happened in their challenges "
            "over the last 24 hours (Celery beat runs this daily).")

    def handle(self, *args, **options) -> None:
        sent = send_digests()
        self.stdout.write(f"{sent} digest(s) sent.")
