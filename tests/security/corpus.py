"""The hostile corpus: uploads that once cost far more than they were worth, or were refused
only after a long read, plus what held up in the campaign of issue 9. Generated, never stored.

Every case is made for the cube task (two cases of 20×20×10 voxels, spacing 1×1×2 mm, labels
0–2: tests/factories.py) or for a three-image detection task (demo_data.write_detection_task).
``expect`` is a part of the participant's message.
"""

import gzip
import io
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from tests import factories

SEGMENTATION = "segmentation"
DETECTION = "detection"
CASES = ("cube_000", "cube_001")
_ZEROS = bytes(1 << 24)


@dataclass(frozen=True)
class Hostile:
    name: str
    task: str  # SEGMENTATION or DETECTION
    expect: str  # in the participant's message
    build: Callable[[Path, list[str]], Path]  # (folder, detection image ids) → the upload


_FLOAT_FIELDS = {"vox_offset": 108, "scl_slope": 112, "scl_inter": 116}  # NIfTI-1 offsets


def valid_nifti(**header_fields: float) -> bytes:
    """A cube prediction as .nii.gz bytes, with float header fields (vox_offset, scl_slope,
    scl_inter) overwritten."""
    _, pred, spacing = factories.cube_labels()
    image = nib.Nifti1Image(pred, np.diag([*spacing, 1.0]))
    image.header.set_zooms(spacing)
    raw = bytearray(image.to_bytes())
    for field, value in header_fields.items():
        struct.pack_into("<f", raw, _FLOAT_FIELDS[field], value)
    return gzip.compress(bytes(raw), compresslevel=1)


def nifti_with_offset(offset: int) -> bytes:
    """A .nii.gz whose header puts the voxels ``offset`` bytes in, the gap filled with zeros
    (deflate shrinks 1 GiB of zeros to 1 MiB: the issue's amplification)."""
    _, pred, spacing = factories.cube_labels()
    image = nib.Nifti1Image(pred, np.diag([*spacing, 1.0]))
    image.header.set_zooms(spacing)
    header = bytearray(image.to_bytes()[:348])
    struct.pack_into("<f", header, _FLOAT_FIELDS["vox_offset"], float(offset))
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = io.BytesIO()
    out.write(compressor.compress(bytes(header) + b"\0" * 4))
    left = offset - len(header) - 4
    while left > 0:
        step = min(left, len(_ZEROS))
        out.write(compressor.compress(_ZEROS[:step]))
        left -= step
    out.write(compressor.compress(pred.tobytes(order="F")))
    out.write(compressor.flush())
    return out.getvalue()


def zip_of(path: Path, members: dict[str, bytes], *, method=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def tar_of(path: Path, entries: list[tarfile.TarInfo], data: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as archive:
        for info in entries:
            content = data.get(info.name)
            archive.addfile(info, io.BytesIO(content) if content is not None else None)
    return path


def _file(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


def _kind(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _both_valid() -> dict[str, bytes]:
    return {f"{case}.nii.gz": valid_nifti() for case in CASES}


def _vox_offset(folder: Path, _ids) -> Path:
    return zip_of(folder / "vox_offset.zip", {
        "cube_000.nii.gz": valid_nifti(),
        "cube_001.nii.gz": nifti_with_offset(900 << 20),
    }, method=zipfile.ZIP_STORED)


def _vox_offset_in_header(folder: Path, _ids) -> Path:
    return zip_of(folder / "vox_offset_348.zip",
                  {**_both_valid(), "cube_001.nii.gz": valid_nifti(vox_offset=348)})


def _scaling(value: float) -> Callable[[Path, list[str]], Path]:
    def build(folder: Path, _ids) -> Path:
        return zip_of(folder / f"scl_inter_{value}.zip",
                      {**_both_valid(), "cube_001.nii.gz": valid_nifti(scl_slope=1.0,
                                                                       scl_inter=value)})
    return build


def _tar_declaring_a_huge_member(folder: Path, _ids) -> Path:
    """One member declaring 1 GiB of zeros: 1 MiB compressed; listing it once meant inflating
    all of it to skip it."""
    path = folder / "huge_member.tar.gz"
    size = 1 << 30
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9) as gz:
        gz.write(_file("cube_000.nii.gz", size).tobuf(format=tarfile.GNU_FORMAT))
        for _ in range(size // len(_ZEROS)):
            gz.write(_ZEROS)
        gz.write(bytes(1024))
    return path


def _extended_header(kind: bytes, size: int, fill: bytes, count: int = 1
                     ) -> Callable[[Path, list[str]], Path]:
    """Valid predictions behind ``count`` extended headers (GNU long name, pax records) of
    ``size`` bytes of ``fill``: tarfile reads and parses such a header whole before the member
    it describes (found by the walkthrough after the first fixes)."""
    def build(folder: Path, _ids) -> Path:
        path = folder / f"extended_{kind.decode()}_{size}_{count}.tar.gz"
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as gz:
            for index in range(count):
                header = _file(f"h{index}", size)
                header.type = kind
                gz.write(header.tobuf(format=tarfile.USTAR_FORMAT))
                left = size
                while left > 0:
                    step = min(left, len(_ZEROS))
                    gz.write((fill * (step // len(fill) + 1))[:step])
                    left -= step
                gz.write(bytes(-size % 512))
                data = valid_nifti()
                case = CASES[index % 2] if index >= count - 2 else f"extra_{index}"
                name = f"{case}.nii.gz"
                member = _file(name, len(data))
                gz.write(member.tobuf(format=tarfile.USTAR_FORMAT))
                gz.write(data + bytes(-len(data) % 512))
            gz.write(bytes(1024))
        return path
    return build


def _non_utf8_name(folder: Path, _ids) -> Path:
    info = _file("cube_000.nii.gz", 0)
    data = valid_nifti()
    info.size = len(data)
    path = folder / "non_utf8.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="latin-1") as archive:
        archive.addfile(info, io.BytesIO(data))
        odd = _file("cube_\xff.nii.gz", len(data))
        archive.addfile(odd, io.BytesIO(data))
    return path


def _members(name: str, build_entries) -> Callable[[Path, list[str]], Path]:
    def build(folder: Path, _ids) -> Path:
        entries, data = build_entries()
        return tar_of(folder / f"{name}.tar.gz", entries, data)
    return build


def _with_special(kind: bytes, target: str = ""):
    def entries():
        data = valid_nifti()
        files = [_file("cube_000.nii.gz", len(data))]
        return [*files, _kind("cube_001.nii.gz", kind, target)], {"cube_000.nii.gz": data}
    return entries


def _traversal(folder: Path, _ids) -> Path:
    return zip_of(folder / "traversal.zip",
                  {"cube_000.nii.gz": valid_nifti(), "../../cube_001.nii.gz": valid_nifti()})


def _absolute(folder: Path, _ids) -> Path:
    return zip_of(folder / "absolute.zip",
                  {"cube_000.nii.gz": valid_nifti(), "/etc/cube_001.nii.gz": valid_nifti()})


def _duplicates(folder: Path, _ids) -> Path:
    return zip_of(folder / "duplicates.zip", {**_both_valid(), "a/cube_001.nii.gz": valid_nifti()})


def _bomb(folder: Path, _ids) -> Path:
    path = folder / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in _both_valid().items():
            archive.writestr(name, data)
        with archive.open("padding.bin", "w", force_zip64=True) as member:
            for _ in range(64):
                member.write(_ZEROS)  # 1 GiB
    return path


def _encrypted(folder: Path, _ids) -> Path:
    path = zip_of(folder / "encrypted.zip", _both_valid())
    raw = bytearray(path.read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := raw.find(signature, start)) >= 0:
            raw[start + flag_at] |= 0x1
            start += 4
    path.write_bytes(bytes(raw))
    return path


def _truncated(kind: str) -> Callable[[Path, list[str]], Path]:
    def build(folder: Path, _ids) -> Path:
        if kind == "zip":
            whole = zip_of(folder / "whole.zip", _both_valid(), method=zipfile.ZIP_STORED)
        else:
            data = _both_valid()
            entries = [_file(name, len(content)) for name, content in data.items()]
            whole = tar_of(folder / "whole.tar.gz", entries, data)
        path = folder / f"truncated.{kind}"
        path.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
        return path
    return build


def _many_members(folder: Path, _ids) -> Path:
    path = folder / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for index in range(100_000):
            archive.writestr(f"f{index}", b"")
    return path


def _coco_junk(lists: int) -> Callable[[Path, list[str]], Path]:
    """One valid box carrying a key the reader ignores, holding ``lists`` empty lists (the
    issue's file: 21 M of them, 63 MB, in a 61 KB zip)."""
    def build(folder: Path, ids: list[str]) -> Path:
        box = (f'{{"image_id": "{ids[0]}", "category_id": "A", "bbox": [10, 10, 20, 20], '
               '"score": 0.9, "x": [').encode()
        body = box + b"[]," * lists + b"[]]}"
        return zip_of(folder / f"coco_junk_{lists}.zip", {"results.json": b"[" + body + b"]"})
    return build


def _csv_commas(zipped: bool, size: int = 64 << 20) -> Callable[[Path, list[str]], Path]:
    def build(folder: Path, _ids) -> Path:
        header = b"image_id,label,score,xmin,ymin,xmax,ymax\n"
        rows = b",,,,,,\n" * (size // 7)
        if zipped:
            return zip_of(folder / "commas.zip", {"boxes.csv": header + rows})
        path = folder / "commas.csv"
        path.write_bytes(header + rows)
        return path
    return build


def _json_nesting(folder: Path, _ids) -> Path:
    path = folder / "nesting.json"
    path.write_bytes(b"[" * 200_000 + b"]" * 200_000)
    return path


def _json_huge_number(digits: int) -> Callable[[Path, list[str]], Path]:
    def build(folder: Path, ids: list[str]) -> Path:
        path = folder / f"number_{digits}.json"
        path.write_text(f'[{{"image_id": "{ids[0]}", "category_id": "A", "bbox": [1, 1, 2, 2],'
                        f' "score": 1{"0" * digits}}}]')
        return path
    return build


CORPUS = [
    Hostile("vox_offset 900 MiB", SEGMENTATION, "data offset", _vox_offset),
    Hostile("vox_offset 348", SEGMENTATION, "data offset", _vox_offset_in_header),
    Hostile("scl_inter inf", SEGMENTATION, "scl_slope/scl_inter", _scaling(float("inf"))),
    Hostile("scl_inter NaN", SEGMENTATION, "scl_slope/scl_inter", _scaling(float("nan"))),
    Hostile("tar member declaring 1 GiB", SEGMENTATION, "more than a label map",
            _tar_declaring_a_huge_member),
    Hostile("non-UTF-8 member name", SEGMENTATION, "UTF-8", _non_utf8_name),
    Hostile("GNU long name of 256 MiB", SEGMENTATION, "extended header",
            _extended_header(tarfile.GNUTYPE_LONGNAME, 256 << 20, b"\0")),
    Hostile("pax header of 64 MiB", SEGMENTATION, "extended header",
            _extended_header(tarfile.XHDTYPE, 64 << 20, b"0")),
    Hostile("pax header of 120 k digits", SEGMENTATION, "extended header",
            _extended_header(tarfile.XHDTYPE, 120_000, b"1")),
    Hostile("64 pax headers of 2 KiB of digits (at the caps)", SEGMENTATION, "not a test case",
            _extended_header(tarfile.XHDTYPE, 2048, b"1", count=64)),
    Hostile("traversal", SEGMENTATION, "points outside the archive", _traversal),
    Hostile("absolute name", SEGMENTATION, "points outside the archive", _absolute),
    Hostile("symbolic link", SEGMENTATION, "symbolic link",
            _members("symlink", _with_special(tarfile.SYMTYPE, "/etc/passwd"))),
    Hostile("hard link", SEGMENTATION, "hard link",
            _members("hardlink", _with_special(tarfile.LNKTYPE, "cube_000.nii.gz"))),
    Hostile("device file", SEGMENTATION, "device file",
            _members("device", _with_special(tarfile.CHRTYPE))),
    Hostile("named pipe", SEGMENTATION, "named pipe",
            _members("fifo", _with_special(tarfile.FIFOTYPE))),
    Hostile("duplicate names", SEGMENTATION, "two", _duplicates),
    Hostile("zip bomb (1 GiB extra member)", SEGMENTATION, "not a test case", _bomb),
    Hostile("encrypted zip", SEGMENTATION, "password-protected", _encrypted),
    Hostile("truncated zip", SEGMENTATION, "zip", _truncated("zip")),
    Hostile("truncated tar.gz", SEGMENTATION, "damaged", _truncated("tar.gz")),
    Hostile("100k members", SEGMENTATION, "more than", _many_members),
    Hostile("COCO JSON with 5 M ignored lists", DETECTION, "more than the", _coco_junk(5 << 20)),
    Hostile("COCO JSON with 800 k ignored lists (under the byte cap)", DETECTION, "entry 1",
            _coco_junk(800_000)),
    Hostile("zip of a 64 MiB CSV of commas", DETECTION, "more than the",
            _csv_commas(zipped=True)),
    Hostile("64 MiB CSV of commas", DETECTION, "more than the", _csv_commas(zipped=False)),
    Hostile("2 MiB CSV of commas (under the byte cap)", DETECTION, "rows",
            _csv_commas(zipped=False, size=2 << 20)),
    Hostile("JSON nested 200k deep", DETECTION, "entry 1", _json_nesting),
    Hostile("JSON number of 5 M digits", DETECTION, "more than the", _json_huge_number(5 << 20)),
    Hostile("JSON number of 2 M digits (under the byte cap)", DETECTION, "entry 1",
            _json_huge_number(2_000_000)),
]
