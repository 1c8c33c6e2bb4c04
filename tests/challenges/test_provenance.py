"""Provenance of a ground-truth version: the rules (challenges.provenance), the import from
dataset.json, the immutability of everything else, and the citation page."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from challenges import provenance
from challenges.models import GroundTruth
from core.errors import InvalidInput
from evaluation.services.importing import import_task
from tests import factories

DOI = "10.7937/K9/TCIA.2017.7hs46erv"
BLOCK = {"collection": "NSCLC Radiogenomics", "version": "4", "doi": DOI,
         "licence": "CC BY 3.0", "url": "https://www.cancerimagingarchive.net/collection/x/"}


# --- the rules -------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "stored"), [
    (DOI, DOI), (f"https://doi.org/{DOI}", DOI), (f"doi:{DOI}", DOI),
    (f"  http://dx.doi.org/{DOI} ", DOI), ("", ""), (None, ""),
])
def test_a_doi_is_stored_bare(value, stored):
    assert provenance.clean_value("doi", value) == stored


@pytest.mark.parametrize("value", ["11.1234/x", "10.12/x", "10.1234", "10.1234/", "doi 10.1234",
                                   "10.1234/a b", "https://example.org/10.1234/x"])
def test_a_malformed_doi_is_refused_with_the_expected_form(value):
    stored, errors = provenance.clean({"doi": value})
    assert stored == {} and "is not a DOI: expected 10.NNNN/suffix" in errors["doi"]


@pytest.mark.parametrize("value", ["ftp://example.org/x", "javascript:alert(1)", "example.org",
                                   "https://", "http://exa mple.org"])
def test_only_http_urls_are_accepted(value):
    assert "is not an http(s) URL" in provenance.clean({"url": value})[1]["url"]


def test_lengths_types_control_characters_and_unknown_fields_are_refused_by_name():
    stored, errors = provenance.clean({"collection": "x" * 201, "version": 4,
                                       "licence": "CC\nBY", "colour": "red", "url": ""})
    assert stored == {"source_url": ""}
    assert errors == {
        "collection": "at most 200 characters (got 201)",
        "version": "expected text, got int",
        "licence": "one line of text without control characters",
        "colour": "not a provenance field; expected one of collection, version, doi, licence, "
                  "url, reference",
    }
    # The import's own fields are not editable afterwards.
    assert "not a provenance field" in provenance.clean({"manifest": {}})[1]["manifest"]


def test_the_manifest_and_the_source_hash_are_bounded():
    big = {"subjects": [f"R01-{k:06d}" for k in range(100_000)]}
    _, errors = provenance.clean({"manifest": big, "sha256": "abc"}, imported=True)
    assert errors["manifest"].startswith("at most 1024 KiB as JSON (got ")
    assert errors["sha256"] == "expected a SHA-256 digest: 64 hexadecimal digits"
    assert "expected a JSON object or list" in provenance.clean(
        {"manifest": "x"}, imported=True)[1]["manifest"]
    stored, errors = provenance.clean({"sha256": "AB" * 32}, imported=True)
    assert errors == {} and stored == {"source_sha256": "ab" * 32}


def test_msd_keys_map_and_a_doi_and_link_are_picked_out_of_the_reference():
    fields = provenance.from_dataset({
        "name": "Liver", "release": "1.0 04/05/2018", "licence": "CC-BY-SA 4.0",
        "reference": "King's College London, https://doi.org/10.1038/s41467-022-30695-9.",
    })
    assert fields == {
        "source_version": "1.0 04/05/2018", "source_licence": "CC-BY-SA 4.0",
        "source_reference": "King's College London, "
                            "https://doi.org/10.1038/s41467-022-30695-9.",
        "source_doi": "10.1038/s41467-022-30695-9",
        "source_url": "https://doi.org/10.1038/s41467-022-30695-9",
    }
    assert provenance.from_dataset({"licence": "x" * 500})["source_licence"] == "x" * 200


def test_the_provenance_block_wins_and_its_errors_name_dataset_json_and_the_field():
    fields = provenance.from_dataset({"release": "1.0", "provenance": BLOCK})
    assert fields["source_version"] == "4" and fields["source_doi"] == DOI
    with pytest.raises(InvalidInput) as refused:
        provenance.from_dataset({"provenance": {**BLOCK, "doi": "10.7937",
                                                "url": "file:///etc/passwd"}})
    assert str(refused.value) == (
        "dataset.json: provenance.doi: '10.7937' is not a DOI: expected 10.NNNN/suffix, e.g. "
        "10.7937/K9/TCIA.2015.PF0M9REI (a doi.org link is accepted too); provenance.url: "
        "'file:///etc/passwd' is not an http(s) URL")
    with pytest.raises(InvalidInput, match='"provenance" must be a JSON object'):
        provenance.from_dataset({"provenance": ["NSCLC"]})


@pytest.mark.django_db
def test_citations_name_the_source_version_licence_and_doi():
    phase = factories.phase()
    gt = phase.active_ground_truth
    for field, value in provenance.clean({**BLOCK, "reference": "Bakr S et al. {2018}"})[0].items():
        setattr(gt, field, value)
    assert provenance.citation_text(phase.task, gt) == (
        "Bakr S et al. {2018}. NSCLC Radiogenomics (version 4) [Data set]. Licence: CC BY 3.0. "
        f"https://doi.org/{DOI}")
    entry = provenance.bibtex(phase.task, gt)
    assert entry.startswith("@misc{Task01_Test_v1,\n  title = {NSCLC Radiogenomics},")
    assert f"  doi = {{{DOI}}}," in entry and "note = {Bakr S et al. \\{2018\\}}" in entry


# --- import ----------------------------------------------------------------------------------

def _task_with(tmp_path, **extra):
    folder = factories.write_cube_task(tmp_path / "src")
    dataset = json.loads((folder / "dataset.json").read_text())
    (folder / "dataset.json").write_text(json.dumps({**dataset, **extra}))
    return folder


@pytest.mark.django_db
def test_an_import_stores_the_provenance_block_with_its_manifest_and_hash(tmp_path):
    manifest = {"subjects": {"R01-001": "test", "R01-002": "test"}}
    importer = factories.user("importer")
    folder = _task_with(tmp_path, release="2018", licence="CC BY 3.0",
                        provenance={**BLOCK, "manifest": manifest, "sha256": "c" * 64})
    result = import_task(folder, challenge_slug="prov", imported_by=importer)
    gt = GroundTruth.objects.get(pk=result.ground_truth.pk)
    assert (gt.source_collection, gt.source_version, gt.source_doi, gt.source_licence,
            gt.source_url) == ("NSCLC Radiogenomics", "4", DOI, "CC BY 3.0", BLOCK["url"])
    assert gt.source_manifest == manifest and gt.source_sha256 == "c" * 64
    assert gt.imported_by == importer and gt.provenance_changed is None

    # The same labels again, described otherwise: nothing changes, and the import says so.
    folder = _task_with(tmp_path / "again", provenance={**BLOCK, "version": "5"})
    again = import_task(folder, challenge_slug="prov")
    assert not again.ground_truth_created and again.ground_truth.source_version == "4"
    assert any("keeps its provenance" in note for note in again.notes)


@pytest.mark.django_db
def test_an_import_with_a_bad_doi_is_refused_before_anything_is_stored(tmp_path):
    folder = _task_with(tmp_path, provenance={**BLOCK, "doi": "doi.org/TCIA"})
    with pytest.raises(InvalidInput, match=r"^dataset.json: provenance.doi: 'doi.org/TCIA' is "
                                           "not a DOI"):
        import_task(folder, challenge_slug="prov")
    assert not GroundTruth.objects.exists()


@pytest.mark.django_db
def test_only_the_provenance_of_a_version_may_change():
    gt = factories.phase().active_ground_truth
    gt.source_doi = DOI
    gt.save(update_fields=["source_doi"])
    assert GroundTruth.objects.get(pk=gt.pk).source_doi == DOI
    for fields in (None, ["files"], ["source_doi", "content_sha256"], ["source_manifest"]):
        with pytest.raises(ValidationError, match="immutable"):
            gt.save(**({"update_fields": fields} if fields else {}))


# --- the citation page -----------------------------------------------------------------------

@pytest.mark.django_db
def test_the_citation_page_shows_each_scored_source_with_its_doi_and_citation():
    phase = factories.phase(slug="cite-source")
    GroundTruth.objects.filter(pk=phase.active_ground_truth_id).update(
        source_manifest={"subjects": {"R01-SECRET-SUBJECT": "test"}},
        **provenance.clean(BLOCK)[0])
    body = Client().get(f"/challenges/{phase.challenge.slug}/citation/").content.decode()
    section = body[body.index('id="how-to-cite"'):]
    for text in ["Test: ground truth version 1", "NSCLC Radiogenomics (version 4)",
                 f'<a href="https://doi.org/{DOI}" rel="noopener">{DOI}</a>', "CC BY 3.0",
                 f"NSCLC Radiogenomics (version 4) [Data set]. Licence: CC BY 3.0. "
                 f"https://doi.org/{DOI}", "@misc{Task01_Test_v1,"]:
        assert text in section, text
    assert "R01-SECRET-SUBJECT" not in body and "groundtruth/x/" not in body
    assert "0" * 12 not in body  # not even the start of the labels' hash (a guess oracle)
