"""Factories for model rows and real task folders (NIfTI written with nibabel)."""

import itertools
import json
from pathlib import Path

import numpy as np
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from accounts.models import ApiToken
from challenges.models import Challenge, GroundTruth, Participation, Phase, Task
from evaluation.models import Evaluation, Submission
from evaluation.services.demo_data import write_nifti

_counter = itertools.count()


def user(username: str | None = None, *, password: str = "pw", staff: bool = False):  # noqa: S107
    username = username or f"user{next(_counter)}"
    return get_user_model().objects.create_user(username=username, password=password,
                                                is_staff=staff, is_superuser=staff)


def token(for_user, **fields) -> str:
    """The key of a new API token of ``for_user``."""
    return ApiToken.issue(for_user, **fields)[1]


def api_client(for_user=None) -> APIClient:
    """A REST client, authenticated with the user's token when one is given."""
    client = APIClient()
    if for_user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token(for_user)}")
    return client


def phase(*, slug: str | None = None, cases=("case_a", "case_b"), **phase_fields) -> Phase:
    """A phase of a segmentation task whose ground-truth rows point at no real files."""
    challenge = Challenge.objects.create(slug=slug or f"challenge-{next(_counter)}", title="C")
    geometry = {"shape": [8, 8, 4], "spacing_mm": [1.0, 1.0, 2.0],
                "affine": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]}
    task = Task.objects.create(
        challenge=challenge, key="Task01_Test", name="Test",
        labels={"0": "background", "1": "organ"},
        cases=[{"name": c, "image": f"imagesTs/{c}.nii.gz", "geometry": geometry} for c in cases],
    )
    gt = GroundTruth.objects.create(task=task, version=1, content_sha256="0" * 64,
                                    files={c: {"path": f"groundtruth/x/{c}"} for c in cases})
    return Phase.objects.create(task=task, active_ground_truth=gt, **phase_fields)


def participant(for_phase: Phase, username: str | None = None, *,
                status: str = Participation.ACCEPTED):
    member = user(username)
    Participation.objects.create(challenge=for_phase.task.challenge, user=member, status=status,
                                 terms_accepted_at="2026-01-01T00:00:00Z")
    return member


def submission(for_phase: Phase, creator, *, state: str = "queued", **evaluation_fields):
    """A submission row with one evaluation in ``state`` (its file holds placeholder bytes)."""
    sub = Submission(phase=for_phase, creator=creator, kind=for_phase.submission_kind,
                     file_name="preds.zip", file_size=3, file_sha256="0" * 64)
    sub.file = default_storage.save(f"submissions/{for_phase.id}/{sub.id}/upload",
                                    ContentFile(b"zip"))
    sub.save()
    evaluation = Evaluation.objects.create(
        submission=sub, ground_truth=for_phase.active_ground_truth,
        metric_config=for_phase.metric_config(), state=state, **evaluation_fields,
    )
    return sub, evaluation


def cube_labels(shape=(20, 20, 10), spacing=(1.0, 1.0, 2.0)):
    """A reference with two labels and a prediction with exactly known Dice per label:
    label 1: a 10×10×4 block vs the same block shifted by one voxel → Dice 2·360/800 = 0.9;
    label 2: a 4×4×2 block vs its upper half → Dice 2·16/48 = 2/3."""
    ref = np.zeros(shape, np.uint8)
    ref[2:12, 2:12, 2:6] = 1
    ref[14:18, 14:18, 6:8] = 2
    pred = np.zeros(shape, np.uint8)
    pred[3:13, 2:12, 2:6] = 1
    pred[14:18, 14:18, 6:7] = 2
    return ref, pred, spacing


def write_cube_task(root: Path, *, cases=("cube_000", "cube_001"), key="Task09_Cubes") -> Path:
    """An MSD folder whose every case is :func:`cube_labels`' reference."""
    ref, _, spacing = cube_labels()
    folder = root / key
    for sub in ("imagesTs", "labelsTs"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for case in cases:
        write_nifti(folder / "labelsTs" / f"{case}.nii.gz", ref, spacing)
        write_nifti(folder / "imagesTs" / f"{case}.nii.gz", ref.astype(np.float32) * 100, spacing)
    (folder / "dataset.json").write_text(json.dumps({
        "name": "Cubes", "tensorImageSize": "3D", "modality": {"0": "CT"},
        "labels": {"0": "background", "1": "big", "2": "small"},
        "numTest": len(cases), "test": [f"./imagesTs/{c}.nii.gz" for c in cases],
    }))
    return folder
