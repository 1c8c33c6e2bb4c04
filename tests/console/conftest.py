"""The world of tests/security/test_roles.py (challenge A with its staff organizer, challenge B,
a superuser), and a detection phase in A."""

import pytest

from challenges.models import GroundTruth, Phase, Task
from tests.security import test_roles

world = test_roles.world  # the fixture, shared
logged_in = test_roles.logged_in


@pytest.fixture
def detection_phase(world) -> Phase:
    task = Task.objects.create(challenge=world.a, key="Task10_Boxes", name="Boxes",
                               kind=Task.DETECTION, labels={"0": "nodule", "1": "mass"},
                               cases=[{"name": "img_000", "image": None,
                                       "geometry": {"width": 64, "height": 64}}])
    gt = GroundTruth.objects.create(task=task, version=1, content_sha256="1" * 64,
                                    files={"img_000": {"path": "groundtruth/x/img_000.xml"}})
    return Phase.objects.create(task=task, active_ground_truth=gt, primary_metric="mAP")
