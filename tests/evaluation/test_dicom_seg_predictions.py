"""DICOM SEG predictions (docs/dicom.md, "DICOM SEG predictions"): a phase of a task imported
from DICOM takes, per case, a NIfTI label map or a SEG named ``<case>.dcm``; the SEG is checked
against the case's series before scoring and scored exactly as the equivalent NIfTI is.

The task is built as the DICOM collection import will store it: series written with
tests/dicom_factories.py, converted with imaging.series into an MSD folder, imported, and each
case given its ``dicom`` entry. Label maps are drawn independently of the code under test: a
sphere in patient millimetres, evaluated at each voxel centre of the NIfTI grid (for the NIfTI
files) or of the DICOM slices (for the SEG objects, via highdicom)."""

import json
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from pydicom.uid import generate_uid

from challenges.models import Challenge, Phase
from evaluation.kinds import dicom_seg, segmentation
from evaluation.models import CaseResult, State
from evaluation.services import scoring
from evaluation.services.importing import import_task
from imaging.collection import convert_collection
from imaging.series import read_series, write_nifti
from tests import dicom_factories as dcm
from tests import factories

from .helpers import submit_file

pytestmark = pytest.mark.django_db

LABELS = {"0": "background", "1": "tumour", "2": "organ"}
CASES = {"lung_001": {"orientation": "axial"},
         "lung_002": {"orientation": "sagittal", "descending": True, "origin": (10, -8, 8)}}
# Radii and centres off the voxel grid's round numbers, so that no voxel centre lies on a
# sphere (where rounding, not geometry, would decide which side it is on).
TRUTH = {"tumour": ((0.013, -1.021, 0.017), 4.1237), "organ": ((4.011, 2.019, 3.007), 5.0713)}
GUESS = {"tumour": ((0.713, -1.517, 2.511), 4.5311), "organ": ((3.009, 2.023, 1.013), 5.0419)}
CENTRE = np.array([1.013, -1.507, 0.011])  # for the fractional map: a soft ball around here


def lps_of_voxels(affine: np.ndarray, shape) -> np.ndarray:
    """LPS mm of every voxel centre of a RAS grid, indexed (i, j, k, xyz)."""
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    ras = ijk @ affine[:3, :3].T + affine[:3, 3]
    return ras * np.array([-1.0, -1.0, 1.0])


def label_map(lps: np.ndarray, spheres: dict) -> np.ndarray:
    """Tumour (1) and organ (2) from their spheres; the organ yields where they overlap."""
    tumour = dcm.sphere_mask(lps, *spheres["tumour"])
    organ = dcm.sphere_mask(lps, *spheres["organ"]) & ~tumour
    return (tumour * 1 + organ * 2).astype(np.uint8)


def soft_ball(lps: np.ndarray) -> np.ndarray:
    """A fractional map in [0, 1]: 1 at CENTRE, falling linearly to 0 at 6 mm."""
    return np.clip(1 - np.linalg.norm(lps - CENTRE, axis=-1) / 6.0, 0, 1)


class DicomTask:
    """The imported task, its phase, and per case its series and converted volume."""

    def __init__(self, root: Path):
        folder = root / "Task06_DicomLung"
        self.series, self.volumes = {}, {}
        for sub in ("imagesTs", "labelsTs"):
            (folder / sub).mkdir(parents=True)
        for case, options in CASES.items():
            series = dcm.ct_series(root / "dicom" / case, patient_id=case, **options)
            volume = read_series(series.files)
            write_nifti(volume, folder / "imagesTs" / f"{case}.nii.gz")
            truth = label_map(lps_of_voxels(volume.affine, volume.array.shape), TRUTH)
            write_nifti(volume, folder / "labelsTs" / f"{case}.nii.gz", array=truth)
            self.series[case], self.volumes[case] = series, volume
        (folder / "dataset.json").write_text(json.dumps({
            "name": "DICOM lung", "tensorImageSize": "3D", "modality": {"0": "CT"},
            "labels": LABELS, "numTest": len(CASES),
            "test": [f"./imagesTs/{case}.nii.gz" for case in CASES]}))
        self.phase = import_task(folder, challenge_slug="dicom-lung").phase
        task = self.phase.task
        for entry in task.cases:  # as the DICOM collection import stores it
            geometry = self.volumes[entry["name"]].geometry
            entry["dicom"] = {"geometry": geometry.to_dict(),
                              "series_instance_uid": geometry.series_instance_uid,
                              "frame_of_reference_uid": geometry.frame_of_reference_uid,
                              "sop_instance_uids": list(geometry.ras_sop_instance_uids)}
        task.save()
        self.phase.accepts_dicom_seg = True
        self.phase.full_clean()
        self.phase.save()
        self.root = root

    def nifti(self, case: str, array: np.ndarray) -> Path:
        path = self.root / "nifti" / f"{case}.nii.gz"
        path.parent.mkdir(exist_ok=True)
        write_nifti(self.volumes[case], path, array=array)
        return path

    def nifti_of(self, case: str, spheres=GUESS) -> Path:
        volume = self.volumes[case]
        return self.nifti(case, label_map(lps_of_voxels(volume.affine, volume.array.shape),
                                          spheres))

    def seg_of(self, case: str, spheres=GUESS, *, series=None, names=("tumour", "organ"),
               **options) -> Path:
        """A binary SEG of ``spheres`` over ``case``'s series (or ``series``)."""
        series = series or self.series[case]
        world = series.pixel_world()
        labels = label_map(world, spheres)
        segments = [dcm.Segment(name, labels == value, code)
                    for name, value, code in zip(names, (1, 2), (dcm.TUMOR, dcm.ORGAN),
                                                 strict=True)]
        return dcm.seg_object(self.root / "seg" / f"{generate_uid()}.dcm", series, segments,
                              **options)


@pytest.fixture
def built(tmp_path) -> DicomTask:
    return DicomTask(tmp_path)


def archive(path: Path, members: dict[str, Path]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, source in members.items():
            out.write(source, arcname=name)
    return path


def scored(phase: Phase, user, path: Path):
    submission = submit_file(phase, user, path)
    evaluation = submission.evaluations.get()
    assert evaluation.state == State.QUEUED, evaluation.participant_message
    scoring.score(evaluation.id, worker="test")
    evaluation.refresh_from_db()
    assert evaluation.state == State.SUCCEEDED, evaluation.participant_message
    return evaluation


def results(evaluation) -> dict:
    return {(row.case, row.label): (row.values, row.missing)
            for row in CaseResult.objects.filter(evaluation=evaluation)}


def refused(phase: Phase, user, path: Path) -> str:
    submission = submit_file(phase, user, path)
    evaluation = submission.evaluations.get()
    assert evaluation.state == State.FAILED
    assert submission.is_valid is False
    return evaluation.participant_message


def test_seg_scores_equal_the_equivalent_nifti(built, tmp_path):
    user = factories.participant(built.phase)
    niftis = archive(tmp_path / "nifti.zip", {f"{c}.nii.gz": built.nifti_of(c) for c in CASES})
    segs = archive(tmp_path / "seg.zip", {f"{c}.dcm": built.seg_of(c) for c in CASES})
    by_nifti = results(scored(built.phase, user, niftis))
    by_seg = results(scored(built.phase, user, segs))
    assert by_seg == by_nifti  # every metric of every case and label, exactly
    assert len(by_seg) == 4 and not any(missing for _, missing in by_seg.values())
    dice = {key: values["dice"] for key, (values, _) in by_seg.items()}
    assert all(0.2 < value < 1 for value in dice.values()), dice  # overlapping, not equal


def test_a_seg_is_checked_by_a_worker_and_nifti_stays_in_the_request(built, tmp_path):
    user = factories.participant(built.phase)
    mixed = archive(tmp_path / "mixed.zip", {"lung_001.nii.gz": built.nifti_of("lung_001"),
                                             "lung_002.dcm": built.seg_of("lung_002")})
    waiting = submit_file(built.phase, user, mixed, run_checks=False).evaluations.get()
    assert waiting.state == State.VALIDATING
    niftis = archive(tmp_path / "nifti.zip", {f"{c}.nii.gz": built.nifti_of(c) for c in CASES})
    assert submit_file(built.phase, user, niftis, run_checks=False).evaluations.get().state \
        == State.QUEUED
    evaluation = scored(built.phase, user, mixed)
    assert results(evaluation) == results(scored(built.phase, user, niftis))


def test_a_tar_of_segs_is_checked_and_scored_as_a_zip_is(built, tmp_path):
    user = factories.participant(built.phase)
    path = tmp_path / "seg.tar.gz"
    with tarfile.open(path, "w:gz") as out:
        for case in CASES:
            out.add(built.seg_of(case), arcname=f"predictions/{case}.dcm")
    niftis = archive(tmp_path / "nifti.zip", {f"{c}.nii.gz": built.nifti_of(c) for c in CASES})
    assert results(scored(built.phase, user, path)) == results(
        scored(built.phase, user, niftis))
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as out:
        out.add(built.seg_of("lung_002"), arcname="lung_001.dcm")
        out.add(built.seg_of("lung_002"), arcname="lung_002.dcm")
    assert re.search(r"case lung_001: FrameOfReferenceUID", refused(built.phase, user, bad))


@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_fractional_seg_is_thresholded_by_the_phase(built, tmp_path, threshold):
    Phase.objects.filter(pk=built.phase.pk).update(seg_fractional_threshold=threshold)
    phase = Phase.objects.get(pk=built.phase.pk)
    assert phase.metric_config()["seg_fractional_threshold"] == threshold
    user = factories.participant(phase)
    segs, niftis = {}, {}
    for case in CASES:
        series, volume = built.series[case], built.volumes[case]
        # Stored as v = round(p · 200) of a maximum of 200; inside where v / 200 ≥ t.
        soft = np.rint(soft_ball(series.pixel_world()) * 200) / 200
        segs[f"{case}.dcm"] = dcm.seg_object(
            tmp_path / f"{case}-fractional.dcm", series, [dcm.Segment("Tumour", soft)],
            fractional=True, max_fractional_value=200)
        expected = np.rint(soft_ball(lps_of_voxels(volume.affine, volume.array.shape)) * 200)
        niftis[f"{case}.nii.gz"] = built.nifti(case, (expected >= threshold * 200)
                                               .astype(np.uint8))
    by_seg = results(scored(phase, user, archive(tmp_path / "seg.zip", segs)))
    by_nifti = results(scored(phase, user, archive(tmp_path / "nifti.zip", niftis)))
    assert by_seg == by_nifti
    # The two thresholds give different masks, so a threshold ignored would fail one of them.
    assert ((expected >= 100) != (expected >= 160)).sum() > 10


def test_a_case_given_twice_is_refused(built, tmp_path):
    user = factories.participant(built.phase)
    twice = archive(tmp_path / "twice.zip", {"lung_001.nii.gz": built.nifti_of("lung_001"),
                                             "lung_001.dcm": built.seg_of("lung_001"),
                                             "lung_002.dcm": built.seg_of("lung_002")})
    with pytest.raises(Exception, match=r"case lung_001: the archive holds two predictions"):
        submit_file(built.phase, user, twice)


def test_a_phase_that_does_not_accept_seg_says_so(built, tmp_path):
    Phase.objects.filter(pk=built.phase.pk).update(accepts_dicom_seg=False)
    phase = Phase.objects.get(pk=built.phase.pk)
    user = factories.participant(phase)
    segs = archive(tmp_path / "seg.zip", {f"{c}.dcm": built.seg_of(c) for c in CASES})
    with pytest.raises(Exception, match=r"not a test case: lung_001\.dcm, lung_002\.dcm .*"
                                        r"this phase does not accept DICOM SEG"):
        submit_file(phase, user, segs)


def hostile(built: DicomTask, tmp_path: Path, kind: str) -> Path:
    """A SEG for lung_001 that must be refused, ``kind`` saying how."""
    if kind == "another series":  # same frame of reference, same grid, another series
        other = dcm.ct_series(tmp_path / "other", frame_uid=built.series["lung_001"].frame_uid)
        return built.seg_of("lung_001", series=other)
    if kind == "another case's series":
        return built.seg_of("lung_002")
    if kind == "wrong frame of reference":
        return built.seg_of("lung_001", FrameOfReferenceUID=generate_uid())
    if kind == "huge frame count":
        return built.seg_of("lung_001", NumberOfFrames=10**7)
    if kind == "truncated":
        return dcm.truncated(built.seg_of("lung_001"), tmp_path / "cut.dcm", keep=0.6)
    if kind == "unknown segment":
        return built.seg_of("lung_001", names=("tumour", "spleen"))
    if kind == "not DICOM":
        return dcm.not_dicom(tmp_path / "text.dcm")
    raise AssertionError(kind)


HOSTILE = {
    "another series": r"case lung_001: references series [\d.]+, not the image series "
                      r"[\d.]+$",  # no case has it: none named
    "another case's series": r"case lung_001: FrameOfReferenceUID [\d.]+ is not the image's "
                             r"[\d.]+; that is the series of test case lung_002: each case's "
                             r"SEG must be made on that case's own series$",
    "wrong frame of reference": r"case lung_001: FrameOfReferenceUID [\d.]+ is not the image's",
    "huge frame count": r"case lung_001: declares 10000000 frames, more than the limit of 20",
    "truncated": r"case lung_001: truncated DICOM file",
    "unknown segment": r"case lung_001: no label for segment 2 'spleen' .*the segment mapping "
                       r"knows background, organ, tumour",
    "not DICOM": r"case lung_001: not a DICOM file",
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_segs_are_refused_each_with_its_own_message(built, tmp_path, kind):
    user = factories.participant(built.phase)
    upload = archive(tmp_path / "hostile.zip", {"lung_001.dcm": hostile(built, tmp_path, kind),
                                                "lung_002.dcm": built.seg_of("lung_002")})
    message = refused(built.phase, user, upload)
    assert re.search(HOSTILE[kind], message), message


def test_segment_labels_match_the_task_labels_without_regard_to_case(built, tmp_path):
    user = factories.participant(built.phase)
    segs = archive(tmp_path / "seg.zip", {f"{c}.dcm": built.seg_of(c, names=(" Tumour", "ORGAN"))
                                          for c in CASES})
    niftis = archive(tmp_path / "nifti.zip", {f"{c}.nii.gz": built.nifti_of(c) for c in CASES})
    assert results(scored(built.phase, user, segs)) == results(scored(built.phase, user, niftis))


def test_a_seg_larger_than_its_series_can_hold_is_refused_from_the_listing(built, tmp_path):
    user = factories.participant(built.phase)
    cap = dicom_seg.max_file_bytes(built.phase.task, "lung_001")
    padded = built.seg_of("lung_001")
    padded.write_bytes(padded.read_bytes() + bytes(cap))
    upload = archive(tmp_path / "big.zip", {"lung_001.dcm": padded,
                                            "lung_002.dcm": built.seg_of("lung_002")})
    with pytest.raises(Exception, match=r"case lung_001: 'lung_001\.dcm' is \d+ bytes, more "
                                        r"than a DICOM SEG of this case's series can be"):
        submit_file(built.phase, user, upload)


def test_the_size_bound_follows_the_geometry(built):
    task = built.phase.task
    # 10 slices × 2 labels = 20 frames of 20 × 24 pixels, one byte each, and their groups.
    assert dicom_seg.max_file_bytes(task, "lung_001") == (
        20 * (20 * 24 + dicom_seg.PER_FRAME_BYTES) + dicom_seg.HEADER_BYTES)
    assert segmentation.case_name("lung_001.dcm") is None
    assert segmentation.case_name("lung_001.dcm", dicom=True) == "lung_001"


def test_a_case_without_a_series_takes_nifti_only(built, tmp_path):
    task = built.phase.task
    task.cases[1].pop("dicom")
    task.save()
    user = factories.participant(built.phase)
    upload = archive(tmp_path / "seg.zip", {f"{c}.dcm": built.seg_of(c) for c in CASES})
    with pytest.raises(Exception, match=r"case lung_002: 'lung_002\.dcm' is a DICOM SEG, but "
                                        r"this case's test image was not imported from a DICOM"):
        submit_file(built.phase, user, upload)


def test_phase_settings_are_validated(built, tmp_path):
    phase = built.phase
    phase.seg_fractional_threshold = 0.0
    with pytest.raises(ValidationError, match="above 0"):
        phase.full_clean()
    cubes = factories.phase(slug="cubes-nifti")
    cubes.accepts_dicom_seg = True
    with pytest.raises(ValidationError, match="test cases have no DICOM series"):
        cubes.full_clean()


def test_the_organizer_api_sets_the_dicom_seg_settings(built):
    organizer = get_user_model().objects.create_user(username="org", password="pw",
                                                     is_staff=True)
    Challenge.objects.get(pk=built.phase.task.challenge_id).organizers.add(organizer)
    client = factories.api_client(organizer)
    url = f"/api/v1/organizer/phases/{built.phase.id}/configuration/"
    body = client.get(url).json()
    assert (body["accepts_dicom_seg"], body["seg_fractional_threshold"]) == (True, 0.5)
    answer = client.patch(url, {"seg_fractional_threshold": 0}, format="json")
    assert answer.status_code == 400
    assert "seg_fractional_threshold" in answer.json()["detail"]
    assert client.patch(url, {"seg_fractional_threshold": 0.7}, format="json").status_code == 200
    assert Phase.objects.get(pk=built.phase.pk).metric_config()["seg_fractional_threshold"] == 0.7
    nifti_only = factories.phase(slug="nifti-only")  # a task not from DICOM: not offered
    nifti_only.task.challenge.organizers.add(organizer)
    body = client.get(f"/api/v1/organizer/phases/{nifti_only.id}/configuration/").json()
    assert "accepts_dicom_seg" not in body and "allow_partial" in body
    assert "seg_fractional_threshold" not in nifti_only.metric_config()



def test_a_task_converted_from_a_collection_takes_seg_predictions(tmp_path):
    """End to end with the DICOM collection import: its ``dicom`` entries are what SEG
    predictions are checked against."""
    series = dcm.ct_series(tmp_path / "collection" / "LUNG1-001" / "ct", patient_id="LUNG1-001")
    truth = label_map(series.pixel_world(), TRUTH) == 1
    dcm.seg_object(tmp_path / "collection" / "LUNG1-001" / "seg.dcm", series,
                   [dcm.Segment("Tumor", truth)])
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("subject,split\nLUNG1-001,test\n")
    convert_collection(tmp_path / "collection", tmp_path / "Task06_Lung", manifest=manifest,
                       metadata={"name": "Lung", "labels": {"0": "background", "1": "tumour"},
                                 "segment_map": {"Tumor": 1}})
    phase = import_task(tmp_path / "Task06_Lung", challenge_slug="lung-collection").phase
    assert phase.task.cases[0]["dicom"]["series_instance_uid"] == series.series_uid
    phase.accepts_dicom_seg = True
    phase.full_clean()
    phase.save()
    user = factories.participant(phase)
    guess = label_map(series.pixel_world(), GUESS) == 1
    seg = dcm.seg_object(tmp_path / "prediction.dcm", series, [dcm.Segment("Tumour", guess)])
    volume = read_series(series.files)
    nifti = tmp_path / "LUNG1-001.nii.gz"
    write_nifti(volume, nifti, array=(label_map(
        lps_of_voxels(volume.affine, volume.array.shape), GUESS) == 1).astype(np.uint8))
    by_seg = results(scored(phase, user, archive(tmp_path / "seg.zip", {"LUNG1-001.dcm": seg})))
    by_nifti = results(scored(phase, user, archive(tmp_path / "nifti.zip",
                                                   {"LUNG1-001.nii.gz": nifti})))
    assert by_seg == by_nifti
    assert 0.3 < by_seg[("LUNG1-001", 1)][0]["dice"] < 1
