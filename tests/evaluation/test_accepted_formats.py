"""Participants are told what a phase accepts beyond its kind's file: DICOM SEG per case (the
public phase API, the submit page, the configuration export, and what podium-score does with
it) and a survival phase's optional curve columns (the submit page)."""

import json

import numpy as np
import pytest
from django.test import Client

from challenges.config_export import phase_config
from challenges.models import Phase, Task
from evaluation.services.demo_data import write_nifti
from scorers.cli import main as score_main
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def seg_phase():
    phase = factories.phase(cases=("lung_001", "lung_002"))
    phase.task.labels = {"0": "background", "1": "tumour", "2": "Lymph node"}
    phase.task.save()
    # As the console sets it for a task imported from DICOM (the clean() check needs series).
    Phase.objects.filter(pk=phase.pk).update(accepts_dicom_seg=True, seg_fractional_threshold=0.4)
    phase.refresh_from_db()
    return phase


def submit_page(phase) -> str:
    client = Client()
    client.force_login(factories.participant(phase))
    response = client.get(f"/phases/{phase.id}/submit/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_public_phase_api_says_whether_dicom_seg_is_accepted(seg_phase):
    body = Client().get(f"/api/v1/phases/{seg_phase.id}/").json()
    assert (body["accepts_dicom_seg"], body["seg_fractional_threshold"]) == (True, 0.4)
    plain = factories.phase()
    body = Client().get(f"/api/v1/phases/{plain.id}/").json()
    assert (body["accepts_dicom_seg"], body["seg_fractional_threshold"]) == (False, 0.5)


def test_the_submit_page_names_the_seg_file_labels_and_threshold(seg_phase):
    text = submit_page(seg_phase)
    assert "<code>&lt;case&gt;.dcm</code>" in text and "<code>lung_001.dcm</code>" in text
    assert "<code>tumour</code>, <code>Lymph node</code>" in text
    assert "<code>background</code>" not in text
    assert "at least 0.4" in text and "docs/dicom.md" in text
    assert 'id="dicom-seg"' not in submit_page(factories.phase())


def test_the_configuration_export_carries_the_seg_settings(seg_phase):
    config = json.loads(Client().get(f"/phases/{seg_phase.id}/config.json").content)
    assert (config["accepts_dicom_seg"], config["seg_fractional_threshold"]) == (True, 0.4)
    plain = phase_config(factories.phase())
    assert (plain["accepts_dicom_seg"], plain["seg_fractional_threshold"]) == (False, None)


def test_podium_score_says_a_seg_prediction_is_scored_on_the_platform(seg_phase, tmp_path,
                                                                      capsys):
    config = tmp_path / "phase.json"
    config.write_text(json.dumps(phase_config(seg_phase)))
    for folder in ("ref", "pred"):
        (tmp_path / folder).mkdir()
    for case in ("lung_001", "lung_002"):
        write_nifti(tmp_path / "ref" / f"{case}.nii.gz", np.zeros((8, 8, 4), np.uint8),
                    (1.0, 1.0, 2.0))
    write_nifti(tmp_path / "pred" / "lung_001.nii.gz", np.zeros((8, 8, 4), np.uint8),
                (1.0, 1.0, 2.0))
    (tmp_path / "pred" / "lung_002.dcm").write_bytes(b"DICM")
    status = score_main(["segmentation", "--pred", str(tmp_path / "pred"), "--ref",
                         str(tmp_path / "ref"), "--config", str(config),
                         "--out", str(tmp_path / "out.json")])
    assert status == 1
    err = capsys.readouterr().err
    assert "1 test cases are predicted by a DICOM SEG: lung_002.dcm" in err
    assert "reads NIfTI label maps only" in err and err.count("\n") == 1


def survival_phase(**fields) -> Phase:
    phase = factories.phase(**fields)
    phase.task.kind = Task.SURVIVAL
    phase.task.clinical = {"target": "overall_survival", "time_unit": "days",
                           "time_column": "time", "event_column": "event"}
    phase.task.save()
    return phase


def test_the_survival_submit_page_offers_the_curve_columns_where_the_phase_has_times():
    text = submit_page(survival_phase(survival_times=[365.0, 730.0], primary_metric="c_index"))
    assert "<code>S@365,S@730</code>" in text and "<code>case,risk,S@365,S@730</code>" in text
    assert "may hold" in text and "(days)" in text and "Survival curves" in text
    ranked = submit_page(survival_phase(survival_times=[365.0, 730.0],
                                        primary_metric="integrated_brier"))
    assert "must hold" in ranked and "ranks by the integrated Brier score" in ranked
    assert 'id="survival-curve"' not in submit_page(survival_phase(primary_metric="c_index"))


def test_an_algorithm_survival_phase_mentions_the_curve_of_its_output_file():
    text = submit_page(survival_phase(survival_times=[365.0, 730.0], primary_metric="c_index",
                                      submission_kind=Phase.ALGORITHM))
    assert "after the risk, optional: the survival curve <code>S@365,S@730</code>" in text
