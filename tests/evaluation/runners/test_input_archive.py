"""The tar stream that carries the test images into a run's input volume."""

from __future__ import annotations

import io
import tarfile

import pytest

from evaluation.runners.input_archive import input_chunks


def _members(folder) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    data = b"".join(input_chunks(folder))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar]


def test_folders_and_files_with_neutral_owners_and_modes(tmp_path):
    (tmp_path / "b.nii.gz").write_bytes(b"B" * 1000)
    (tmp_path / "a.nii.gz").write_bytes(b"")
    (tmp_path / "sub").mkdir(mode=0o700)
    (tmp_path / "sub" / "c.nii.gz").write_bytes(b"C" * 513)
    (tmp_path / "a.nii.gz").chmod(0o600)

    members = _members(tmp_path)

    assert [(m.name, m.isdir(), content) for m, content in members] == [
        ("sub", True, None), ("a.nii.gz", False, b""), ("b.nii.gz", False, b"B" * 1000),
        ("sub/c.nii.gz", False, b"C" * 513),
    ]
    assert {(m.uid, m.gid, m.mode) for m, _ in members if m.isreg()} == {(0, 0, 0o644)}
    assert {(m.uid, m.gid, m.mode) for m, _ in members if m.isdir()} == {(0, 0, 0o755)}


def test_an_empty_folder_is_an_empty_archive(tmp_path):
    assert _members(tmp_path) == []


@pytest.mark.parametrize("target", ["../labels", "/etc"])
def test_links_are_refused_rather_than_followed(tmp_path, target):
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "case.nii.gz").symlink_to(target)

    with pytest.raises(ValueError, match="not a regular file"):
        list(input_chunks(tmp_path / "inputs"))
