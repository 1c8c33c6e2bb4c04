"""Copy an algorithm's ``/output`` from the engine's tar stream into a host folder, safely.

The stream comes from the engine (``GET /containers/{id}/archive``) but its content was written
by the algorithm: names, types and sizes are hostile. Only regular files and folders are
copied, under their normalised relative names, with a byte and an entry budget; anything
else (links, devices, fifos) is skipped and reported.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

CHUNK = 1024 * 1024
PAGE_BYTES = 4096  # tmpfs allocates whole pages; 4 KiB on amd64, the platform we accept


class OutputTooLarge(Exception):
    """The outputs exceed the byte or entry budget."""


@dataclass(frozen=True)
class Collected:
    """What was copied (relative file paths) and what was skipped (names, with the reason)."""

    files: tuple[str, ...]
    skipped: tuple[str, ...]


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (what docker-py streams)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _relative_name(name: str) -> PurePosixPath | None:
    """The member's path relative to /output; None for the root itself or an unsafe name."""
    path = PurePosixPath(name)
    parts = [p for p in path.parts if p not in ("", ".")]
    if path.is_absolute() or ".." in parts:
        return None
    if parts and parts[0] == "output":
        # The engine may name members after the folder it archived ("output/a.nii.gz").
        parts = parts[1:]
    return PurePosixPath(*parts) if parts else PurePosixPath()


def collect_outputs(
    chunks: Iterable[bytes],
    destination: Path,
    *,
    max_bytes: int,
    max_entries: int,
    volume_pages: int | None = None,
) -> Collected:
    """Extract the tar ``chunks`` into the empty folder ``destination``.

    Raises :class:`OutputTooLarge` once the file contents exceed ``max_bytes``, the entries
    exceed ``max_entries``, or the files fill ``volume_pages`` tmpfs pages (of PAGE_BYTES,
    counted as tmpfs does: whole pages per file) — the volume they came from was full, so the
    algorithm ran out of space, whether or not it noticed. What was extracted so far is
    removed then. Files are written with mode 0644 and this process's owner; the archive's
    owners, modes and times are ignored.
    """
    if any(destination.iterdir()):
        raise ValueError(f"output folder {destination} is not empty")
    files: list[str] = []
    skipped: list[str] = []
    total = entries = pages = 0
    try:
        with tarfile.open(fileobj=_ChunkReader(chunks), mode="r|") as tar:
            for member in tar:
                relative = _relative_name(member.name)
                if relative is None:
                    skipped.append(f"{member.name} (unsafe name)")
                    continue
                if relative == PurePosixPath():
                    continue
                entries += 1
                if entries > max_entries:
                    raise OutputTooLarge(f"more than {max_entries} entries")
                name = relative.as_posix()
                target = destination.joinpath(*relative.parts)
                if not (member.isdir() or member.isfile()):
                    skipped.append(f"{name} (not a regular file)")
                elif _blocked(destination, relative, is_dir=member.isdir()):
                    skipped.append(f"{name} (clashes with an earlier entry)")
                elif member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    total += member.size
                    pages += -(-member.size // PAGE_BYTES)
                    if total > max_bytes:
                        raise OutputTooLarge(f"more than {max_bytes} bytes")
                    if volume_pages is not None and pages >= volume_pages:
                        raise OutputTooLarge(f"the output volume ({volume_pages} pages) is full")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    _copy(tar, member, target)
                    files.append(name)
    except BaseException:
        empty_folder(destination)
        raise
    return Collected(files=tuple(sorted(files)), skipped=tuple(skipped))


def _blocked(destination: Path, relative: PurePosixPath, *, is_dir: bool) -> bool:
    """Whether an earlier entry is in the way: a file where a folder is needed, or a duplicate."""
    path = destination
    for part in relative.parts[:-1]:
        path = path / part
        if path.exists() and not path.is_dir():
            return True
    target = destination.joinpath(*relative.parts)
    return target.exists() and not (is_dir and target.is_dir())


def _copy(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    source = tar.extractfile(member)
    if source is None:
        raise tarfile.ReadError(f"no content for regular file {member.name!r}")
    with open(target, "xb") as sink:
        shutil.copyfileobj(source, sink, CHUNK)
    target.chmod(0o644)


def empty_folder(folder: Path) -> None:
    """Remove everything inside ``folder`` (which stays)."""
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
