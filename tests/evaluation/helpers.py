"""Building prediction archives and submitting them through the real services."""

import zipfile
from pathlib import Path

import numpy as np
from django.core.files import File

from evaluation.models import State
from evaluation.services.demo_data import write_nifti
from evaluation.services.importing import import_task
from evaluation.services.submission import submit
from evaluation.services.validation import validate
from tests import factories


def cube_phase(tmp_path: Path, **phase_fields):
    """The imported cube task's phase (see factories.cube_labels for the known Dice values)."""
    result = import_task(factories.write_cube_task(tmp_path / "task"), challenge_slug="cubes")
    if phase_fields:
        for name, value in phase_fields.items():
            setattr(result.phase, name, value)
        result.phase.save()
    return result.phase


def prediction_zip(path: Path, predictions: dict[str, np.ndarray],
                   spacing=(1.0, 1.0, 2.0)) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for case, array in predictions.items():
            tmp = path.parent / f"{case}.nii.gz"
            write_nifti(tmp, array, spacing)
            archive.write(tmp, arcname=f"{case}.nii.gz")
            tmp.unlink()
    return path


def cube_predictions_zip(tmp_path: Path, cases=("cube_000", "cube_001")) -> Path:
    _, pred, spacing = factories.cube_labels()
    return prediction_zip(tmp_path / "preds.zip", dict.fromkeys(cases, pred), spacing)


def submit_file(phase, user, path: Path, description: str = "", *, run_checks: bool = True):
    """Submit ``path``; with ``run_checks``, an upload left to a worker's checks (state
    ``validating``) is checked at once, as a worker would."""
    with open(path, "rb") as fh:
        submission = submit(phase=phase, user=user, upload=File(fh, name=path.name),
                            description=description)
    evaluation = submission.evaluations.get()
    if run_checks and evaluation.state == State.VALIDATING:
        validate(evaluation.id, worker="test")
        submission.refresh_from_db()
    return submission
