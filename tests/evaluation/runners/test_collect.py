"""Copying /output out of the engine's tar stream: hostile names, types and sizes."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.runners.collect import OutputTooLarge, collect_outputs


def _tar(*members: tuple[str, bytes | str | None, bytes]) -> bytes:
    """Members as (name, kind, payload): kind a tarfile type; payload content or link target."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:
                info.linkname = payload.decode()
                tar.addfile(info)
    return buffer.getvalue()


def _chunks(data: bytes, size: int = 700) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _collect(data: bytes, folder: Path, *, max_bytes: int = 10_000, max_entries: int = 10):
    return collect_outputs(_chunks(data), folder, max_bytes=max_bytes, max_entries=max_entries)


def _tree(folder: Path) -> dict[str, bytes | None]:
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


F, D, SYM = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE
LNK, FIFO = tarfile.LNKTYPE, tarfile.FIFOTYPE


def test_files_and_folders_are_copied(tmp_path):
    data = _tar(("./", D, b""), ("./a.nii.gz", F, b"aaa"), ("./sub", D, b""), ("./sub/b", F, b"b"))

    collected = _collect(data, tmp_path)

    assert collected.files == ("a.nii.gz", "sub/b")
    assert collected.skipped == ()
    assert _tree(tmp_path) == {"a.nii.gz": b"aaa", "sub": None, "sub/b": b"b"}
    assert (tmp_path / "a.nii.gz").stat().st_mode & 0o777 == 0o644


def test_the_engines_folder_prefix_is_dropped(tmp_path):
    collected = _collect(_tar(("output", D, b""), ("output/a", F, b"x")), tmp_path)

    assert collected.files == ("a",)


def test_links_devices_and_escaping_names_are_skipped(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    inside = tmp_path / "inside"
    inside.mkdir()
    data = _tar(
        ("link", SYM, b"/etc/passwd"),
        ("hard", LNK, b"a"),
        ("pipe", FIFO, b""),
        ("../outside/escaped", F, b"x"),
        ("/abs", F, b"x"),
        ("ok", F, b"fine"),
    )

    collected = _collect(data, inside)

    assert collected.files == ("ok",)
    assert len(collected.skipped) == 5
    assert _tree(inside) == {"ok": b"fine"}
    assert _tree(outside) == {}


def test_a_duplicate_or_clashing_entry_keeps_the_first(tmp_path):
    data = _tar(("a", F, b"first"), ("a", F, b"second"), ("a/b", F, b"under a file"))

    collected = _collect(data, tmp_path)

    assert collected.files == ("a",)
    assert _tree(tmp_path) == {"a": b"first"}
    assert len(collected.skipped) == 2


def test_too_many_bytes_raise_and_leave_nothing_behind(tmp_path):
    data = _tar(("a", F, b"x" * 600), ("b", F, b"y" * 600))

    with pytest.raises(OutputTooLarge):
        _collect(data, tmp_path, max_bytes=1000)
    assert list(tmp_path.iterdir()) == []


def test_too_many_entries_raise_and_leave_nothing_behind(tmp_path):
    data = _tar(*[(f"f{i}", F, b"") for i in range(4)], ("d", D, b""))

    with pytest.raises(OutputTooLarge):
        _collect(data, tmp_path, max_entries=4)
    assert list(tmp_path.iterdir()) == []


def test_a_full_volume_means_too_large_even_below_the_byte_budget(tmp_path):
    # Two 1-byte files take two whole tmpfs pages: a 2-page volume was full.
    data = _tar(("a", F, b"x"), ("b", F, b"y"))

    with pytest.raises(OutputTooLarge, match="full"):
        collect_outputs(_chunks(data), tmp_path, max_bytes=10, max_entries=5, volume_pages=2)
    assert list(tmp_path.iterdir()) == []
    collected = collect_outputs(
        _chunks(data), tmp_path, max_bytes=10, max_entries=5, volume_pages=3
    )
    assert collected.files == ("a", "b")


def test_exactly_the_budget_is_accepted(tmp_path):
    collected = _collect(_tar(("a", F, b"x" * 1000)), tmp_path, max_bytes=1000, max_entries=1)

    assert collected.files == ("a",)


def test_the_destination_must_be_empty(tmp_path):
    (tmp_path / "old").write_text("x")

    with pytest.raises(ValueError, match="not empty"):
        _collect(_tar(("a", F, b"x")), tmp_path)


NAME_PARTS = st.sampled_from(["a", "b", "..", ".", "", "output", "c.nii.gz"])


@settings(max_examples=60, deadline=None)
@given(
    members=st.lists(
        st.tuples(
            st.lists(NAME_PARTS, min_size=1, max_size=4).map("/".join),
            st.sampled_from([F, D, SYM]),
            st.binary(max_size=50),
        ),
        max_size=8,
    )
)
def test_nothing_is_ever_written_outside_the_destination(tmp_path_factory, members):
    root = tmp_path_factory.mktemp("collect")
    destination = root / "output"
    destination.mkdir()
    data = _tar(*[(n, k, p if k == F else b"target") for n, k, p in members])

    try:
        collected = _collect(data, destination, max_bytes=200, max_entries=6)
    except OutputTooLarge:
        assert list(destination.iterdir()) == []
    else:
        assert all((destination / name).is_file() for name in collected.files)
    assert [p.name for p in root.iterdir()] == ["output"]
    assert not any(p.is_symlink() for p in destination.rglob("*"))
