"""Provenance seen and corrected by organizers (console, organizer API, both audited) and seen
by participants (the phase's API: public fields only, never a manifest, label file or path)."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client

from challenges.models import GroundTruth
from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1/organizer"
DOI = "10.7937/K9/TCIA.2017.7hs46erv"
SECRET_SUBJECT = "R01-SECRET-SUBJECT"


@pytest.fixture
def phase():
    phase = factories.phase(slug="prov-edit")
    GroundTruth.objects.filter(pk=phase.active_ground_truth_id).update(
        source_collection="NSCLC Radiogenomics", source_version="4", source_doi=DOI,
        source_licence="CC BY 3.0", source_sha256="c" * 64,
        source_manifest={"subjects": {SECRET_SUBJECT: "test"}})
    return phase


@pytest.fixture
def organizer(phase):
    user = get_user_model().objects.create_user(username="prov-organizer", password="pw",
                                                is_staff=True)
    phase.task.challenge.organizers.add(user)
    return user


def audited(row) -> list[str]:
    return [entry.get_change_message() for entry in
            LogEntry.objects.filter(object_id=str(row.pk)).order_by("action_time", "pk")]


def _form(gt: GroundTruth, **changes) -> dict:
    fields = {"source_collection": gt.source_collection, "source_version": gt.source_version,
              "source_doi": gt.source_doi, "source_licence": gt.source_licence,
              "source_url": gt.source_url, "source_reference": gt.source_reference}
    return {**fields, **changes}


# --- the console -----------------------------------------------------------------------------

def test_the_console_shows_and_corrects_the_provenance_and_audits_it(phase, organizer):
    client = Client()
    client.force_login(organizer)
    gt = GroundTruth.objects.get(pk=phase.active_ground_truth_id)
    url = f"/admin/challenges/groundtruth/{gt.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "NSCLC Radiogenomics" in body and SECRET_SUBJECT in body and "c" * 64 in body
    assert set(page.context["adminform"].form.fields) == {
        "source_collection", "source_version", "source_doi", "source_licence", "source_url",
        "source_reference"}  # the labels, manifest and hashes are read-only

    refused = client.post(url, _form(gt, source_doi="TCIA-4", source_url="ftp://x.org/"))
    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors
    assert "is not a DOI: expected 10.NNNN/suffix" in errors["source_doi"][0]
    assert "is not an http(s) URL" in errors["source_url"][0]
    assert GroundTruth.objects.get(pk=gt.pk).source_doi == DOI

    saved = client.post(url, _form(gt, source_version="5",
                                   source_doi="https://doi.org/10.1234/new"))
    assert saved.status_code == 302
    now = GroundTruth.objects.get(pk=gt.pk)
    assert (now.source_version, now.source_doi) == ("5", "10.1234/new")
    assert now.provenance_changed is not None
    assert now.content_sha256 == gt.content_sha256 and now.files == gt.files
    (message,) = audited(gt)
    assert "Collection version" in message and "DOI" in message


def test_staff_outside_the_challenge_cannot_edit_the_provenance(phase):
    outsider = get_user_model().objects.create_user(username="prov-staff", password="pw",
                                                    is_staff=True)
    client = Client()
    client.force_login(outsider)
    url = f"/admin/challenges/groundtruth/{phase.active_ground_truth_id}/change/"
    assert client.post(url, {"source_doi": "10.1234/x"}).status_code in (403, 404)
    assert GroundTruth.objects.get(pk=phase.active_ground_truth_id).source_doi == DOI


# --- the organizer API -----------------------------------------------------------------------

def test_the_organizer_api_reads_and_patches_the_provenance_validated(phase, organizer):
    client = factories.api_client(organizer)
    url = f"{API}/phases/{phase.id}/ground-truths/1/"
    body = client.get(url).json()
    assert body["version"] == 1 and body["provenance"]["doi"] == DOI
    assert body["provenance"]["manifest"] == {"subjects": {SECRET_SUBJECT: "test"}}
    assert body["provenance"]["doi_url"] == f"https://doi.org/{DOI}"
    listed = client.get(f"{API}/phases/{phase.id}/ground-truths/").json()["results"]
    assert listed[0]["provenance"]["collection"] == "NSCLC Radiogenomics"

    bad = client.patch(url, {"doi": "10.12/x", "url": "gopher://x", "sha256": "0" * 64,
                             "manifest": {}}, format="json")
    assert bad.status_code == 400
    detail = bad.json()["detail"]
    assert "doi: '10.12/x' is not a DOI: expected 10.NNNN/suffix" in detail
    assert "url: 'gopher://x' is not an http(s) URL" in detail
    assert "sha256: not a provenance field" in detail
    assert "manifest: not a provenance field" in detail
    assert GroundTruth.objects.get(pk=phase.active_ground_truth_id).source_doi == DOI

    good = client.patch(url, {"licence": "CC BY 4.0", "reference": "Bakr et al. 2018",
                              "doi": DOI}, format="json")
    assert good.status_code == 200
    assert good.json()["provenance"]["licence"] == "CC BY 4.0"
    gt = GroundTruth.objects.get(pk=phase.active_ground_truth_id)
    assert (gt.source_licence, gt.source_reference) == ("CC BY 4.0", "Bakr et al. 2018")
    assert audited(gt) == ["Provenance changed: licence, reference."]
    assert "groundtruth/x/" not in good.content.decode()

    assert client.get(f"{API}/phases/{phase.id}/ground-truths/9/").status_code == 404
    participant = factories.participant(phase, "prov-participant")
    refused = factories.api_client(participant).patch(url, {"licence": "none"}, format="json")
    assert refused.status_code == 403


# --- participants ----------------------------------------------------------------------------

def test_a_participant_sees_the_provenance_but_no_manifest_file_or_path(phase):
    participant = factories.participant(phase, "prov-reader")
    answer = factories.api_client(participant).get(f"/api/v1/phases/{phase.id}/")
    assert answer.status_code == 200
    source = answer.json()["ground_truth"]
    assert source == {
        "ground_truth_version": 1,
        "collection": "NSCLC Radiogenomics", "version": "4", "doi": DOI, "licence": "CC BY 3.0",
        "url": "", "reference": "", "doi_url": f"https://doi.org/{DOI}",
        "source_sha256": "c" * 64, "manifest_sha256": source["manifest_sha256"]}
    assert len(source["manifest_sha256"]) == 64
    text = answer.content.decode()
    assert SECRET_SUBJECT not in text and "groundtruth/x/" not in text and '"files"' not in text
