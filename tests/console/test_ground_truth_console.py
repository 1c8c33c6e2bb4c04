"""The ground-truth versions in the console: a version a phase scores against or an evaluation
was scored with cannot be deleted (the database protects it), so its page offers no Delete
button that would only answer that deletion is not allowed; an unused one may be deleted."""

import pytest

from challenges.models import GroundTruth
from evaluation.models import Evaluation
from tests import factories
from tests.console.conftest import logged_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("who", ["organizer_a", "superuser"])
def test_a_protected_version_offers_no_delete_button_and_stays(world, who):
    active = world.phase_a.active_ground_truth
    task = active.task
    scored = GroundTruth.objects.create(task=task, version=active.version + 1,
                                        content_sha256="8" * 64, files={})
    _, evaluation = factories.submission(world.phase_a, world.bea, state="succeeded")
    Evaluation.objects.filter(pk=evaluation.pk).update(ground_truth=scored)
    unused = GroundTruth.objects.create(task=task, version=active.version + 2,
                                        content_sha256="9" * 64, files={})
    client = logged_in(getattr(world, who))
    for version in (active, scored):  # active in a phase; an evaluation's
        base = f"/admin/challenges/groundtruth/{version.pk}/"
        page = client.get(base + "change/")
        assert page.status_code == 200
        assert "deletelink" not in page.content.decode()
        assert client.get(base + "delete/").status_code == 403
        assert client.post(base + "delete/", {"post": "yes"}).status_code == 403
    assert GroundTruth.objects.filter(pk__in=[active.pk, scored.pk]).count() == 2

    base = f"/admin/challenges/groundtruth/{unused.pk}/"
    assert "deletelink" in client.get(base + "change/").content.decode()
    assert client.post(base + "delete/", {"post": "yes"}).status_code == 302
    assert not GroundTruth.objects.filter(pk=unused.pk).exists()
