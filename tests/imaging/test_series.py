"""imaging.series: DICOM slices → RAS volume and NIfTI, checked against the factories' LPS
definition of every voxel (tests/dicom_factories.py), and every refusal with its message."""

import json

import nibabel as nib
import numpy as np
import pytest
from nibabel.orientations import aff2axcodes

from imaging.errors import DicomError
from imaging.geometry import LPS_TO_RAS, SeriesGeometry
from imaging.series import read_series, read_series_geometry, write_nifti
from tests import dicom_factories as f


def voxel_lps(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """LPS mm of every voxel centre of a RAS grid, shape (…shape, 3)."""
    index = np.indices(shape).reshape(3, -1)
    ras = affine[:3, :3] @ index + affine[:3, 3:]
    return (np.linalg.inv(LPS_TO_RAS[:3, :3]) @ ras).T.reshape(*shape, 3)


@pytest.mark.parametrize("orientation", sorted(f.ORIENTATIONS))
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("reverse_files", [False, True])
def test_every_voxel_holds_the_value_at_its_world_position(
    tmp_path, orientation, descending, reverse_files
):
    series = f.ct_series(tmp_path, orientation=orientation, descending=descending)
    files = series.files[::-1] if reverse_files else series.files
    volume = read_series(files)
    assert aff2axcodes(volume.affine) == ("R", "A", "S")
    assert volume.array.dtype == np.int16
    expected = f.hu_at(voxel_lps(volume.affine, volume.array.shape))
    # The factory stores round(value): a wrong axis, flip or offset is off by ≥ 2.
    assert np.abs(volume.array - expected).max() <= 0.5 + 1e-6
    assert sorted(volume.spacing) == pytest.approx([0.7, 0.7, 2.5])
    assert volume.spacing[volume.slice_axis] == pytest.approx(2.5)


def test_slice_bookkeeping_follows_the_array(tmp_path):
    series = f.ct_series(tmp_path, descending=True)
    volume = read_series(series.files[::-1])
    assert volume.slice_axis == 2
    for uid, index in volume.slice_index.items():
        ds = next(d for d in series.datasets if d.SOPInstanceUID == uid)
        z_lps = float(ds.ImagePositionPatient[2])
        assert (volume.affine @ [0, 0, index, 1])[2] == pytest.approx(z_lps)
    assert list(volume.slice_index) == list(volume.sop_instance_uids)
    assert volume.series_instance_uid == series.series_uid
    assert volume.frame_of_reference_uid == series.frame_uid
    assert (volume.rows, volume.columns) == (20, 24)


def test_spacing_comes_from_positions_not_slice_thickness(tmp_path):
    series = f.ct_series(tmp_path, slice_spacing=3.0)  # SliceThickness says 1.0
    assert read_series(series.files).spacing[2] == pytest.approx(3.0)


def test_nifti_round_trip_keeps_values_and_affine(tmp_path):
    series = f.ct_series(tmp_path / "s", orientation="oblique")
    volume = read_series(series.files)
    image = nib.load(write_nifti(volume, tmp_path / "image.nii.gz"))
    assert aff2axcodes(image.affine) == ("R", "A", "S")
    assert np.allclose(image.affine, volume.affine, atol=1e-5)
    assert int(image.header["sform_code"]) == 1
    assert np.array_equal(np.asanyarray(image.dataobj), volume.array)


def test_geometry_from_headers_matches_and_survives_json(tmp_path):
    series = f.ct_series(tmp_path, orientation="sagittal")
    volume = read_series(series.files)
    geometry = read_series_geometry(series.files)
    assert geometry == volume.geometry
    again = SeriesGeometry.from_dict(json.loads(json.dumps(geometry.to_dict())))
    assert again == geometry
    assert np.allclose(again.affine, volume.affine)
    assert again.shape == volume.array.shape


def test_rescale_with_a_fractional_slope_gives_float32(tmp_path):
    series = f.ct_series(tmp_path)
    for path in series.files:
        f.edit(path, RescaleSlope="0.5")
    volume = read_series(series.files)
    assert volume.array.dtype == np.float32
    expected = (f.hu_at(voxel_lps(volume.affine, volume.array.shape)) - f.INTERCEPT) / 2
    assert np.abs(volume.array - (np.rint(expected * 2) / 2 + f.INTERCEPT)).max() <= 0.5


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tilt_mm": 0.5}, r"do not lie along the slice normal \(4\.50 mm sideways, a gantry "
                       r"tilt of about 11\.3°\)"),
    ({"drop_slice": 4}, r"slice spacing is not uniform .* 5\.000 mm between slice_003\.dcm "
                        r"and slice_004\.dcm; expected 2\.500 mm"),
])
def test_tilted_and_gapped_stacks_are_refused(tmp_path, kwargs, message):
    series = f.ct_series(tmp_path, **kwargs)
    with pytest.raises(DicomError, match=f"series {series.series_uid}: .*{message}"):
        read_series(series.files)


def test_small_position_jitter_is_tolerated(tmp_path):
    series = f.ct_series(tmp_path)
    position = [float(v) for v in series.datasets[3].ImagePositionPatient]
    f.edit(series.files[3], ImagePositionPatient=[position[0], position[1], position[2] + 0.02])
    assert read_series(series.files).array.shape == (24, 20, 10)


def test_duplicate_positions_are_refused(tmp_path):
    series = f.ct_series(tmp_path)
    copy = f.edit(series.files[2], tmp_path / "copy.dcm", SOPInstanceUID="1.2.3.4")
    with pytest.raises(DicomError, match=r"slice_002.dcm and copy.dcm have the same slice "
                                         "position"):
        read_series([*series.files, copy])


@pytest.mark.parametrize(("change", "message"), [
    ({"SeriesInstanceUID": "1.2.3"}, "slice_005.dcm has SeriesInstanceUID 1.2.3"),
    ({"FrameOfReferenceUID": "1.2.3"}, "slice_005.dcm has FrameOfReferenceUID 1.2.3"),
    ({"ImageOrientationPatient": [0, 1, 0, 0, 0, -1]}, "slice_005.dcm has "
                                                       "ImageOrientationPatient"),
    ({"PixelSpacing": [0.8, 0.8]}, r"slice_005.dcm has PixelSpacing \(0.8, 0.8\)"),
    ({"ImagePositionPatient": None}, "slice_005.dcm: missing ImagePositionPatient"),
    ({"NumberOfFrames": 3}, "slice_005.dcm: multi-frame .* 3 frames"),
])
def test_inconsistent_slices_are_named(tmp_path, change, message):
    series = f.ct_series(tmp_path)
    f.edit(series.files[5], **change)
    with pytest.raises(DicomError, match=message):
        read_series(series.files)


def test_hostile_files_are_named(tmp_path):
    series = f.ct_series(tmp_path / "s")
    files = list(series.files)
    cases = [
        (f.truncated(files[3], tmp_path / "cut.dcm", keep=0.9),
         r"cut.dcm: truncated DICOM file \(\d+ bytes; \(7FE0,0010\) needs \d+\)"),
        (f.not_dicom(tmp_path / "notes.dcm"), r"notes.dcm: not a DICOM file \(no DICM prefix\)"),
        (f.undecodable(files[3], tmp_path / "htj2k.dcm"),
         r"htj2k.dcm: transfer syntax High-Throughput JPEG 2000 Image Compression \(Lossless "
         r"Only\) \(1.2.840.10008.1.2.4.201\) cannot be decoded here"),
    ]
    for path, message in cases:
        with pytest.raises(DicomError, match=message):
            read_series([*files[:3], path, *files[4:]])


def test_size_is_capped_before_decoding(tmp_path):
    series = f.ct_series(tmp_path)
    with pytest.raises(DicomError, match=r"20×24×10 voxels exceed the limit of 1000"):
        read_series(series.files, max_voxels=1000)


def test_a_single_slice_is_not_a_volume(tmp_path):
    series = f.ct_series(tmp_path)
    with pytest.raises(DicomError, match="at least 2 slices, got 1"):
        read_series(series.files[:1])


def test_names_given_by_the_caller_are_used(tmp_path):
    series = f.ct_series(tmp_path, drop_slice=2)
    names = [f"LUNG1-001/ct/{p.name}" for p in series.files]
    with pytest.raises(DicomError, match=r"between LUNG1-001/ct/slice_001.dcm and "
                                         "LUNG1-001/ct/slice_002.dcm"):
        read_series(series.files, names=names)
