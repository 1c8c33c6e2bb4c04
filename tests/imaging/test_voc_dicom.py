"""imaging.voc_dicom: SOP Instance UIDs of VOC files located in their series and slice, boxes
checked against the slice — with synthetic series from tests/dicom_factories.py."""

import shutil

import numpy as np
import pydicom
import pytest

from imaging.errors import DicomError
from imaging.series import read_series
from imaging.voc_dicom import check_boxes, check_size, index_slices
from tests.dicom_factories import ct_series, edit

SHAPE = (16, 20, 6)  # rows, columns, slices


def _uids(series):
    return [ds.SOPInstanceUID for ds in series.datasets]


@pytest.mark.parametrize("orientation, descending", [
    ("axial", False), ("axial", True), ("sagittal", False), ("coronal", True),
    ("oblique", False),
])
def test_slice_index_is_the_slice_of_the_ras_volume(tmp_path, orientation, descending):
    root = tmp_path / "imagesTs"
    series = ct_series(root / "LUNG-01" / "study" / "series", shape=SHAPE,
                       orientation=orientation, descending=descending)
    wanted = _uids(series)[1::2]
    index = index_slices(root, wanted=wanted)
    volume = read_series(sorted(series.files))
    assert set(index.slices) == set(wanted)
    for k, uid in enumerate(_uids(series)):
        if uid not in wanted:
            continue
        ref = index.locate(uid, name=f"{uid}.xml")
        assert ref.slice_index == volume.slice_index[uid]
        assert ref.slice_axis == volume.slice_axis
        assert ref.slices == SHAPE[2]
        assert (ref.rows, ref.columns) == SHAPE[:2]
        assert ref.subject == "LUNG-01" and ref.series_instance_uid == series.series_uid
        assert ref.file == series.files[k] and ref.name.startswith("imagesTs/LUNG-01/study/")
        # Independently of the code under test: the RAS volume's slice at that index holds
        # exactly the values of this DICOM file (in-plane flips aside).
        in_volume = np.take(volume.array, ref.slice_index, axis=ref.slice_axis)
        in_file = pydicom.dcmread(series.files[k]).pixel_array.astype(int) - 1024
        assert np.array_equal(np.sort(in_volume, axis=None), np.sort(in_file, axis=None))


def test_ascending_and_descending_axial_slices_count_from_the_feet(tmp_path):
    for descending in (False, True):
        root = tmp_path / f"d{descending}"
        series = ct_series(root / "S1", shape=SHAPE, descending=descending)
        index = index_slices(root, wanted=_uids(series))
        for k, uid in enumerate(_uids(series)):
            expected = SHAPE[2] - 1 - k if descending else k
            assert index.slices[uid].slice_index == expected


def test_subjects_and_series_are_told_apart(tmp_path):
    root = tmp_path / "imagesTs"
    a = ct_series(root / "A" / "ct", shape=SHAPE, patient_id="A")
    b = ct_series(root / "B" / "ct", shape=SHAPE, patient_id="B")
    pet = ct_series(root / "B" / "pet", shape=(8, 8, 3), patient_id="B")
    (root / "B" / "notes.txt").write_text("skipped")
    (root / "B" / ".hidden").write_text("skipped")
    (root / "A" / "DICOMDIR").write_bytes(b"skipped")
    index = index_slices(root, wanted=[_uids(a)[2], _uids(b)[0]])
    assert index.slices[_uids(a)[2]].subject == "A"
    assert index.slices[_uids(b)[0]].subject == "B"
    assert index.series_count == 3 and index.file_count == 2 * SHAPE[2] + 3
    assert _uids(pet)[0] not in index.slices


def test_an_unknown_uid_is_refused_by_name(tmp_path):
    root = tmp_path / "imagesTs"
    ct_series(root / "A", shape=SHAPE)
    index = index_slices(root, wanted=["1.2.3.4"])
    with pytest.raises(DicomError, match=r"labelsTs/1\.2\.3\.4\.xml: SOP Instance UID 1\.2\.3\.4 "
                                         r"is in no series of imagesTs/ \(1 series, 6 DICOM"):
        index.locate("1.2.3.4", name="labelsTs/1.2.3.4.xml")


def test_series_without_annotations_are_not_checked(tmp_path):
    root = tmp_path / "imagesTs"
    good = ct_series(root / "A", shape=SHAPE)
    ct_series(root / "B", shape=SHAPE, tilt_mm=1.0)  # tilted, but nothing annotated there
    assert index_slices(root, wanted=[_uids(good)[0]]).slices


def test_an_annotated_series_must_convert(tmp_path):
    root = tmp_path / "imagesTs"
    tilted = ct_series(root / "B", shape=SHAPE, tilt_mm=1.0)
    with pytest.raises(DicomError, match="gantry tilt"):
        index_slices(root, wanted=[_uids(tilted)[0]])


@pytest.mark.parametrize("damage, message", [
    ("root_file", r"imagesTs/stray\.dcm: expected one folder per subject"),
    ("other_file", r"imagesTs/A/image\.png: not a DICOM slice \(expected a \.dcm file"),
    ("duplicate", r"SOP Instance UID .* is in two files: imagesTs/A/slice_000\.dcm and "
                  r"imagesTs/B/copy\.dcm"),
    ("split", r"series .* is in two subject folders: imagesTs/A and imagesTs/B"),
    ("not_dicom", r"imagesTs/A/slice_001\.dcm: not a DICOM file"),
    ("no_uid", r"imagesTs/A/slice_002\.dcm: missing SOPInstanceUID"),
])
def test_bad_folders_are_refused_by_path(tmp_path, damage, message):
    root = tmp_path / "imagesTs"
    series = ct_series(root / "A", shape=SHAPE)
    if damage == "root_file":
        shutil.copy(series.files[0], root / "stray.dcm")
    elif damage == "other_file":
        (root / "A" / "image.png").write_bytes(b"\x89PNG")
    elif damage == "duplicate":
        (root / "B").mkdir()
        shutil.copy(series.files[0], root / "B" / "copy.dcm")
    elif damage == "split":
        (root / "B").mkdir()
        shutil.move(series.files[5], root / "B" / "moved.dcm")
    elif damage == "not_dicom":
        series.files[1].write_text("hello")
    else:
        edit(series.files[2], SOPInstanceUID=None)
    with pytest.raises(DicomError, match=message):
        index_slices(root, wanted=_uids(series))


def test_boxes_must_lie_within_the_slice(tmp_path):
    root = tmp_path / "imagesTs"
    series = ct_series(root / "A", shape=SHAPE)  # 16 rows × 20 columns
    ref = index_slices(root, wanted=_uids(series)[:1]).slices[_uids(series)[0]]
    check_boxes(ref, [(0, 0, 20, 16), (3.5, 2, 4, 2.5)], name="x.xml")  # edges included
    with pytest.raises(DicomError, match=r"x\.xml: object 2: box \(0, 0, 21, 16\) lies outside "
                                         r"slice .* 20 columns × 16 rows\); it needs 0 <= xmin "
                                         r"< xmax <= 20 and 0 <= ymin < ymax <= 16"):
        check_boxes(ref, [(1, 1, 2, 2), (0, 0, 21, 16)], name="x.xml")
    with pytest.raises(DicomError, match="object 1: box"):
        check_boxes(ref, [(0, 0, 20, 17)], name="x.xml")
    with pytest.raises(DicomError, match="object 1: box"):
        check_boxes(ref, [(-1, 0, 2, 2)], name="x.xml")


def test_the_voc_size_must_be_the_slice_size(tmp_path):
    root = tmp_path / "imagesTs"
    series = ct_series(root / "A", shape=SHAPE)
    ref = index_slices(root, wanted=_uids(series)[:1]).slices[_uids(series)[0]]
    check_size(ref, 20, 16, name="x.xml")
    with pytest.raises(DicomError, match=r"x\.xml: <size> is 512×512 \(width×height\), but slice "
                                         r".* is 20×16 \(Columns×Rows\)"):
        check_size(ref, 512, 512, name="x.xml")


def test_to_dict_names_no_server_path(tmp_path):
    root = tmp_path / "imagesTs"
    series = ct_series(root / "A", shape=SHAPE)
    record = index_slices(root, wanted=_uids(series)[:1]).slices[_uids(series)[0]].to_dict()
    assert str(tmp_path) not in repr(record)
    assert record["file"] == "imagesTs/A/slice_000.dcm" and record["slice_index"] == 0
