"""Every way an uploaded archive can be hostile gets rejected with its own message."""

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from evaluation.archives import ArchiveLimits, extract, iter_read, list_members
from scorers.errors import InputError

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
    with pytest.raises(InputError) as caught:
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
    with pytest.raises(InputError, match="larger than it declares"):
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
    with pytest.raises(InputError, match="larger than it declares"):
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
    with pytest.raises(InputError, match=r"'case_1\.nii' is damaged"):
        extract(path, members, tmp_path / "out", LIMITS)
