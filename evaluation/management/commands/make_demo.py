"""python manage.py make_demo"""

from django.conf import settings
from django.core.management.base import BaseCommand

from ...services.demo import ORGANIZER, PARTICIPANT, RIVALS, make_demo


class Command(BaseCommand):
    help = ("Create the demo challenge (synthetic MSD-style tasks, demo users, submissions of "
            "varied quality) and a predictions archive a newcomer can upload.")

    def handle(self, *args, **options):
        demo = make_demo(settings.DATA_DIR / "demo")
        state = "created" if demo.created else "already present"
        self.stdout.write(f"Demo challenge '{demo.challenge.title}' {state}.")
        self.stdout.write(f"  participant login: {PARTICIPANT[0]} / {PARTICIPANT[1]}")
        self.stdout.write(f"  organizer login:   {ORGANIZER[0]} / {ORGANIZER[1]}")
        self.stdout.write(f"  other demo teams:  {', '.join(name for name, _ in RIVALS)}")
        self.stdout.write("  files to upload (Submit on each task's phase):")
        for key, path in demo.predictions.items():
            self.stdout.write(f"    {key}: {path}")
