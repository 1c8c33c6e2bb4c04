"""python manage.py import_dicom_collection PATH --challenge SLUG --manifest CSV
[--metadata JSON] [--activate]"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import InvalidInput

from ...services.dicom_import import import_collection
from ..import_report import write_import_result


class Command(BaseCommand):
    help = ("Import a TCIA-style DICOM collection (CT/MR series with DICOM SEG ground truth; a "
            "folder or a zip/tar archive) as a segmentation task: each series is converted to "
            "NIfTI in RAS, each SEG to a label map (docs/dicom.md, \"Import\"); then as "
            "import_msd_task: the challenge if missing, the task, a ground-truth version with "
            "the collection's provenance, and an open phase.")

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="collection folder or .zip/.tar/.tar.gz")
        parser.add_argument("--challenge", required=True, help="challenge slug")
        parser.add_argument("--manifest", type=Path,
                            help="CSV with the columns subject,split (split test or train); "
                                 "default: manifest.csv at the collection's root")
        parser.add_argument("--metadata", type=Path,
                            help="JSON: name, labels, segment_map, collection, version, doi, "
                                 "licence, url, … (docs/dicom.md); default: metadata.json at "
                                 "the collection's root, if any")
        parser.add_argument("--note", default="", help="ground-truth version note")
        parser.add_argument("--activate", action="store_true",
                            help="activate a new ground-truth version and re-queue submissions")

    def handle(self, *args, path, challenge, manifest, metadata, note, activate, **options):
        verbose = options["verbosity"] > 1
        try:
            result = import_collection(
                path, challenge_slug=challenge, manifest=manifest, metadata=metadata,
                note=note, activate=activate,
                progress=self.stdout.write if verbose else (lambda message: None),
            )
        except InvalidInput as exc:
            raise CommandError(str(exc)) from None
        write_import_result(self, result, content="DICOM content")
