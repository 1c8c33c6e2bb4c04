"""Adding a metric is one registry entry plus its function: a toy metric registered here (and
nowhere else) is accepted by phase validation, computed and stored by the worker's scoring
service, aggregated, ranked on the leaderboard, and shown by the API and the pages."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from evaluation.models import CaseResult
from evaluation.services import scoring
from leaderboard.services import refresh
from scorers.metrics import SEGMENTATION, Metric, register, unregister
from tests import factories
from tests.evaluation.helpers import cube_phase, cube_predictions_zip, prediction_zip, submit_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def recall():
    """|P ∩ R| / |R|: the toy metric, registered for the test only."""
    register(Metric("recall", "Recall", larger_better=True, kinds=(SEGMENTATION,),
                    compute=lambda pair: pair.overlap / pair.counts[1],
                    both_empty=1.0, one_empty=0.0))
    yield
    unregister("recall")


def test_a_registered_metric_flows_from_phase_settings_to_pages(recall, tmp_path):
    phase = cube_phase(tmp_path, metrics=["dice", "recall"], primary_metric="recall")
    phase.full_clean()
    assert phase.scored_metrics() == ["dice", "recall"]
    assert phase.larger_is_better()

    shifted = factories.participant(phase, "shifted")
    exact = factories.participant(phase, "exact")
    ref, _, spacing = factories.cube_labels()
    perfect = prediction_zip(tmp_path / "exact.zip", {"cube_000": ref, "cube_001": ref}, spacing)
    for user, archive in ((shifted, cube_predictions_zip(tmp_path)), (exact, perfect)):
        evaluation = submit_file(phase, user, archive).evaluations.get()
        scoring.score(evaluation.id, worker="test")

    row = CaseResult.objects.get(evaluation__submission__creator=shifted, case="cube_000",
                                 label=2)
    # Label 2: the prediction is the upper half of the 4×4×2 block: 16 of 32 voxels found.
    assert row.values == {"dice": pytest.approx(2 / 3), "recall": pytest.approx(0.5)}
    evaluation = shifted.submissions.get().evaluations.get()
    assert evaluation.aggregate["1"]["recall"] == pytest.approx(0.9)

    board = refresh(phase.id)
    assert [e["entrant"] for e in board.entries] == ["exact", "shifted"]
    assert [e["score"] for e in board.entries] == pytest.approx([1.0, 0.7])
    leaderboard = Client().get(f"/phases/{phase.id}/").content.decode()
    assert "Ranking by Recall:" in leaderboard and "0 for Dice and Recall" in leaderboard
    assert ">big Recall</th>" in leaderboard and ">small Dice</th>" in leaderboard

    client = Client()
    client.force_login(shifted)
    body = client.get(f"/api/v1/submissions/{evaluation.submission_id}/").json()
    assert {"name": "recall", "label": "Recall", "unit": "", "larger_better": True,
            "decimals": 4} in body["results"]["metrics"]
    page = client.get(f"/submissions/{evaluation.submission_id}/").content.decode()
    assert '<th scope="col">Recall</th>' in page and "0.9000" in page


def test_a_phase_refuses_a_metric_nobody_registered(tmp_path):
    phase = cube_phase(tmp_path, metrics=["dice", "recall"])
    with pytest.raises(ValidationError, match="unknown metrics: recall"):
        phase.full_clean()


def test_names_must_be_new_and_entries_complete(recall):
    with pytest.raises(ValueError, match="already registered"):
        register(Metric("dice", "Dice again", larger_better=True, kinds=(SEGMENTATION,),
                        compute=lambda pair: 0.0, both_empty=1.0))
    with pytest.raises(ValueError, match="needs compute"):
        Metric("incomplete", "Incomplete", larger_better=True, kinds=(SEGMENTATION,))
