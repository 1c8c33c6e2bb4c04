"""The test images of a run as a tar stream, for the engine to unpack into the run's input volume.

Copying the images into an engine volume, rather than bind-mounting the worker's folder, keeps
the host's layout out of the container: ``/proc/self/mountinfo`` shows a bind mount's source
path (the data folder, the task's id), but only the engine's own storage for a volume. The
stream is built from the folder as it is read, at constant memory; names are relative and
sorted, owners root, modes 0755 for folders and 0644 for files, whatever the folder says.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

CHUNK_BYTES = 1024 * 1024


def _member(name: str, kind: bytes, *, size: int = 0, mode: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mode = kind, size, mode
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info.tobuf(format=tarfile.PAX_FORMAT)


def input_chunks(folder: Path) -> Iterator[bytes]:
    """``folder``'s folders and regular files as an uncompressed tar stream, in chunks.

    Anything else (a symlink, a device) raises ValueError: the folder is the platform's own
    staging of test images, so such an entry is a mistake, and following a link could reach
    what the run must not see.
    """
    for parent, folders, files in os.walk(folder):
        folders.sort()
        base = Path(parent)
        for name in sorted(folders) + sorted(files):
            path = base / name
            relative = path.relative_to(folder).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                yield _member(relative, tarfile.DIRTYPE, mode=0o755)
            elif stat.S_ISREG(mode):
                yield from _file(path, relative)
            else:
                raise ValueError(f"{path} is not a regular file or a folder")
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


def _file(path: Path, relative: str) -> Iterator[bytes]:
    with open(path, "rb") as source:
        size = os.fstat(source.fileno()).st_size
        yield _member(relative, tarfile.REGTYPE, size=size, mode=0o644)
        left = size
        while left and (chunk := source.read(min(CHUNK_BYTES, left))):
            left -= len(chunk)
            yield chunk
        if left:
            raise ValueError(f"{path} shrank while it was being copied")
    yield b"\0" * (-size % tarfile.BLOCKSIZE)
