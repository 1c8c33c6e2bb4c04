"""Every way an uploaded archive can be hostile gets rejected with its own message."""

import io
import stat
import struct
import tarfile
import time
import zipfile
import zlib
from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pytest

from core.archives import ArchiveLimits, Member, extract, iter_read, list_members
from core.errors import InvalidInput
from evaluation.kinds import detection, segmentation

LIMITS = ArchiveLimits(max_members=50, max_total_bytes=1_000_000, max_ratio=1100)


def make_zip(path: Path, members: dict[str, bytes], **kwargs) -> Path:
    with zipfile.ZipFile(path, "w", kwargs.get("compression", zipfile.ZIP_DEFLATED)) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def make_tar(path: Path, entries: list[tarfile.TarInfo | tuple[str, bytes]], mode="w:gz") -> Path:
    with tarfile.open(path, mode) as archive:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                archive.addfile(entry)
            else:
                name, data = entry
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return path


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def rejected(path: Path, limits: ArchiveLimits = LIMITS) -> str:
    with pytest.raises(InvalidInput) as caught:
        list_members(path, limits)
    return str(caught.value)


def test_plain_zip_and_tar_are_listed_by_base_name(tmp_path):
    zipped = make_zip(tmp_path / "a.zip", {"preds/case_1.nii.gz": b"x" * 10, "case_2.nii": b"y"})
    tarred = make_tar(tmp_path / "a.tar.gz", [("preds/case_1.nii.gz", b"x" * 10),
                                             ("case_2.nii", b"y")])
    for archive in (zipped, tarred):
        members = list_members(archive, LIMITS)
        assert sorted((m.name, m.size) for m in members) == [("case_1.nii.gz", 10),
                                                              ("case_2.nii", 1)]


def test_extraction_writes_flat_private_files(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"deep/dir/case_1.nii.gz": b"abc"})
    written = extract(archive, list_members(archive, LIMITS), tmp_path / "out", LIMITS)
    target = written["case_1.nii.gz"]
    assert target == tmp_path / "out" / "case_1.nii.gz"
    assert target.read_bytes() == b"abc"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_archiver_junk_is_ignored(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"__MACOSX/._case_1.nii.gz": b"j", ".DS_Store": b"j",
                                            "case_1.nii.gz": b"x"})
    assert [m.name for m in list_members(archive, LIMITS)] == ["case_1.nii.gz"]


@pytest.mark.parametrize("name", ["../evil.nii.gz", "a/../../evil.nii.gz", "/etc/evil.nii.gz",
                                  "C:/evil.nii.gz", "..\\evil.nii.gz"])
def test_path_escapes_are_rejected(tmp_path, name):
    for archive in (make_zip(tmp_path / "a.zip", {name: b"x"}),
                    make_tar(tmp_path / "a.tar.gz", [(name, b"x")])):
        assert "points outside the archive" in rejected(archive)


def test_symbolic_link_in_tar_is_rejected(tmp_path):
    archive = make_tar(tmp_path / "a.tar", [special("case_1.nii.gz", tarfile.SYMTYPE,
                                                     "/private/groundtruth/x")], mode="w")
    assert "'case_1.nii.gz' is a symbolic link" in rejected(archive)


def test_hard_link_in_tar_is_rejected(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", [("a.nii", b"x"),
                                               special("b.nii", tarfile.LNKTYPE, "a.nii")])
    assert "'b.nii' is a hard link" in rejected(archive)


@pytest.mark.parametrize("kind,word", [(tarfile.CHRTYPE, "device file"),
                                       (tarfile.BLKTYPE, "device file"),
                                       (tarfile.FIFOTYPE, "named pipe")])
def test_device_files_and_pipes_are_rejected(tmp_path, kind, word):
    archive = make_tar(tmp_path / "a.tar.gz", [special("dev.nii", kind)])
    assert f"'dev.nii' is a {word}" in rejected(archive)


def test_symbolic_link_in_zip_is_rejected(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("case_1.nii.gz")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    assert "is a symbolic link" in rejected(path)


def test_too_many_members(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {f"c{i}.nii": b"x" for i in range(51)})
    assert "more than 50 members" in rejected(archive)


def test_total_size_cap(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"a.nii": b"\0" * 600_000, "b.nii": b"\0" * 600_000})
    assert "unpacks to more than" in rejected(archive)


def test_compression_ratio_cap(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"a.nii": b"\0" * 900_000})
    limits = ArchiveLimits(max_members=50, max_total_bytes=10**7, max_ratio=100)
    assert "compression ratio" in rejected(archive, limits)


def test_member_lying_about_its_size_stops_extraction(tmp_path):
    # A tar header may declare fewer bytes than a crafted zip entry inflates to; simulate with
    # a zip whose central directory understates the size.
    path = make_zip(tmp_path / "a.zip", {"a.nii": b"\1" * 5000})
    members = list_members(path, LIMITS)
    lying = [type(members[0])(path=members[0].path, name=members[0].name, size=100)]
    with pytest.raises(InvalidInput, match="larger than it declares"):
        extract(path, lying, tmp_path / "out", LIMITS)


@pytest.mark.parametrize("maker", ["zip", "tar"])
def test_reading_into_memory_spills_large_members_and_keeps_the_caps(tmp_path, maker):
    data = {"in/a.nii.gz": b"a" * 3000, "b.nii.gz": b"b" * 100, "c.nii": b"c" * 10}
    archive = (make_zip(tmp_path / "a.zip", data) if maker == "zip"
               else make_tar(tmp_path / "a.tar.gz", list(data.items())))
    members = [m for m in list_members(archive, LIMITS) if m.name != "c.nii"]
    read = list(iter_read(archive, members, LIMITS, spill_dir=tmp_path / "spill",
                          spill_above=1000))
    assert [m.name for m, _ in read] == ["a.nii.gz", "b.nii.gz"]  # archive order, c skipped
    spilled, kept = read[0][1], read[1][1]
    assert spilled == tmp_path / "spill" / "a.nii.gz" and spilled.read_bytes() == b"a" * 3000
    assert isinstance(kept, bytearray) and kept == b"b" * 100
    assert not (tmp_path / "spill" / "b.nii.gz").exists()
    heads = dict(iter_read(archive, members, LIMITS, head_bytes=64))
    assert sorted(map(bytes, heads.values())) == [b"a" * 64, b"b" * 64]
    lying = [type(m)(path=m.path, name=m.name, size=50) for m in members]
    with pytest.raises(InvalidInput, match="larger than it declares"):
        list(iter_read(archive, lying, LIMITS))


def test_duplicate_names_in_different_folders(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"x/case_1.nii.gz": b"1", "y/case_1.nii.gz": b"2"})
    message = rejected(archive)
    assert "two files named 'case_1.nii.gz'" in message and "x/case_1.nii.gz" in message


def test_password_protected_zip(tmp_path):
    path = make_zip(tmp_path / "a.zip", {"a.nii": b"x"})
    data = bytearray(path.read_bytes())
    data[6] |= 0x1  # local header flag
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1  # central directory flag
    path.write_bytes(bytes(data))
    assert "password-protected" in rejected(path)


def test_unsupported_zip_compression(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"a.nii": b"x" * 100}, compression=zipfile.ZIP_BZIP2)
    assert "use deflate" in rejected(archive)


def test_not_an_archive(tmp_path):
    path = tmp_path / "a.zip"
    path.write_bytes(b"this is not an archive at all, just text" * 20)
    assert "not a zip or tar" in rejected(path)


def test_truncated_archives_are_reported_as_damaged(tmp_path):
    for archive in (make_zip(tmp_path / "a.zip", {f"c{i}.nii": b"x" * 3000 for i in range(5)}),
                    make_tar(tmp_path / "a.tar.gz", [(f"c{i}.nii", bytes(range(256)) * 40)
                                                     for i in range(5)])):
        archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
        message = rejected(archive)
        assert "damaged" in message
        assert str(tmp_path) not in message


def test_corrupt_member_data_is_reported_not_raised(tmp_path):
    path = make_zip(tmp_path / "a.zip", {"case_1.nii": bytes(range(256)) * 64})
    data = bytearray(path.read_bytes())
    start = data.find(b"case_1.nii") + len("case_1.nii")  # the member's compressed data
    data[start + 10] ^= 0xFF
    path.write_bytes(bytes(data))
    members = list_members(path, LIMITS)  # the directory is intact
    with pytest.raises(InvalidInput, match=r"'case_1\.nii' is damaged"):
        extract(path, members, tmp_path / "out", LIMITS)


def tar_gz_declaring(path: Path, name: str, declared: int, zeros: int = 0) -> Path:
    """A .tar.gz whose one member declares ``declared`` bytes and holds ``zeros`` of them."""
    info = tarfile.TarInfo(name)
    info.size = declared
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [compressor.compress(info.tobuf(tarfile.GNU_FORMAT))]
    block = bytes(1 << 20)
    parts += [compressor.compress(block) for _ in range(zeros >> 20)]
    if declared == zeros:
        parts.append(compressor.compress(bytes(-declared % 512 + 1024)))
    parts.append(compressor.flush())
    path.write_bytes(b"".join(parts))
    return path


def refuse_over(cap: int):
    def check(member: Member) -> None:
        if member.size > cap:
            raise InvalidInput(f"'{member.name}' declares {member.size} bytes")
    return check


def test_a_member_is_checked_as_soon_as_its_header_is_read(tmp_path):
    # 256 MiB of zeros in 260 KB: tarfile's stream mode inflates a member to skip it.
    archive = tar_gz_declaring(tmp_path / "a.tar.gz", "case_1.nii.gz", 256 << 20, 256 << 20)
    limits = ArchiveLimits(max_members=50, max_total_bytes=1 << 30, max_ratio=10**6)
    start = time.perf_counter()
    with pytest.raises(InvalidInput, match=r"^'case_1\.nii\.gz' declares 268435456 bytes$"):
        list_members(archive, limits, check_member=refuse_over(1 << 20))
    assert time.perf_counter() - start < 0.2
    assert [m.size for m in list_members(archive, limits, check_member=refuse_over(1 << 30))] \
        == [256 << 20]


def test_the_compression_ratio_is_checked_as_members_are_seen(tmp_path):
    archive = tar_gz_declaring(tmp_path / "a.tar.gz", "case_1.nii.gz", 256 << 20, 256 << 20)
    limits = ArchiveLimits(max_members=50, max_total_bytes=1 << 30, max_ratio=100)
    start = time.perf_counter()
    assert "compression ratio" in rejected(archive, limits)
    assert time.perf_counter() - start < 0.2


def test_total_size_is_checked_at_the_header(tmp_path):
    archive = tar_gz_declaring(tmp_path / "a.tar.gz", "case_1.nii.gz", 4 << 30)
    assert rejected(archive) == "the archive unpacks to more than 976.6 KiB"


def test_member_names_that_are_not_utf8_are_refused(tmp_path):
    tarred = tmp_path / "a.tar.gz"
    with tarfile.open(tarred, "w:gz", format=tarfile.GNU_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as archive:
        info = tarfile.TarInfo("case_\udcff.nii.gz")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    zipped = make_zip(tmp_path / "a.zip", {"case_x.nii.gz": b"x"})
    raw = bytearray(zipped.read_bytes())
    for header in (raw.find(b"PK\x03\x04"), raw.find(b"PK\x01\x02")):
        flags = 6 if raw[header + 2] == 3 else 8
        raw[header + flags + 1] |= 0x08  # bit 11: the name is UTF-8
    zipped.write_bytes(bytes(raw).replace(b"case_x", b"case_\xff"))
    for archive in (tarred, zipped):
        assert rejected(archive) == "archive member name is not valid UTF-8"


@pytest.mark.parametrize("name", ["case\x1b[2J.nii.gz", "case\n1.nii.gz", "a\u202egz.nii"])
def test_member_names_with_control_characters_are_refused(tmp_path, name):
    for archive in (make_zip(tmp_path / "a.zip", {name: b"x"}),
                    make_tar(tmp_path / "a.tar.gz", [(name, b"x")])):
        message = rejected(archive)
        assert message.startswith("archive member 'case") or message.startswith(
            "archive member 'a")
        assert "control or invisible characters" in message
        assert message.isprintable()


def _cube_task():
    geometry = {"shape": [20, 20, 10], "spacing_mm": [1.0, 1.0, 2.0],
                "affine": [[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 2.0, 0], [0, 0, 0, 1.0]]}
    return SimpleNamespace(case_names=["cube_000", "cube_001"],
                           geometry_of=lambda case: geometry)


def test_match_cases_refuses_an_oversized_prediction_at_its_tar_header(tmp_path):
    archive = tar_gz_declaring(tmp_path / "p.tar.gz", "cube_001.nii.gz", 256 << 20, 256 << 20)
    start = time.perf_counter()
    with pytest.raises(InvalidInput) as caught:
        segmentation.match_cases(archive, _cube_task(), allow_partial=True)
    assert time.perf_counter() - start < 0.2
    assert str(caught.value) == ("case cube_001: 'cube_001.nii.gz' is 256.0 MiB, more than a "
                                 "label map of this case's size can be (1.0 MiB)")


def test_match_cases_refuses_an_oversized_extra_file_at_its_tar_header(tmp_path):
    archive = tar_gz_declaring(tmp_path / "p.tar.gz", "notes.txt", 256 << 20, 256 << 20)
    start = time.perf_counter()
    with pytest.raises(InvalidInput, match=r"^the archive holds 'notes\.txt' \(256\.0 MiB\), which "
                                         r"is not a test case"):
        segmentation.match_cases(archive, _cube_task(), allow_partial=True)
    assert time.perf_counter() - start < 0.2


def test_header_messages_name_the_case_once(tmp_path):
    image = tmp_path / "cube_001.nii.gz"
    nib.Nifti1Image(np.zeros((20, 20, 9), np.uint8), np.diag([1.0, 1.0, 2.0, 1.0])).to_filename(
        image)
    archive = make_zip(tmp_path / "p.zip", {"cube_001.nii.gz": image.read_bytes()})
    with pytest.raises(InvalidInput) as caught:
        segmentation.validate_upload(archive, _cube_task(), allow_partial=True)
    assert str(caught.value) == ("case cube_001: prediction shape (20, 20, 9) does not match "
                                 "the reference (20, 20, 10)")


def _detection_task(images: int = 10):
    return SimpleNamespace(case_names=[f"img{i}" for i in range(images)], class_names=["A"])


def test_a_box_file_too_large_for_the_task_is_refused_at_listing(tmp_path):
    # 10 images: at most 10,000 boxes of 1 KiB.
    zipped = make_zip(tmp_path / "p.zip", {"preds.csv": b"image_id,label,score,xmin,ymin,"
                                                        b"xmax,ymax\n"})
    raw = bytearray(zipped.read_bytes())
    central = raw.find(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, 1 << 30)  # declared uncompressed size
    zipped.write_bytes(bytes(raw))
    tarred = tar_gz_declaring(tmp_path / "p.tar.gz", "preds.csv", 1 << 30)
    for archive in (zipped, tarred):
        with pytest.raises(InvalidInput) as caught:
            detection.validate_upload(archive, _detection_task())
        assert str(caught.value) == ("'preds.csv' is 1.0 GiB, more than the 9.8 MiB a "
                                     "predictions file for 10 test images can hold (at most "
                                     "1000 boxes per image, 1.0 KiB each)")


def test_a_bare_box_file_too_large_for_the_task_is_refused_by_its_size(tmp_path):
    bare = tmp_path / "upload"
    with bare.open("wb") as stream:
        stream.write(b"image_id,label,score,xmin,ymin,xmax,ymax\n")
        stream.truncate(1 << 30)  # sparse: no disk used
    with pytest.raises(InvalidInput) as caught:
        detection.validate_upload(bare, _detection_task())
    assert str(caught.value) == ("the predictions file is 1.0 GiB, more than the 9.8 MiB a "
                                 "predictions file for 10 test images can hold (at most 1000 "
                                 "boxes per image, 1.0 KiB each)")


def test_a_box_file_within_the_caps_is_read(tmp_path):
    archive = make_tar(tmp_path / "p.tar.gz", [("out/preds.csv",
                                                 b"image_id,label,score,xmin,ymin,xmax,ymax\n"
                                                 b"img3,A,0.5,1,2,3,4\n")])
    detections = detection.validate_upload(archive, _detection_task())
    assert detections.image_ids.tolist() == ["img3"]


def _zip_with_entries(path, count: int, *, announce: int | None = None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for index in range(count):
            archive.writestr(f"f{index}", b"")
    if announce is not None:  # forge the end record's entry counts
        raw = bytearray(path.read_bytes())
        at = raw.rfind(b"PK\x05\x06")
        raw[at + 8:at + 12] = struct.pack("<HH", announce, announce)
        path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("announce", [None, 1])
def test_a_zip_directory_beyond_the_member_cap_is_refused_from_its_end_record(
        tmp_path, announce, monkeypatch):
    """The zip reader builds an object per directory entry before any can be counted (100k
    entries grew the web process by 50 MiB): the end record is read first. A forged count
    does not help: the directory's size is bounded too."""
    import core.archives as archives

    path = _zip_with_entries(tmp_path / "many.zip", 2000, announce=announce)
    opened = []
    monkeypatch.setattr(archives.zipfile, "ZipFile",
                        lambda *a, **k: opened.append(a) or pytest.fail("directory parsed"))
    with pytest.raises(InvalidInput, match="more than 50 members"):
        list_members(path, LIMITS)
    assert not opened


def test_a_zip_within_the_member_cap_is_listed(tmp_path):
    path = _zip_with_entries(tmp_path / "some.zip", 40)
    assert len(list_members(path, LIMITS)) == 40


def _tar_behind_extended_header(path, kind: bytes, size: int, fill: bytes = b"1"):
    out = io.BytesIO()
    header = tarfile.TarInfo("header")
    header.type, header.size = kind, size
    out.write(header.tobuf(tarfile.USTAR_FORMAT) + fill * size + bytes(-size % 512))
    member = tarfile.TarInfo("case.nii.gz")
    member.size = 3
    out.write(member.tobuf(tarfile.USTAR_FORMAT) + b"abc" + bytes(509) + bytes(1024))
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.parametrize("kind", [tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK,
                                  tarfile.XHDTYPE, tarfile.XGLTYPE])
def test_a_tar_extended_header_is_refused_on_its_declared_size_before_it_is_read(tmp_path, kind):
    """tarfile reads a long name or a pax record set whole, and parses it, before handing on
    the member it describes (a 512 MiB long name cost a worker 1.5 GB; 120,000 digits of pax
    took 25 s to parse)."""
    path = _tar_behind_extended_header(tmp_path / "x.tar", kind, 120_000)
    started = time.process_time()
    with pytest.raises(InvalidInput, match=r"extended header of 117\.2 KiB; at most 2\.0 KiB"):
        list_members(path, LIMITS)
    assert time.process_time() - started < 0.5


def test_extended_headers_add_up_to_a_cap(tmp_path, monkeypatch):
    import core.archives as archives

    monkeypatch.setattr(archives, "MAX_EXTENDED_HEADERS_BYTES", 3000)
    out = io.BytesIO()
    for index in range(3):
        member = tarfile.TarInfo(f"f{index}" + "x" * 998)  # 1,000 characters: a long name
        member.size = 1
        out.write(member.tobuf(tarfile.GNU_FORMAT) + b"a" + bytes(511))
    path = tmp_path / "long.tar"
    path.write_bytes(out.getvalue() + bytes(1024))
    with pytest.raises(InvalidInput, match="extended header"):
        list_members(path, LIMITS, flat=False)


def test_long_names_within_the_caps_are_listed(tmp_path):
    out = io.BytesIO()
    name = "predictions/" + "deep/" * 150 + "case.nii.gz"  # 774 characters: a pax header
    member = tarfile.TarInfo(name)
    member.size = 1
    out.write(member.tobuf(tarfile.PAX_FORMAT) + b"a" + bytes(511) + bytes(1024))
    path = tmp_path / "ok.tar"
    path.write_bytes(out.getvalue())
    assert [m.name for m in list_members(path, LIMITS)] == ["case.nii.gz"]


def test_sparse_tar_members_are_refused(tmp_path):
    member = tarfile.TarInfo("case.nii.gz")
    member.type, member.size = tarfile.GNUTYPE_SPARSE, 0
    path = tmp_path / "sparse.tar"
    path.write_bytes(member.tobuf(tarfile.GNU_FORMAT) + bytes(1024))
    with pytest.raises(InvalidInput, match="sparse file"):
        list_members(path, LIMITS)
