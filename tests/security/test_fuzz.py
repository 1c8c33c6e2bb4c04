"""Fuzzing the readers of untrusted uploads: whatever the bytes, the only exception that leaves
the NIfTI header reader and the box readers is the metric library's ``InputError``, and the
only one that leaves the archive lister the platform's ``InvalidInput`` (both carry a
participant-facing message); anything else would be an internal error or a traceback.

Inputs are valid files with bytes overwritten (often in header fields, with values chosen to
hurt: NaN, infinities, huge and negative numbers), cut short, or (for text) random.
"""

import gzip
import io
import json
import struct
import tarfile
import zipfile

import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nibabel.nifti1 import Nifti1Extension

from core.archives import ArchiveLimits, iter_read, list_members
from core.errors import InvalidInput
from scorers.boxes import read_box_csv, read_coco_results
from scorers.errors import InputError
from scorers.nifti import ReadLimits, read_geometry, read_label_map

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
SMALL = ReadLimits(max_voxels=1 << 16, max_decompressed_bytes=1 << 20, max_header_bytes=4096)
ARCHIVE_LIMITS = ArchiveLimits(max_members=20, max_total_bytes=1 << 20, max_ratio=1000)


def _nifti(image_class, *, order="<", extension=False) -> bytes:
    data = np.arange(4 * 5 * 3, dtype=np.int16).reshape(4, 5, 3) % 3
    image = image_class(data, np.diag([0.8, 0.8, 2.5, 1.0]),
                        image_class.header_class(endianness=order))
    if extension:
        image.header.extensions.append(Nifti1Extension(6, b"fuzzed"))
    return image.to_bytes()


# (offset, struct format, count) of the header fields the readers use, per NIfTI version,
# and the extender and first extension's size after the header.
NIFTI1_FIELDS = {"sizeof_hdr": (0, "i", 1), "dim": (40, "h", 8), "datatype": (70, "h", 1),
                 "bitpix": (72, "h", 1), "pixdim": (76, "f", 8), "vox_offset": (108, "f", 1),
                 "scl": (112, "f", 2), "codes": (252, "h", 2), "quatern": (256, "f", 6),
                 "srow": (280, "f", 12), "magic": (344, "4s", 1), "extender": (348, "i", 1),
                 "extension": (352, "i", 2)}
NIFTI2_FIELDS = {"sizeof_hdr": (0, "i", 1), "magic": (4, "8s", 1), "datatype": (12, "h", 1),
                 "bitpix": (14, "h", 1), "dim": (16, "q", 8), "pixdim": (104, "d", 8),
                 "vox_offset": (168, "q", 1), "scl": (176, "d", 2), "codes": (344, "i", 2),
                 "quatern": (352, "d", 6), "srow": (400, "d", 12), "extender": (540, "i", 1),
                 "extension": (544, "i", 2)}
SEEDS = [(_nifti(nib.Nifti1Image), "<", NIFTI1_FIELDS),
         (_nifti(nib.Nifti1Image, order=">", extension=True), ">", NIFTI1_FIELDS),
         (_nifti(nib.Nifti2Image), "<", NIFTI2_FIELDS),
         (_nifti(nib.Nifti2Image, extension=True), "<", NIFTI2_FIELDS)]
_NASTY_FLOATS = [float("nan"), float("inf"), float("-inf"), 0.0, -1.0, 1e30, 1e-30, 352.0,
                 360.0, 544.0, 1.9e9]
_NASTY_INTS = [-1, 0, 1, 2, 3, 4, 7, 8, 16, 24, 64, 348, 352, 540, 544, 32767]
_INT_RANGES = {"h": 1 << 15, "i": 1 << 31, "q": 1 << 63}


def _field_value(fmt: str):
    if fmt in "fd":
        return st.sampled_from(_NASTY_FLOATS) | st.floats(width=32 if fmt == "f" else 64)
    if fmt.endswith("s"):
        return st.sampled_from([b"n+1\0", b"n+2\0\r\n\x1a\n", b"ni1\0", b""]) | st.binary()
    bound = _INT_RANGES[fmt]
    return st.sampled_from(_NASTY_INTS) | st.integers(-bound, bound - 1)


@st.composite
def mutated_nifti(draw) -> bytes:
    """A valid seed with header fields set to hostile values, raw bytes overwritten, and
    perhaps cut short."""
    raw, order, fields = draw(st.sampled_from(SEEDS))
    data = bytearray(raw)
    for field in draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=3)):
        offset, fmt, count = fields[field]
        if fmt.endswith("s"):
            size = int(fmt[:-1])
            data[offset:offset + size] = draw(_field_value(fmt)).ljust(size, b"\0")[:size]
            continue
        for index in sorted(draw(st.sets(st.integers(0, count - 1), min_size=1))):
            struct.pack_into(order + fmt, data, offset + index * struct.calcsize(fmt),
                             draw(_field_value(fmt)))
    for position, value in draw(st.lists(st.tuples(st.integers(0, 600),
                                                   st.binary(min_size=1, max_size=8)),
                                         max_size=2)):
        data[position:position + len(value)] = value
    cut = draw(st.none() | st.none() | st.integers(0, len(data)))
    return bytes(data if cut is None else data[:cut])


def _patched(raw: bytes, edits, cut: int | None) -> bytes:
    data = bytearray(raw)
    for position, value in edits:
        data[position:position + len(value)] = value
    return bytes(data if cut is None else data[:cut])


def _only_input_errors(call, allowed=InputError) -> None:
    try:
        call()
    except allowed as error:
        assert str(error)


@FUZZ
@given(content=mutated_nifti(), compressed=st.booleans())
def test_nifti_reader_raises_only_input_errors(content, compressed):
    name = "x.nii"
    if compressed:
        content, name = gzip.compress(content, compresslevel=1), "x.nii.gz"
    _only_input_errors(lambda: read_geometry(name, name="case x", limits=SMALL, content=content))
    _only_input_errors(lambda: read_label_map(name, name="case x", labels=[1, 2], limits=SMALL,
                                              content=content))


@FUZZ
@given(which=st.sampled_from(range(len(SEEDS))), draw=st.data())
def test_any_scaling_and_data_offset_give_a_label_map_or_an_input_error(which, draw):
    raw, order, fields = SEEDS[which]
    data = bytearray(raw)
    for field, count in (("scl", 2), ("vox_offset", draw.draw(st.integers(0, 1)))):
        offset, fmt, _ = fields[field]
        for index in range(count):
            struct.pack_into(order + fmt, data, offset + index * struct.calcsize(fmt),
                             draw.draw(_field_value(fmt)))
    _only_input_errors(lambda: read_label_map("x.nii", name="case x", labels=[1, 2],
                                              limits=SMALL, content=bytes(data)))


@FUZZ
@given(which=st.sampled_from(range(len(SEEDS))),
       edits=st.lists(st.tuples(st.integers(0, 400), st.binary(min_size=1, max_size=4)),
                      max_size=4),
       cut=st.one_of(st.none(), st.integers(0, 400)))
def test_nifti_reader_raises_only_input_errors_on_damaged_gzip(which, edits, cut):
    content = _patched(gzip.compress(SEEDS[which][0], compresslevel=1), edits, cut)
    _only_input_errors(lambda: read_label_map("x.nii.gz", name="case x", limits=SMALL,
                                              content=content))


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("preds/case_1.nii.gz", bytes(range(256)) * 4)
        archive.writestr("cas\u00e9_2.nii", b"x" * 300)  # flagged as a UTF-8 name
        archive.writestr("dir/", b"")
    return out.getvalue()


def _tar(mode: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode, format=tarfile.GNU_FORMAT) as archive:
        for name, data in (("preds/case_1.nii.gz", bytes(range(256)) * 4),
                           ("case_2.nii", b"x" * 300)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link")
        link.type = tarfile.SYMTYPE
        archive.addfile(link)
    return out.getvalue()


def _hot_positions(raw: bytes) -> list[int]:
    """Where edits hurt most: zip header fields (flags, method, sizes, name lengths) and names,
    tar header fields (name, size, checksum, type, magic)."""
    hot = []
    for signature, fields in ((b"PK\x03\x04", range(4, 30)), (b"PK\x01\x02", range(4, 46)),
                              (b"PK\x05\x06", range(4, 22)), (b"case", range(0, 6))):
        start = 0
        while (start := raw.find(signature, start)) >= 0:
            hot += [start + field for field in fields]
            start += 1
    if raw[257:262] == b"ustar":
        hot += [block + field for block in range(0, len(raw), 512)
                for field in (0, 4, 100, 124, 130, 135, 148, 156, 257)]
    return [position for position in hot if position < len(raw)] or [0]


ARCHIVES = [(raw, _hot_positions(raw)) for raw in (_zip(), _tar("w"), _tar("w:gz"))]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@st.composite
def mutated_archive(draw) -> bytes:
    raw, hot = draw(st.sampled_from(ARCHIVES))
    data = bytearray(raw)
    positions = st.sampled_from(hot) | st.integers(0, len(raw) - 1)
    values = st.sampled_from([b"\xff", b"\x08", b"\x00", b"\x1b", b"\xff\xff\xff\x7f",
                              b"77777777777", b"2", b"5"]) | st.binary(min_size=1, max_size=8)
    for position, value in draw(st.lists(st.tuples(positions, values), max_size=4)):
        data[position:position + len(value)] = value
    cut = draw(st.none() | st.none() | st.integers(0, len(data)))
    return bytes(data if cut is None else data[:cut])


@FUZZ
@given(content=mutated_archive())
def test_archive_lister_raises_only_input_errors(scratch, content):
    path = scratch / "upload"
    path.write_bytes(content)

    def listed_and_read() -> None:
        members = list_members(path, ARCHIVE_LIMITS)
        for _member, head in iter_read(path, members, ARCHIVE_LIMITS, head_bytes=512):
            assert len(head) <= 512

    _only_input_errors(listed_and_read, allowed=InvalidInput)


CSV_SEED = ("image_id,label,score,xmin,ymin,xmax,ymax\n"
            "a,A,0.5,1,2,30,40\r\n\n\"b\",B,1e-3,0.5,0,3,4.25\n")
COCO_SEED = json.dumps([
    {"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": 0.5},
    {"image_id": 7, "category_id": 2, "bbox": [0.5, 1, 2, 3], "score": 1, "id": 3,
     "segmentation": [[1, 2, 3, 4]]},
], indent=1)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.sampled_from(["image_id", "category_id", "bbox", "score", "x"]), inner, max_size=5),
    max_leaves=30)


def _text_edits(seed: str):
    return st.lists(st.tuples(st.integers(0, len(seed)), st.text(max_size=6)), max_size=6)


def _edited(seed: str, edits) -> str:
    for position, text in edits:
        seed = seed[:position] + text + seed[position + len(text):]
    return seed


def _read_boxes(reader, path) -> None:
    for kwargs in ({}, {"image_ids": {"a", "b", "7"}, "classes": {"A", "B"}}):
        _only_input_errors(lambda kwargs=kwargs: reader(path, name="p", max_rows=50,
                                                        max_bytes=1 << 16, **kwargs))


@FUZZ
@given(edits=_text_edits(CSV_SEED), junk=st.text(max_size=200), use_junk=st.booleans())
def test_box_csv_reader_raises_only_input_errors(scratch, edits, junk, use_junk):
    path = scratch / "boxes.csv"
    path.write_bytes((junk if use_junk else _edited(CSV_SEED, edits)).encode("utf-8",
                                                                             "surrogatepass"))
    _read_boxes(read_box_csv, path)


@FUZZ
@given(edits=_text_edits(COCO_SEED), value=json_values, choice=st.integers(0, 2))
def test_coco_reader_raises_only_input_errors(scratch, edits, value, choice):
    path = scratch / "results.json"
    text = (_edited(COCO_SEED, edits), json.dumps(value), json.dumps([value]))[choice]
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    _read_boxes(read_coco_results, path)
