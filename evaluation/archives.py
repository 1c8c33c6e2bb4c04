"""Safe reading of uploaded zip and tar(.gz) archives.

An uploaded archive is hostile until validated: member names may try to escape the extraction
folder, members may be links or device files, and sizes may be crafted to exhaust the disk
(zip/gzip bombs). This module lists members without extracting, rejects anything that is not a
plain file with a plain name, and extracts chosen members into a flat folder while counting the
bytes actually written against the caps.
"""

import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from scorers.errors import InputError

# Files that archivers add on their own; ignored rather than reported as extra cases.
_JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
_CHUNK = 1024 * 1024
# iter_read writes members larger than this to a file instead of holding them in memory.
SPILL_ABOVE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int
    max_total_bytes: int
    max_ratio: float


@dataclass(frozen=True)
class Member:
    path: str  # the name inside the archive
    name: str  # its base name, which identifies the case
    size: int  # declared uncompressed size


def detect_format(path: Path) -> str:
    """'zip' or 'tar' from the file's first bytes (never from its name)."""
    with open(path, "rb") as fh:
        head = fh.read(262 + 8)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b" or head[257:262] == b"ustar":
        return "tar"
    raise InputError("the upload is not a zip or tar(.gz) archive")


def list_members(path: Path, limits: ArchiveLimits, *, flat: bool = True) -> list[Member]:
    """Every regular file in the archive, validated; directories and archiver junk skipped.

    With ``flat`` (the default, for prediction archives) base names must be unique, since a
    file's base name identifies its case; otherwise full paths must be.
    """
    archive_size = max(path.stat().st_size, 1)
    members: list[Member] = []
    total = 0
    count = 0
    for entry_path, size, kind, _ in _walk(path):
        count += 1
        if count > limits.max_members:
            raise InputError(f"the archive has more than {limits.max_members} members")
        clean = _clean_name(entry_path)
        if kind == "dir" or _is_junk(clean):
            continue
        if kind != "file":
            raise InputError(
                f"archive member '{clean}' is a {kind}; only regular files are accepted"
            )
        total += size
        if total > limits.max_total_bytes:
            raise InputError(
                f"the archive unpacks to more than {human_size(limits.max_total_bytes)}"
            )
        members.append(Member(path=entry_path, name=PurePosixPath(clean).name, size=size))
    if total / archive_size > limits.max_ratio:
        raise InputError("the archive's compression ratio is implausibly high (a zip bomb?)")
    seen: dict[str, str] = {}
    for member in members:
        clean = _clean_name(member.path)
        key = member.name if flat else clean
        if key in seen:
            raise InputError(
                f"the archive holds two files named '{member.name}' ('{seen[key]}' and '{clean}')"
            )
        seen[key] = clean
    return members


def extract(
    path: Path, members: list[Member], dest: Path, limits: ArchiveLimits, *,
    keep_folders: bool = False, head_bytes: int | None = None,
) -> dict[str, Path]:
    """Extract ``members`` (from :func:`list_members`) into ``dest``; name → file path.

    Flat by default (every file directly in ``dest``, keyed by base name); ``keep_folders``
    keeps the archive's validated folder structure (keyed by relative path). ``head_bytes``
    extracts only the first bytes of each member (enough for a file's header). Bytes are
    counted as they are written: a member that inflates past its declared size, or past the
    archive's total cap, stops the extraction.
    """
    return dict(iter_extract(path, members, dest, limits, keep_folders=keep_folders,
                             head_bytes=head_bytes))


def iter_extract(
    path: Path, members: list[Member], dest: Path, limits: ArchiveLimits, *,
    keep_folders: bool = False, head_bytes: int | None = None,
) -> Iterator[tuple[str, Path]]:
    """:func:`extract`, one member at a time: yields (name, file path) as soon as each member
    is written, in archive order."""
    dest.mkdir(parents=True, exist_ok=True)
    for member, chunks in _member_chunks(path, members, limits, head_bytes):
        relative = _clean_name(member.path) if keep_folders else member.name
        yield relative, _write(dest / relative, chunks)


def iter_read(
    path: Path, members: list[Member], limits: ArchiveLimits, *, head_bytes: int | None = None,
    spill_dir: Path | None = None, spill_above: int | None = None,
) -> Iterator[tuple[Member, bytearray | Path]]:
    """(member, its bytes) for ``members``, in archive order, read into memory under the same
    caps as :func:`extract`: each member whole (a buffer of its declared size, or
    ``head_bytes``), released before the next one is read, so callers cap ``Member.size``
    first. With ``spill_dir``, a member larger than ``spill_above`` is written there instead
    and its file path given (flat, like :func:`extract`); by default above
    ``SPILL_ABOVE_BYTES``."""
    spill_above = SPILL_ABOVE_BYTES if spill_above is None else spill_above
    for member, chunks in _member_chunks(path, members, limits, head_bytes):
        if spill_dir is not None and member.size > spill_above:
            spill_dir.mkdir(parents=True, exist_ok=True)
            yield member, _write(spill_dir / member.name, chunks)
            continue
        size = member.size if head_bytes is None else min(member.size, head_bytes)
        content = bytearray(size)
        view = memoryview(content)
        filled = 0
        for chunk in chunks:
            view[filled:filled + len(chunk)] = chunk
            filled += len(chunk)
        view.release()
        if filled < size:
            del content[filled:]
        yield member, content
        del content


def _write(target: Path, chunks: Iterator[bytes]) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return target


def _member_chunks(
    path: Path, members: list[Member], limits: ArchiveLimits, head_bytes: int | None,
) -> Iterator[tuple[Member, Iterator[bytes]]]:
    """(member, its chunks) for ``members`` in archive order; the chunks must be consumed
    before the next member. Bytes are counted as they are read: a member that inflates past
    its declared size, or past the archive's total cap, raises InputError."""
    wanted = {member.path: member for member in members}
    total = 0

    def chunks(member: Member, stream: IO[bytes]) -> Iterator[bytes]:
        nonlocal total
        count = 0
        while chunk := _read(stream, member.name):
            count += len(chunk)
            total += len(chunk)
            if count > member.size or total > limits.max_total_bytes:
                raise InputError(f"archive member '{member.name}' is larger than it declares")
            if head_bytes is not None and count >= head_bytes:
                yield chunk[: len(chunk) - (count - head_bytes)]
                return
            yield chunk

    for entry_path, _, _, stream in _walk(path, frozenset(wanted)):
        if stream is not None:
            member = wanted[entry_path]
            yield member, chunks(member, stream)


def _walk(path: Path, open_names: frozenset[str] = frozenset()) -> Iterator[
        tuple[str, int, str, IO[bytes] | None]]:
    """(name, declared size, kind, stream) for every entry, in archive order; ``kind`` is
    file, dir, or what else it is; ``stream`` is open only for regular files named in
    ``open_names`` (tar archives are read as a stream, so members are read while walking)."""
    if detect_format(path) == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    kind = _zip_kind(info)
                    if kind == "file" and info.filename in open_names:
                        with archive.open(info) as stream:
                            yield info.filename, info.file_size, kind, stream
                    else:
                        yield info.filename, info.file_size, kind, None
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise InputError(f"the zip archive is damaged ({_short(exc)})") from None
        return
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for info in archive:
                kind = _tar_kind(info)
                opened = kind == "file" and info.name in open_names
                yield info.name, info.size, kind, archive.extractfile(info) if opened else None
    except (tarfile.TarError, zlib.error, OSError, EOFError) as exc:
        raise InputError(f"the tar archive is damaged ({_short(exc)})") from None


def _read(stream: IO[bytes], name: str) -> bytes:
    """The next chunk of a member; damaged member data (bad CRC, corrupt deflate stream,
    truncation) is the participant's problem, reported as such."""
    try:
        return stream.read(_CHUNK)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError) as exc:
        raise InputError(f"archive member '{name}' is damaged ({_short(exc)})") from None


def _zip_kind(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x1:
        return "password-protected file"
    file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver recorded none
    if info.is_dir():
        return "dir"
    if file_type == stat.S_IFLNK:
        return "symbolic link"
    if file_type not in (0, stat.S_IFREG):
        return "special file"
    if info.compress_type not in _ZIP_METHODS:
        return f"file compressed with method {info.compress_type} (use deflate)"
    return "file"


def _tar_kind(info: tarfile.TarInfo) -> str:
    if info.isreg():
        return "file"
    if info.isdir():
        return "dir"
    if info.issym():
        return "symbolic link"
    if info.islnk():
        return "hard link"
    if info.ischr() or info.isblk():
        return "device file"
    if info.isfifo():
        return "named pipe"
    return "special file"


def _clean_name(name: str) -> str:
    """The member's name if it stays inside the extraction folder; else InputError."""
    if "\x00" in name or len(name) > 1024:
        raise InputError("an archive member has an invalid name")
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if posix.startswith("/") or (parts and ":" in parts[0]) or ".." in parts:
        raise InputError(f"archive member '{name[:200]}' points outside the archive")
    return "/".join(part for part in parts if part not in ("", "."))


def _is_junk(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        path.parts[:1] == ("__MACOSX",) or path.name in _JUNK_NAMES or path.name.startswith("._")
    )


def human_size(size: float) -> str:
    if size < 1024:
        return f"{size:.0f} bytes"
    unit = "bytes"
    for unit in ("KiB", "MiB", "GiB"):  # noqa: B007  (the unit reached is the one printed)
        size /= 1024
        if size < 1024:
            break
    return f"{size:.1f} {unit}"


def _short(exc: BaseException) -> str:
    # tarfile messages can name the temporary path; keep only the first clause.
    return str(exc).split(":")[0][:120]
