"""python manage.py import_msd_task PATH --challenge SLUG"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from challenges.models import Task
from core.errors import InvalidInput

from ...services.importing import import_task
from ..import_report import write_import_result


class Command(BaseCommand):
    help = ("Import an MSD-format task (folder or tar) with its hidden test labels: creates the "
            "challenge if missing, the task, a ground-truth version, and an open phase.")

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="task folder or .tar/.tar.gz")
        parser.add_argument("--challenge", required=True, help="challenge slug")
        parser.add_argument("--kind", choices=[value for value, _ in Task.KINDS],
                            help="default: the \"clinical\" block's kind if dataset.json has "
                                 "one, else detection if labelsTs/ holds VOC XML files")
        parser.add_argument("--note", default="", help="ground-truth version note")
        parser.add_argument("--activate", action="store_true",
                            help="activate a new ground-truth version and re-queue submissions")
        parser.add_argument("--deidentify", action="store_true",
                            help="store de-identified copies of the test images (DICOM: the "
                                 "PS3.15 basic profile; NIfTI: text fields emptied; "
                                 "docs/dicom.md)")

    def handle(self, *args, path, challenge, kind, note, activate, deidentify, **options):
        verbose = options["verbosity"] > 1
        try:
            result = import_task(
                path, challenge_slug=challenge, kind=kind, note=note, activate=activate,
                progress=self.stdout.write if verbose else (lambda message: None),
                deidentify=deidentify,
            )
        except InvalidInput as exc:
            raise CommandError(str(exc)) from None
        write_import_result(self, result)
