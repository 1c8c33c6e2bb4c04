"""imaging.seg: SEG objects (built with highdicom) decoded onto the series' RAS grid, checked
against the factories' world-space spheres, and every refusal with its message."""

import numpy as np
import pydicom
import pytest

from imaging.errors import DicomError
from imaging.seg import SeriesMismatch, read_seg
from imaging.series import read_series, read_series_geometry
from tests import dicom_factories as f
from tests.imaging.test_series import voxel_lps

TUMOR_MAP = {"Tumor": 1, "SCT:10200004": 2}


def _spheres(series):
    """Two disjoint spheres around the series' centre (LPS), as file-order masks."""
    world = series.pixel_world()
    centre = world.reshape(-1, 3).mean(axis=0)
    first, second = centre - np.array([3.0, 2.0, 0.0]), centre + np.array([4.0, 3.0, 0.0])
    return (first, 3.3), (second, 2.9), world


def _expected(volume, spheres):
    lps = voxel_lps(volume.affine, volume.array.shape)
    expected = np.zeros(volume.array.shape, dtype=np.uint8)
    for value, (centre, radius) in enumerate(spheres, start=1):
        expected[f.sphere_mask(lps, centre, radius)] = value
    return expected


@pytest.mark.parametrize("orientation", sorted(f.ORIENTATIONS))
@pytest.mark.parametrize("descending", [False, True])
def test_binary_seg_lands_on_the_world_position_of_each_voxel(tmp_path, orientation, descending):
    series = f.ct_series(tmp_path / "s", shape=(16, 18, 12), slice_spacing=1.5,
                         orientation=orientation, descending=descending)
    first, second, world = _spheres(series)
    path = f.seg_object(tmp_path / "seg.dcm", series, [
        f.Segment("Tumor", f.sphere_mask(world, *first)),
        f.Segment("Liver", f.sphere_mask(world, *second), f.ORGAN),
    ])
    volume = read_series(series.files[::-1])
    label_map = read_seg(path, reference=volume, segment_map=TUMOR_MAP)
    expected = _expected(volume, [first, second])
    assert np.bincount(expected.ravel(), minlength=3).min() > 0
    assert np.array_equal(label_map.array, expected)
    assert label_map.array.shape == volume.array.shape
    assert label_map.label_of_segment == {1: 1, 2: 2}
    # Geometry alone (what a task stores) gives the same array.
    geometry = read_series_geometry(series.files)
    assert np.array_equal(read_seg(path, reference=geometry, segment_map=TUMOR_MAP).array,
                          expected)


def test_without_a_map_segment_numbers_are_labels(tmp_path):
    series = f.ct_series(tmp_path / "s")
    first, second, world = _spheres(series)
    path = f.seg_object(tmp_path / "seg.dcm", series, [
        f.Segment("A", f.sphere_mask(world, *first)),
        f.Segment("B", f.sphere_mask(world, *second)),
    ])
    volume = read_series(series.files)
    assert np.array_equal(read_seg(path, reference=volume).array,
                          _expected(volume, [first, second]))


def test_label_zero_drops_a_segment_and_shared_labels_unite(tmp_path):
    series = f.ct_series(tmp_path / "s")
    first, second, world = _spheres(series)
    path = f.seg_object(tmp_path / "seg.dcm", series, [
        f.Segment("A", f.sphere_mask(world, *first)),
        f.Segment("B", f.sphere_mask(world, *second)),
    ])
    volume = read_series(series.files)
    expected = _expected(volume, [first, second])
    dropped = read_seg(path, reference=volume, segment_map={"A": 0, "B": 1}).array
    assert np.array_equal(dropped, (expected == 2).astype(np.uint8))
    united = read_seg(path, reference=volume, segment_map={"A": 1, "B": 1}).array
    assert np.array_equal(united, (expected > 0).astype(np.uint8))


def test_fractional_threshold_counts_one_half_as_inside(tmp_path):
    series = f.ct_series(tmp_path / "s", shape=(8, 8, 4))
    values = np.zeros((4, 8, 8), dtype=np.float32)
    values[1, 2, 3] = 0.5  # 127/254 exactly: inside at the default threshold
    values[1, 2, 4] = 126 / 254  # just below one half: outside
    values[2, 5, 5] = 1.0
    values[2, 6, 6] = 0.8
    path = f.seg_object(tmp_path / "seg.dcm", series, [f.Segment("Tumor", values)],
                        fractional=True, max_fractional_value=254)
    assert pydicom.dcmread(path).SegmentationType == "FRACTIONAL"
    volume = read_series(series.files)
    found = read_seg(path, reference=volume).array
    expected = volume.geometry.to_ras((values >= 0.5).astype(np.uint8))
    assert found.sum() == 3
    assert np.array_equal(found, expected)
    strict = read_seg(path, reference=volume, fractional_threshold=0.9).array
    assert np.array_equal(strict, volume.geometry.to_ras((values >= 0.9).astype(np.uint8)))


def test_frames_are_placed_by_position_when_they_name_no_slice(tmp_path):
    series = f.ct_series(tmp_path / "s", descending=True)
    first, _, world = _spheres(series)
    path = f.seg_object(tmp_path / "seg.dcm", series, [
        f.Segment("Tumor", f.sphere_mask(world, *first))])
    ds = pydicom.dcmread(path)
    for group in ds.PerFrameFunctionalGroupsSequence:
        del group.DerivationImageSequence
    ds.save_as(path)
    volume = read_series(series.files)
    assert np.array_equal(read_seg(path, reference=volume).array, _expected(volume, [first]))


@pytest.fixture
def overlapping(tmp_path):
    series = f.ct_series(tmp_path / "s")
    first, _, world = _spheres(series)
    big = f.sphere_mask(world, first[0], 3.3)
    small = f.sphere_mask(world, first[0], 1.6)
    path = f.seg_object(tmp_path / "seg.dcm", series, [
        f.Segment("Organ", big, f.ORGAN), f.Segment("Tumor", small)])
    return path, read_series(series.files), int(small.sum()), big


def test_overlapping_segments_are_refused_with_count_and_names(overlapping):
    path, volume, count, _ = overlapping
    with pytest.raises(DicomError, match=rf"seg.dcm: {count} voxels belong to segments of "
                                         r"different labels \(segment 1 'Organ' "
                                         r"\(SCT:10200004\); segment 2 'Tumor' "
                                         r"\(SCT:108369006\)\)"):
        read_seg(path, reference=volume)


def test_overlap_highest_label_rule(overlapping):
    path, volume, count, big = overlapping
    organ_high = read_seg(path, reference=volume, segment_map={"Organ": 2, "Tumor": 1},
                          overlap="highest_label")
    assert organ_high.overlap_voxels == count
    assert np.array_equal(organ_high.array, 2 * volume.geometry.to_ras(big.astype(np.uint8)))
    tumour_high = read_seg(path, reference=volume, overlap="highest_label").array
    assert (tumour_high == 2).sum() == count
    assert (tumour_high > 0).sum() == big.sum()


@pytest.fixture
def case(tmp_path):
    series = f.ct_series(tmp_path / "s")
    first, _, world = _spheres(series)
    segments = [f.Segment("Tumor", f.sphere_mask(world, *first))]
    return tmp_path, series, segments, read_series(series.files)


def test_seg_of_another_series_is_refused(case):
    tmp_path, series, segments, volume = case
    other = f.ct_series(tmp_path / "other", frame_uid=series.frame_uid)
    path = f.seg_object(tmp_path / "seg.dcm", other, segments)
    with pytest.raises(SeriesMismatch, match=f"seg.dcm: references series {other.series_uid}, "
                                            f"not the image series {series.series_uid}") as err:
        read_seg(path, reference=volume)
    # What a caller needs to name the series the SEG does annotate (another test case's).
    assert err.value.referenced_series == (other.series_uid,)
    assert err.value.frame_of_reference_uid == series.frame_uid
    f.edit(path, ReferencedSeriesSequence=None)
    with pytest.raises(DicomError, match="frame 1 references SOP instance .*, not a slice of "
                                         f"series {series.series_uid}"):
        read_seg(path, reference=volume)


def test_wrong_frame_of_reference_is_refused(case):
    tmp_path, series, segments, volume = case
    path = f.seg_object(tmp_path / "seg.dcm", series, segments, FrameOfReferenceUID="1.2.3.4")
    with pytest.raises(SeriesMismatch, match=f"FrameOfReferenceUID 1.2.3.4 is not the "
                                            f"image's {series.frame_uid}") as err:
        read_seg(path, reference=volume)
    assert err.value.frame_of_reference_uid == "1.2.3.4"
    assert isinstance(err.value, DicomError)


def test_huge_frame_counts_are_refused_before_decoding(case):
    tmp_path, series, segments, volume = case
    path = f.seg_object(tmp_path / "seg.dcm", series, segments, NumberOfFrames=10_000_000)
    with pytest.raises(DicomError, match="declares 10000000 frames, more than the limit of "
                                         "100000"):
        read_seg(path, reference=volume)
    f.edit(path, NumberOfFrames=11)
    with pytest.raises(DicomError, match=r"declares 11 frames; 10 slices × 1 segments = 10 is "
                                         "the most the series can hold"):
        read_seg(path, reference=volume)
    groups = len(pydicom.dcmread(path).PerFrameFunctionalGroupsSequence)
    f.edit(path, NumberOfFrames=groups - 1)
    with pytest.raises(DicomError, match=f"{groups} per-frame functional groups for "
                                         f"{groups - 1} frames"):
        read_seg(path, reference=volume)


def test_unmapped_segments_are_named(case):
    tmp_path, series, segments, volume = case
    path = f.seg_object(tmp_path / "seg.dcm", series, segments)
    with pytest.raises(DicomError, match=r"no label for segment 1 'Tumor' \(SCT:108369006\); "
                                         "the segment mapping knows Liver, SCT:1"):
        read_seg(path, reference=volume, segment_map={"Liver": 1, "SCT:1": 2})
    assert read_seg(path, reference=volume, segment_map={"SCT:108369006": 3}).array.max() == 3
    with pytest.raises(DicomError, match=r"segment 1 'Tumor' .* maps to label 3, expected one "
                                         "of 0, 1, 2"):
        read_seg(path, reference=volume, segment_map={"Tumor": 3}, labels=[1, 2])


@pytest.mark.parametrize(("change", "message"), [
    ({"Rows": 16}, r"frames are 16×24 \(Rows×Columns\), the image slices 20×24"),
    ({"Modality": "CT"}, r"not a DICOM Segmentation \(Modality CT\)"),
    ({"SegmentationType": "LABELMAP"}, "SegmentationType LABELMAP is not BINARY or FRACTIONAL"),
])
def test_header_mismatches_are_refused(case, change, message):
    tmp_path, series, segments, volume = case
    path = f.seg_object(tmp_path / "seg.dcm", series, segments, **change)
    with pytest.raises(DicomError, match=f"seg.dcm: {message}"):
        read_seg(path, reference=volume)


def test_frames_off_the_slices_are_refused(case):
    tmp_path, series, segments, volume = case
    path = f.seg_object(tmp_path / "seg.dcm", series, segments)
    ds = pydicom.dcmread(path)
    plane = ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0]
    plane.ImagePositionPatient = [float(v) + 0.5 for v in plane.ImagePositionPatient]
    ds.save_as(path)
    with pytest.raises(DicomError, match=r"frame 1 lies 0.87 mm from the image slice"):
        read_seg(path, reference=volume)


def test_wrong_plane_orientation_is_refused(case):
    tmp_path, series, segments, volume = case
    path = f.seg_object(tmp_path / "seg.dcm", series, segments)
    ds = pydicom.dcmread(path)
    shared = ds.SharedFunctionalGroupsSequence[0]
    shared.PlaneOrientationSequence[0].ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    ds.save_as(path)
    with pytest.raises(DicomError, match=r"ImageOrientationPatient \[0.0, 1.0, 0.0, 0.0, 0.0, "
                                         r"-1.0\] is not the image's"):
        read_seg(path, reference=volume)


def test_hostile_seg_files(case):
    tmp_path, series, segments, volume = case
    path = f.seg_object(tmp_path / "seg.dcm", series, segments)
    cut = f.truncated(path, tmp_path / "cut.dcm", keep=0.95)
    with pytest.raises(DicomError, match=r"cut.dcm: truncated DICOM file"):
        read_seg(cut, reference=volume)
    with pytest.raises(DicomError, match=r"notes.dcm: not a DICOM file"):
        read_seg(f.not_dicom(tmp_path / "notes.dcm"), reference=volume)
    with pytest.raises(DicomError, match=r"slice_000.dcm: not a DICOM Segmentation"):
        read_seg(series.files[0], reference=volume)


def test_compressed_seg_is_decoded_or_refused_by_name(case):
    tmp_path, series, segments, volume = case
    # highdicom compresses FRACTIONAL SEGs only (BINARY stays uncompressed).
    rle = f.seg_object(tmp_path / "rle.dcm", series, segments, fractional=True,
                       transfer_syntax=pydicom.uid.RLELossless)
    plain = f.seg_object(tmp_path / "plain.dcm", series, segments, fractional=True)
    assert pydicom.dcmread(rle).file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
    assert np.array_equal(read_seg(rle, reference=volume).array,
                          read_seg(plain, reference=volume).array)
    ds = pydicom.dcmread(plain)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.HTJ2KLossless
    ds.PixelData = pydicom.encaps.encapsulate([b"\xff\x4f\xff\x51" + bytes(60)])
    ds["PixelData"].VR = "OB"
    ds.save_as(tmp_path / "htj2k.dcm", enforce_file_format=True)
    with pytest.raises(DicomError, match=r"htj2k.dcm: transfer syntax High-Throughput JPEG "
                                         r"2000 .* cannot be decoded here"):
        read_seg(tmp_path / "htj2k.dcm", reference=volume)
