"""imaging.collection: a TCIA-style folder → MSD-style task that Podium's importer accepts, and
DICOM → NIfTI → scores equal to a direct computation on the original arrays."""

import json
import shutil

import nibabel as nib
import numpy as np
import pytest

from imaging.collection import convert_collection, read_manifest
from imaging.errors import DicomError
from imaging.seg import read_seg
from imaging.series import read_series, write_nifti
from scorers.nifti import read_label_map
from scorers.segmentation import score_case
from tests import dicom_factories as f
from tests.imaging.test_series import voxel_lps

METADATA = {"name": "Lung DICOM", "licence": "CC BY 4.0", "release": "v3",
            "labels": {"0": "background", "1": "tumour", "2": "liver"},
            "segment_map": {"Tumor": 1, "SCT:10200004": 2}}
SUBJECTS = {"LUNG1-001": ("test", "axial"), "LUNG1-002": ("test", "sagittal"),
            "LUNG1-003": ("train", "oblique")}


def _write_subject(root, subject, orientation, *, descending=False):
    series = f.ct_series(root / subject / "01-01-2000-study" / "2.000000-CT-1234",
                         shape=(16, 18, 10), patient_id=subject, orientation=orientation,
                         descending=descending)
    world = series.pixel_world()
    centre = world.reshape(-1, 3).mean(axis=0)
    spheres = [(centre - np.array([3.0, 2.0, 0.0]), 3.3), (centre + np.array([4.0, 3.0, 0.0]), 2.9)]
    f.seg_object(root / subject / "01-01-2000-study" / "300.000000-Segmentation-5678" / "1-1.dcm",
                 series, [f.Segment("Tumor", f.sphere_mask(world, *spheres[0])),
                          f.Segment("Liver", f.sphere_mask(world, *spheres[1]), f.ORGAN)])
    return series, spheres


@pytest.fixture
def collection(tmp_path):
    root = tmp_path / "NSCLC-Test"
    truth = {subject: _write_subject(root, subject, orientation, descending=index == 1)
             for index, (subject, (_, orientation)) in enumerate(SUBJECTS.items())}
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("subject,split\n" + "".join(f"{s},{split}\n" for s, (split, _) in
                                                  SUBJECTS.items()))
    return root, manifest, truth


def test_collection_becomes_an_msd_task(tmp_path, collection):
    root, manifest, truth = collection
    out = tmp_path / "Task06_LungDicom"
    report = convert_collection(root, out, manifest=manifest, metadata=METADATA)
    dataset = json.loads((out / "dataset.json").read_text())
    assert dataset["labels"] == METADATA["labels"]
    assert dataset["test"] == ["./imagesTs/LUNG1-001.nii.gz", "./imagesTs/LUNG1-002.nii.gz"]
    assert dataset["training"] == [{"image": "./imagesTr/LUNG1-003.nii.gz",
                                    "label": "./labelsTr/LUNG1-003.nii.gz"}]
    assert (dataset["numTest"], dataset["numTraining"]) == (2, 1)
    assert dataset["modality"] == {"0": "CT"} and dataset["licence"] == "CC BY 4.0"
    for case in report.cases:
        series, spheres = truth[case.subject]
        split = "Ts" if case.split == "test" else "Tr"
        image = nib.load(out / f"images{split}" / f"{case.case}.nii.gz")
        label = nib.load(out / f"labels{split}" / f"{case.case}.nii.gz")
        assert nib.aff2axcodes(image.affine) == ("R", "A", "S")
        assert np.allclose(label.affine, image.affine)
        assert case.series_instance_uid == series.series_uid and case.slices == 10
        assert case.shape == image.shape and case.segments == {1: 1, 2: 2}
        assert case.seg_file.endswith("300.000000-Segmentation-5678/1-1.dcm")
        # The label map is the factory's spheres at each voxel's world position.
        lps = voxel_lps(label.affine, label.shape)
        expected = np.zeros(label.shape, dtype=np.uint8)
        for value, (centre, radius) in enumerate(spheres, start=1):
            expected[f.sphere_mask(lps, centre, radius)] = value
        assert np.array_equal(np.asanyarray(label.dataobj), expected)
    assert len(report.content_sha256) == 64


def test_content_hash_ignores_layout_and_names_but_not_content(tmp_path, collection):
    root, manifest, _ = collection
    first = convert_collection(root, tmp_path / "a", manifest=manifest, metadata=METADATA)
    moved = tmp_path / "flat"
    moved.mkdir()
    for index, path in enumerate(sorted(root.rglob("*.dcm"))):
        shutil.copy(path, moved / f"{index:04d}.dcm")
    second = convert_collection(moved, tmp_path / "b", manifest=manifest, metadata=METADATA)
    assert second.content_sha256 == first.content_sha256
    slice_file = next(moved.glob("*.dcm"))
    f.edit(slice_file, InstitutionName="changed")
    third = convert_collection(moved, tmp_path / "c", manifest=manifest, metadata=METADATA)
    assert third.content_sha256 != first.content_sha256


@pytest.mark.django_db
def test_podiums_importer_accepts_the_converted_task(tmp_path, collection):
    from evaluation.services.importing import import_task

    root, manifest, _ = collection
    out = tmp_path / "Task06_LungDicom"
    convert_collection(root, out, manifest=manifest, metadata=METADATA)
    result = import_task(out, challenge_slug="dicom")
    assert result.task.case_names == ["LUNG1-001", "LUNG1-002"]
    assert result.task.labels == METADATA["labels"]
    assert set(result.ground_truth.files) == {"LUNG1-001", "LUNG1-002"}


def test_scores_on_converted_files_equal_a_direct_computation(tmp_path):
    series = f.ct_series(tmp_path / "s", shape=(18, 16, 12), orientation="coronal",
                         descending=True)
    world = series.pixel_world()
    centre = world.reshape(-1, 3).mean(axis=0)
    truth = {1: f.sphere_mask(world, centre, 4.1), 2: f.sphere_mask(world, centre + 6, 2.6)}
    pred = {1: f.sphere_mask(world, centre + np.array([0.8, 0.0, 0.5]), 3.7),
            2: f.sphere_mask(world, centre + 5.2, 2.9)}
    volume = read_series(series.files)
    paths = {}
    for role, masks in (("truth", truth), ("pred", pred)):
        seg = f.seg_object(tmp_path / f"{role}.dcm", series,
                           [f.Segment(f"L{n}", masks[n]) for n in (1, 2)])
        label_map = read_seg(seg, reference=volume, segment_map={"L1": 1, "L2": 2})
        paths[role] = write_nifti(volume, tmp_path / f"{role}.nii.gz", array=label_map.array)
    ref, geometry = read_label_map(paths["truth"], name="truth", labels=[1, 2])
    found, _ = read_label_map(paths["pred"], name="pred", labels=[1, 2], expected=geometry)
    scores = score_case(found, ref, spacing_mm=geometry.spacing_mm, labels=[1, 2],
                        nsd_tolerance_mm=1.0, metrics=["dice"])
    for label in (1, 2):
        p, r = pred[label], truth[label]
        direct = 2 * np.sum(p & r) / (p.sum() + r.sum())
        assert 0.2 < direct < 0.99
        assert scores[label]["dice"] == pytest.approx(direct, abs=1e-12)


def test_several_segs_rtstruct_and_missing_subjects_are_named(tmp_path, collection):
    root, manifest, truth = collection
    series, _ = truth["LUNG1-002"]
    extra = root / "LUNG1-002" / "another-seg" / "1-1.dcm"
    f.seg_object(extra, series, [f.Segment("Tumor", np.ones((10, 16, 18), bool))])
    with pytest.raises(DicomError, match=r"subject LUNG1-002: 2 SEG objects \(LUNG1-002/.*1-1"
                                         r"\.dcm, LUNG1-002/another-seg/1-1\.dcm\); keep one"):
        convert_collection(root, tmp_path / "a", manifest=manifest, metadata=METADATA)
    assert not (tmp_path / "a").exists()  # LUNG1-001 was written, then removed
    shutil.rmtree(extra.parent)
    seg_folder = root / "LUNG1-003" / "01-01-2000-study" / "300.000000-Segmentation-5678"
    shutil.rmtree(seg_folder)
    f.rtstruct(root / "LUNG1-003" / "rt" / "1-1.dcm", truth["LUNG1-003"][0])
    with pytest.raises(DicomError, match="subject LUNG1-003: ground truth is an RTSTRUCT, "
                                         "which is not converted"):
        convert_collection(root, tmp_path / "b", manifest=manifest, metadata=METADATA)
    manifest.write_text("subject,split\nLUNG1-001,test\nLUNG1-009,test\n")
    with pytest.raises(DicomError, match=r"^manifest row 3: no DICOM files with PatientID "
                                         r"LUNG1-009$"):
        convert_collection(root, tmp_path / "c", manifest=manifest, metadata=METADATA)
    manifest.write_text("subject,split\nLUNG1-008,train\n\nLUNG1-001,test\nLUNG1-009,test\n")
    with pytest.raises(DicomError, match=r"^manifest row 2: no DICOM files with PatientID "
                                         r"LUNG1-008; row 5: no DICOM files with PatientID "
                                         r"LUNG1-009$"):  # a blank line counts as a row
        convert_collection(root, tmp_path / "d", manifest=manifest, metadata=METADATA)


def test_subjects_outside_the_manifest_and_extra_series_are_reported(tmp_path, collection):
    root, manifest, truth = collection
    f.ct_series(root / "LUNG1-001" / "other-series", patient_id="LUNG1-001",
                frame_uid=truth["LUNG1-001"][0].frame_uid)
    manifest.write_text("subject,split\nLUNG1-001,test\n")
    report = convert_collection(root, tmp_path / "a", manifest=manifest, metadata=METADATA)
    assert [c.subject for c in report.cases] == ["LUNG1-001"]
    assert report.notes[0] == "2 subject(s) not in the manifest left out: LUNG1-002, LUNG1-003"
    assert report.notes[1].startswith("subject LUNG1-001: 1 other series left out")


def test_hostile_files_in_the_collection_are_named(tmp_path, collection):
    root, manifest, truth = collection
    f.not_dicom(root / "LUNG1-001" / "stray.bin")
    with pytest.raises(DicomError, match=r"LUNG1-001/stray.bin: not a DICOM file"):
        convert_collection(root, tmp_path / "a", manifest=manifest, metadata=METADATA)
    (root / "LUNG1-001" / "stray.bin").unlink()
    (root / "README.txt").write_text("skipped")
    first = truth["LUNG1-002"][0].files[0]
    f.truncated(first, first, keep=0.9)
    with pytest.raises(DicomError, match=r"LUNG1-002/.*/slice_000.dcm: truncated DICOM file"):
        convert_collection(root, tmp_path / "b", manifest=manifest, metadata=METADATA)


@pytest.mark.parametrize(("text", "message"), [
    ("name,split\na,test\n", "expected a CSV with the columns subject,split"),
    ("subject,split\na,validation\n", "row 2: split 'validation' must be test or train"),
    ("subject,split\na,test\na,train\n", "row 3: subject a is listed twice"),
    ("subject,split\n../x,test\n", r"row 2: subject '../x' must be letters"),
    ("subject,split\na,train\n", "no subject has split test"),
])
def test_manifest_errors(tmp_path, text, message):
    path = tmp_path / "manifest.csv"
    path.write_text(text)
    with pytest.raises(DicomError, match=f"manifest.*{message}"):
        read_manifest(path)


def test_segment_map_must_cover_every_segment(tmp_path, collection):
    root, manifest, _ = collection
    metadata = {**METADATA, "segment_map": {"Tumor": 1}}
    with pytest.raises(DicomError, match=r"subject LUNG1-001: LUNG1-001/.*1-1.dcm: no label for "
                                         r"segment 2 'Liver' \(SCT:10200004\)"):
        convert_collection(root, tmp_path / "a", manifest=manifest, metadata=metadata)
