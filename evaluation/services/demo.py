"""The demo challenge: two segmentation tasks and one detection task, demo users, and scored
submissions of varied quality, so a first run shows a filled leaderboard."""

import logging
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File

from challenges.models import Challenge, Phase
from challenges.services.participation import join
from evaluation.services.submission import submit

from . import demo_data
from .importing import import_task

log = logging.getLogger(__name__)

SLUG = "decathlon-demo"
ORGANIZER = ("organizer", "podium-organizer")
PARTICIPANT = ("participant", "podium-demo")
RIVALS = [("team-alpha", 0.95), ("team-beta", 0.85), ("team-gamma", 0.7), ("team-delta", 0.5)]
TERMS = ("Use the test images only to produce your submissions. Do not try to obtain the hidden "
         "labels. Results may be published with your team name.")


@dataclass
class Demo:
    challenge: Challenge
    predictions_archive: Path
    created: bool


def make_demo(root: Path) -> Demo:
    """Create the demo challenge under ``root`` (once; a second call only reports it)."""
    archive = root / "predictions" / "Task01_DemoLiver_predictions.zip"
    existing = Challenge.objects.filter(slug=SLUG).first()
    if existing is not None and archive.exists():
        return Demo(existing, archive, created=False)
    liver = demo_data.write_segmentation_task(
        root / "tasks", key="Task01_DemoLiver", name="DemoLiver", prefix="liver",
        labels={"0": "background", "1": "liver", "2": "tumour"}, n_cases=10,
        shape=(96, 96, 40), spacing=(0.8, 0.8, 2.5), seed=1)
    prostate = demo_data.write_segmentation_task(
        root / "tasks", key="Task02_DemoProstate", name="DemoProstate", prefix="prostate",
        labels={"0": "background", "1": "central gland", "2": "peripheral zone"}, n_cases=8,
        shape=(80, 80, 20), spacing=(0.6, 0.6, 3.6), modality={"0": "T2", "1": "ADC"}, seed=2)
    detection, boxes = demo_data.write_detection_task(
        root / "tasks", key="Task03_DemoLungDx", n_images=12, seed=3)
    phases = {}
    for folder in (liver, prostate, detection):
        result = import_task(folder, challenge_slug=SLUG, note="demo data v1")
        phases[folder.name] = result.phase
    challenge = Challenge.objects.get(slug=SLUG)
    challenge.title = "Podium Decathlon Demo"
    challenge.description = ("A small Decathlon-style challenge with synthetic data: liver and "
                             "tumour CT, prostate MRI (two channels), and lung tumour detection.")
    challenge.terms = TERMS
    challenge.save()
    # The demo's labels are synthetic, nothing to keep secret: it shows per-case results (off
    # by default, as they reveal every hidden label's size; docs/security.md).
    Phase.objects.filter(pk__in=[p.pk for p in phases.values()]).update(
        submission_limit=10, show_case_results=True)
    users = get_user_model()
    organizer = _user(users, *ORGANIZER, staff=True)
    challenge.organizers.add(organizer)
    join(challenge, _user(users, *PARTICIPANT))
    for index, (name, quality) in enumerate(RIVALS):
        rival = _user(users, name, f"{name}-password")
        join(challenge, rival)
        for folder in (liver, prostate):
            upload = demo_data.write_predictions_archive(
                folder, root / "rivals" / f"{name}-{folder.name}.zip", quality=quality,
                seed=100 + index)
            _submit(phases[folder.name], rival, upload, f"{name} U-Net")
        csv = demo_data.write_box_predictions(boxes, root / "rivals" / f"{name}-boxes.csv",
                                              quality=quality, seed=200 + index)
        _submit(phases[detection.name], rival, csv, f"{name} detector")
    demo_data.write_predictions_archive(liver, archive, quality=0.9, seed=7)
    return Demo(challenge, archive, created=True)


def _user(users, username: str, password: str, *, staff: bool = False):
    user = users.objects.filter(username=username).first()
    if user is None:
        user = users.objects.create_user(username=username, password=password,
                                         is_staff=staff, is_superuser=staff)
    return user


def _submit(phase: Phase, user, path: Path, description: str) -> None:
    with open(path, "rb") as fh:
        submit(phase=phase, user=user, upload=File(fh, name=path.name), description=description)
