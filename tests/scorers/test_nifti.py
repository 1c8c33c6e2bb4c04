"""NIfTI reading and validation on real files, including hostile ones."""

import gzip
import json
import struct
import time

import nibabel as nib
import numpy as np
import pytest
from nibabel.nifti1 import Nifti1Extension

from scorers.errors import InputError
from scorers.nifti import (
    Geometry,
    ReadLimits,
    check_geometry,
    read_geometry,
    read_label_map,
)

AFFINE = np.array([[-0.8, 0, 0, 10.0], [0, 0.8, 0, -5.0], [0, 0, 2.5, 30.0], [0, 0, 0, 1]])


def write(path, data, affine=AFFINE, *, slope=None, big_endian=False):
    header = nib.Nifti1Header(endianness=">" if big_endian else "<")
    image = nib.Nifti1Image(data, affine, header)
    if slope is not None:
        image.header.set_slope_inter(slope, 0.0)
    image.to_filename(path)
    return path


def patched(tmp_path, name, changes, data=None):
    """A .nii file written by nibabel, then with raw header fields overwritten."""
    source = write(tmp_path / "source.nii", np.zeros((4, 5, 6), np.uint8) if data is None
                   else data)
    raw = bytearray(source.read_bytes())
    for offset, fmt, value in changes:
        struct.pack_into(fmt, raw, offset, *value) if isinstance(value, tuple) else \
            struct.pack_into(fmt, raw, offset, value)
    target = tmp_path / name
    target.write_bytes(bytes(raw))
    return target


def error_of(call) -> str:
    with pytest.raises(InputError) as error:
        call()
    return str(error.value)


def labels_volume(rng, shape=(12, 10, 7), top=3):
    return rng.integers(0, top + 1, shape).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32, np.float32,
                                   np.float64, np.int64])
def test_reads_label_maps_of_every_numeric_type_compactly(tmp_path, suffix, dtype):
    data = labels_volume(np.random.default_rng(1))
    path = write(tmp_path / f"case{suffix}", data.astype(dtype))
    labels, geometry = read_label_map(path, name="case", labels=[1, 2, 3])
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, data)
    assert geometry.shape == (12, 10, 7)
    assert geometry.spacing_mm == pytest.approx((0.8, 0.8, 2.5))
    np.testing.assert_allclose(geometry.affine, AFFINE, atol=1e-6)


def test_big_endian_scaled_and_wide_label_maps(tmp_path):
    data = labels_volume(np.random.default_rng(2)).astype(np.int16)
    labels, _ = read_label_map(write(tmp_path / "be.nii.gz", data, big_endian=True), name="case c")
    np.testing.assert_array_equal(labels, data)
    scaled, _ = read_label_map(write(tmp_path / "s.nii", data, slope=2.0), name="case c")
    np.testing.assert_array_equal(scaled, 2 * data)
    wide, _ = read_label_map(write(tmp_path / "w.nii", data.astype(np.int32) * 1000), name="case c")
    assert wide.dtype == np.uint16 and wide.max() == 3000


def test_2d_maps_and_trailing_singleton_dimensions(tmp_path):
    flat = labels_volume(np.random.default_rng(3), shape=(9, 11))
    labels, geometry = read_label_map(write(tmp_path / "flat.nii", flat), name="case c")
    np.testing.assert_array_equal(labels, flat)
    assert geometry.spacing_mm == pytest.approx((0.8, 0.8))
    volume = labels_volume(np.random.default_rng(4))
    labels, geometry = read_label_map(write(tmp_path / "t.nii", volume[..., None]), name="case c")
    assert labels.shape == volume.shape and geometry.shape == (12, 10, 7, 1)


def test_multichannel_images_have_a_geometry_but_are_no_label_map(tmp_path):
    image = write(tmp_path / "img.nii.gz", np.zeros((12, 10, 7, 4), np.float32))
    geometry = read_geometry(image, name="case brain_001")
    assert geometry.shape == (12, 10, 7, 4) and geometry.spatial_shape == (12, 10, 7)
    label_geometry = read_geometry(write(tmp_path / "l.nii", np.zeros((12, 10, 7), np.uint8)),
                                   name="case brain_001")
    check_geometry(label_geometry, geometry, name="case brain_001")
    assert "must be 2D or 3D" in error_of(lambda: read_label_map(image, name="case brain_001"))


def test_geometry_round_trips_through_json():
    geometry = Geometry((512, 512, 75), (0.8, 0.8, 2.5), tuple(map(tuple, AFFINE.tolist())))
    assert Geometry.from_dict(json.loads(json.dumps(geometry.to_dict()))) == geometry
    for bad in ({}, {"shape": [1, 2], "spacing_mm": [1.0], "affine": AFFINE.tolist()},
                {"shape": [1, 2], "spacing_mm": [1.0, 1.0], "affine": [[1.0]]},
                {"shape": "x", "spacing_mm": [1.0, 1.0], "affine": AFFINE.tolist()}):
        error_of(lambda bad=bad: Geometry.from_dict(bad))


def test_check_geometry_compares_spatial_shape_spacing_and_affine():
    reference = Geometry((512, 512, 75), (0.8, 0.8, 2.5), tuple(map(tuple, AFFINE.tolist())))
    near = Geometry((512, 512, 75), (0.8004, 0.8, 2.5), tuple(map(tuple, (AFFINE + 5e-4)
                                                                          .tolist())))
    check_geometry(near, reference, name="case liver_017")
    shorter = Geometry((512, 512, 74), reference.spacing_mm, reference.affine)
    assert error_of(lambda: check_geometry(shorter, reference, name="case liver_017")) == (
        "case liver_017: prediction shape (512, 512, 74) does not match the reference "
        "(512, 512, 75)")
    coarse = Geometry(reference.shape, (0.8, 0.8, 3.0), reference.affine)
    assert "voxel spacing (0.8, 0.8, 3.0) mm does not match the reference (0.8, 0.8, 2.5)" in \
        error_of(lambda: check_geometry(coarse, reference, name="case liver_017"))
    moved = Geometry(reference.shape, reference.spacing_mm,
                     tuple(map(tuple, (AFFINE + np.eye(4) * 0.01).tolist())))
    assert "affine" in error_of(lambda: check_geometry(moved, reference, name="case liver_017"))


def test_label_rules(tmp_path):
    rng = np.random.default_rng(5)
    data = labels_volume(rng).astype(np.float32)
    half = data.copy()
    half[1, 1, 1] = 0.5
    assert "non-integer" in error_of(
        lambda: read_label_map(write(tmp_path / "h.nii", half), name="case c"))
    for bad in (np.nan, np.inf):
        broken = data.copy()
        broken[2, 3, 4] = bad
        assert "NaN or infinite" in error_of(
            lambda broken=broken: read_label_map(write(tmp_path / "n.nii", broken), name="case c"))
    outside = write(tmp_path / "o.nii.gz", data.astype(np.int16) - 1)
    assert error_of(lambda: read_label_map(outside, name="case c", labels=[1, 2, 3])) == (
        "case c: label map contains values -1 outside the task's labels [0, 1, 2, 3]")
    gappy = write(tmp_path / "g.nii", np.where(data == 2, 5, data).astype(np.uint8))
    read_label_map(gappy, name="case c", labels=[1, 3, 5])
    assert "values 5 outside" in error_of(
        lambda: read_label_map(gappy, name="case c", labels=[1, 3]))


def test_the_expected_geometry_is_checked_before_pixel_data(tmp_path):
    path = write(tmp_path / "p.nii", np.zeros((4, 5, 6), np.uint8))
    path.write_bytes(path.read_bytes()[:-40])
    expected = Geometry((4, 5, 7), (0.8, 0.8, 2.5), tuple(map(tuple, AFFINE.tolist())))
    assert "shape (4, 5, 6) does not match the reference (4, 5, 7)" in error_of(
        lambda: read_label_map(path, name="case c", expected=expected))
    assert "truncated" in error_of(lambda: read_label_map(path, name="case c"))


def test_gzip_bomb_is_never_inflated_past_the_declared_size(tmp_path):
    header = write(tmp_path / "small.nii", np.ones((8, 8, 8), np.uint8)).read_bytes()
    zeros = gzip.compress(bytes(1 << 20), compresslevel=9)
    bomb = tmp_path / "bomb.nii.gz"
    bomb.write_bytes(gzip.compress(header) + zeros * 4096)  # 4 GiB inflated, members in a row
    assert bomb.stat().st_size < 8 << 20
    start = time.perf_counter()
    labels, _ = read_label_map(bomb, name="case c")
    assert time.perf_counter() - start < 1.0
    assert labels.shape == (8, 8, 8) and labels.all()


def test_declared_sizes_are_capped_before_reading(tmp_path):
    huge = patched(tmp_path, "huge.nii", [(40, "<8h", (3, 30000, 30000, 30000, 1, 1, 1, 1))])
    assert "exceeds the limit of 536870912 voxels" in error_of(
        lambda: read_geometry(huge, name="case c"))
    ok = write(tmp_path / "ok.nii.gz", np.zeros((64, 64, 64), np.uint8))
    tight = ReadLimits(max_voxels=10**9, max_decompressed_bytes=100_000)
    assert "exceeds 100000 bytes" in error_of(lambda: read_label_map(ok, name="case c",
                                                                     limits=tight))


def test_truncated_and_corrupt_gzip(tmp_path):
    valid = write(tmp_path / "v.nii.gz", labels_volume(np.random.default_rng(6), (40, 40, 40)))
    raw = valid.read_bytes()
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    assert "truncated" in error_of(lambda: read_label_map(cut, name="case c"))
    corrupt = tmp_path / "corrupt.nii.gz"
    corrupt.write_bytes(raw[:200] + bytes(b ^ 0x5A for b in raw[200:400]) + raw[400:])
    assert "not a valid gzip file" in error_of(lambda: read_label_map(corrupt, name="case c"))
    bad_crc = tmp_path / "crc.nii.gz"
    bad_crc.write_bytes(raw[:-8] + bytes(b ^ 0xFF for b in raw[-8:-4]) + raw[-4:])
    assert "not a valid gzip file" in error_of(lambda: read_label_map(bad_crc, name="case c"))
    plain = tmp_path / "plain.nii.gz"
    plain.write_bytes(gzip.decompress(raw))
    assert "not a valid gzip file" in error_of(lambda: read_geometry(plain, name="case c"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ([(0, "<i", 999)], "bad header size"),
        ([(344, "4s", b"ni1\x00")], "magic must be n+1 or n+2"),
        ([(76, "<4f", (1.0, 0.8, 0.0, 2.5))], "voxel spacing must be finite and positive"),
        ([(76, "<4f", (1.0, float("nan"), 0.8, 2.5))], "voxel spacing must be finite"),
        ([(70, "<hh", (32, 64))], "unsupported NIfTI data type complex64"),
        ([(70, "<hh", (128, 24))], "unsupported NIfTI data type"),
        ([(40, "<8h", (3, 4, 0, 6, 1, 1, 1, 1))], "invalid image dimensions (4, 0, 6)"),
        ([(40, "<h", 9)], "invalid number of dimensions"),
        ([(70, "<h", 9999)], "invalid NIfTI header"),
        ([(108, "<f", 100.0)], "data offset 100 points into the header (352 bytes)"),
    ],
)
def test_hostile_headers_are_rejected_before_pixel_data(tmp_path, changes, message):
    path = patched(tmp_path, "bad.nii", changes)
    assert message in error_of(lambda: read_label_map(path, name="case liver_017"))


def test_a_negative_pixdim_gives_its_magnitude_as_nibabel_does(tmp_path):
    path = patched(tmp_path, "neg.nii", [(76, "<4f", (1.0, -0.8, 0.8, 2.5))])
    _, geometry = read_label_map(path, name="case liver_017")
    assert geometry.spacing_mm == pytest.approx((0.8, 0.8, 2.5))


def test_not_nifti_at_all(tmp_path):
    garbage = tmp_path / "x.nii"
    garbage.write_bytes(b"\x00" * 10)
    assert "bad header size" in error_of(lambda: read_geometry(garbage, name="case c"))
    wrong = write(tmp_path / "w.nii", np.zeros((2, 2, 2), np.uint8)).rename(tmp_path / "w.img")
    assert "expected a NIfTI file" in error_of(lambda: read_geometry(wrong, name="case c"))
    assert "cannot be read" in error_of(lambda: read_geometry(tmp_path / "no.nii", name="case c"))


def test_messages_name_the_case_and_never_the_server_path(tmp_path):
    path = patched(tmp_path, "secret_location.nii", [(0, "<i", 1)])
    message = error_of(lambda: read_label_map(path, name="case liver_017"))
    assert message.startswith("case liver_017: ")
    assert str(tmp_path) not in message and "secret_location" not in message


def test_gzip_members_in_a_row_and_data_past_the_declared_size(tmp_path):
    data = labels_volume(np.random.default_rng(7), (30, 20, 10))
    raw = write(tmp_path / "raw.nii", data).read_bytes()
    blocks = tmp_path / "blocks.nii.gz"
    blocks.write_bytes(b"".join(gzip.compress(raw[i : i + 999]) for i in range(0, len(raw), 999)))
    np.testing.assert_array_equal(read_label_map(blocks, name="case c")[0], data)
    padded = tmp_path / "padded.nii.gz"
    padded.write_bytes(gzip.compress(raw + bytes(100)))
    np.testing.assert_array_equal(read_label_map(padded, name="case c")[0], data)
    stuffed = tmp_path / "stuffed.nii.gz"
    stuffed.write_bytes(gzip.compress(raw + bytes(3 << 20)))
    assert "more data than its header declares" in error_of(
        lambda: read_label_map(stuffed, name="case c"))


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_files_already_in_memory_read_like_files_on_disk(tmp_path, suffix):
    data = labels_volume(np.random.default_rng(7), (30, 20, 10))
    path = write(tmp_path / f"case{suffix}", data.astype(np.int16))
    content = path.read_bytes()
    labels, geometry = read_label_map(f"upload{suffix}", name="case c", labels=[1, 2, 3],
                                      content=content)
    from_disk, disk_geometry = read_label_map(path, name="case c", labels=[1, 2, 3])
    np.testing.assert_array_equal(labels, from_disk)
    assert labels.dtype == from_disk.dtype == np.uint8 and labels.flags.writeable
    assert geometry == disk_geometry
    # The header alone, from the first bytes of the file.
    assert read_geometry(f"upload{suffix}", name="case c", content=content[:2048]) == geometry
    # The same rules: a cut file, values outside the label set, a name that is not NIfTI.
    assert "truncated" in error_of(lambda: read_label_map(
        f"upload{suffix}", name="case c", content=content[: len(content) // 2]))
    assert "outside the task's labels" in error_of(lambda: read_label_map(
        f"upload{suffix}", name="case c", labels=[1], content=content))
    assert "expected a NIfTI file" in error_of(lambda: read_label_map(
        "upload.png", name="case c", content=content))


def test_a_data_offset_past_the_header_is_refused_before_anything_is_inflated(tmp_path):
    # vox_offset 1.9e9 in a 2 MB .nii.gz: reading it used to inflate 1.9 GB of zeros.
    header = bytearray(write(tmp_path / "h.nii", np.zeros((4, 5, 6), np.uint8)).read_bytes())
    struct.pack_into("<f", header, 108, 1.9e9)
    zeros = gzip.compress(bytes(1 << 20), compresslevel=9)
    hostile = tmp_path / "offset.nii.gz"
    hostile.write_bytes(gzip.compress(bytes(header)) + zeros * 1812)
    start = time.perf_counter()
    message = error_of(lambda: read_label_map(hostile, name="case liver_000"))
    assert time.perf_counter() - start < 0.5
    assert message == ("case liver_000: data offset 1900000000 lies past the header and its "
                       "extensions (352 bytes)")
    assert error_of(lambda: read_geometry(hostile, name="case liver_000")) == message


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("image_class", [nib.Nifti1Image, nib.Nifti2Image])
@pytest.mark.parametrize("order", "<>")
def test_files_with_header_extensions_written_by_nibabel_are_read(tmp_path, suffix,
                                                                   image_class, order):
    data = labels_volume(np.random.default_rng(8))
    image = image_class(data, AFFINE, image_class.header_class(endianness=order))
    image.header.extensions.append(Nifti1Extension(6, b"segmented by a U-Net, fold 3"))
    image.header.extensions.append(Nifti1Extension(4, bytes(range(256)) * 9))
    path = tmp_path / f"ext{suffix}"
    image.to_filename(path)
    labels, geometry = read_label_map(path, name="case c", labels=[1, 2, 3])
    np.testing.assert_array_equal(labels, data)
    assert read_geometry(path, name="case c") == geometry


@pytest.mark.parametrize(("offset", "message"), [
    (348.0, "data offset 348 points into the header (352 bytes)"),
    (368.0, "data offset 368 lies past the header and its extensions (352 bytes)"),
    (1e12, "data offset 999999995904 lies past the header and its extensions (352 bytes)"),
])
def test_the_data_offset_follows_the_header_and_its_extender(tmp_path, offset, message):
    path = patched(tmp_path, "bad.nii", [(108, "<f", offset)])
    assert error_of(lambda: read_label_map(path, name="case c")) == f"case c: {message}"


def test_a_data_offset_padded_to_16_bytes_is_accepted(tmp_path):
    data = labels_volume(np.random.default_rng(9), (4, 5, 6))
    raw = bytearray(write(tmp_path / "w.nii", data).read_bytes())
    struct.pack_into("<f", raw, 108, 360.0)
    padded = tmp_path / "padded.nii"
    padded.write_bytes(bytes(raw[:352]) + bytes(8) + bytes(raw[352:]))
    np.testing.assert_array_equal(read_label_map(padded, name="case c")[0], data)


def _with_extensions(tmp_path, extensions: bytes, offset: int) -> bytes:
    """A .nii's bytes: header flagged as extended, ``extensions`` after it, data at
    ``offset``."""
    raw = bytearray(write(tmp_path / "w.nii", np.zeros((4, 5, 6), np.uint8)).read_bytes())
    struct.pack_into("<f", raw, 108, float(offset))
    raw[348] = 1
    body = bytes(raw[352:])
    return bytes(raw[:352]) + extensions.ljust(offset - 352, b"\0")[: offset - 352] + body


@pytest.mark.parametrize(("extensions", "offset", "message"), [
    (struct.pack("<ii", 24, 6) + bytes(16), 384,
     "header extension 1 at byte 352 has an invalid size 24 (expected a multiple of 16, at "
     "least 16)"),
    (struct.pack("<ii", 0, 6), 384, "header extension 1 at byte 352 has an invalid size 0 "
                                    "(expected a multiple of 16, at least 16)"),
    (struct.pack("<ii", 16, 6) + bytes(8) + struct.pack("<ii", 64, 4), 400,
     "header extension 2 at byte 368 runs past the data offset 400"),
    (b"", 2 << 20, "data offset 2097152 lies past the 1048576-byte limit for the header and "
                   "its extensions"),
])
def test_malformed_header_extensions_are_refused(tmp_path, extensions, offset, message):
    content = _with_extensions(tmp_path, extensions, min(offset, 1024))
    raw = bytearray(content)
    struct.pack_into("<f", raw, 108, float(offset))
    for suffix, data in ((".nii", bytes(raw)), (".nii.gz", gzip.compress(bytes(raw)))):
        assert error_of(lambda suffix=suffix, data=data: read_label_map(
            f"p{suffix}", name="case c", content=data)) == f"case c: {message}"


def test_extensions_are_walked_to_the_data_offset(tmp_path):
    extensions = struct.pack("<ii", 32, 6) + b"a comment".ljust(24, b"\0")
    content = _with_extensions(tmp_path, extensions, 384)
    labels, _ = read_label_map("p.nii", name="case c", content=content)
    assert labels.shape == (4, 5, 6)
    assert error_of(lambda: read_label_map("p.nii", name="case c", content=content[:356])) == (
        "case c: file is truncated (header extensions end after 356 of 384 bytes)")
    # A prefix of the file is enough for the geometry, even one that ends in the extensions.
    assert read_geometry("p.nii", name="case c", content=content[:356]).shape == (4, 5, 6)


@pytest.mark.parametrize(("slope", "inter"), [
    (1.0, float("inf")), (1.0, float("nan")), (2.0, float("-inf")), (float("inf"), 0.0),
    (float("-inf"), float("nan")),
])
def test_non_finite_scaling_is_refused(tmp_path, slope, inter):
    path = patched(tmp_path, "scaled.nii", [(112, "<ff", (slope, inter))])
    assert error_of(lambda: read_label_map(path, name="case liver_000")) == (
        "case liver_000: scaling (scl_slope/scl_inter) must be finite")
    # A header rule: the upload's header check refuses it before any data is read.
    assert error_of(lambda: read_geometry(path, name="case liver_000")) == (
        "case liver_000: scaling (scl_slope/scl_inter) must be finite")


@pytest.mark.parametrize(("slope", "inter"), [(0.0, float("nan")), (float("nan"), float("nan")),
                                              (float("nan"), 5.0)])
def test_a_zero_or_unset_slope_means_no_scaling(tmp_path, slope, inter):
    data = labels_volume(np.random.default_rng(10), (4, 5, 6))
    path = patched(tmp_path, "unscaled.nii", [(112, "<ff", (slope, inter))], data=data)
    np.testing.assert_array_equal(read_label_map(path, name="case c")[0], data)
