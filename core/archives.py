"""Safe reading of uploaded zip and tar(.gz) archives.

An uploaded archive is hostile until validated: member names may try to escape the extraction
folder or carry bytes that are not UTF-8 or control characters, members may be links or device
files, and sizes may be crafted to exhaust the disk or the CPU (zip/gzip bombs). This module
lists members without extracting, rejects anything that is not a plain file with a printable
UTF-8 name, and extracts chosen members into a flat folder while counting the bytes actually
written against the caps.

Listing costs what the caps allow, never what a member declares: each entry is checked (count,
declared size, running total, compression ratio so far, the caller's ``check_member``) as soon
as its header is read, before a tar stream is read past it — tarfile's stream mode inflates a
member's data to skip it.
"""

import os
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from core.errors import InvalidInput

# Files that archivers add on their own; ignored rather than reported as extra cases.
_JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
_CHUNK = 1024 * 1024
_NOT_UTF8 = "archive member name is not valid UTF-8"
# What zipfile and tarfile raise on damaged input besides their own errors: they promise no
# better (fuzzing found a TypeError for a gzip header cut after three bytes); ValueError,
# IndexError and struct.error are what their parsing of header fields can raise.
_DAMAGED = (zipfile.BadZipFile, tarfile.TarError, zlib.error, OSError, EOFError, ValueError,
            TypeError, IndexError, struct.error)
# iter_read writes members larger than this to a file instead of holding them in memory.
SPILL_ABOVE_BYTES = 64 * 1024 * 1024
# The end-of-central-directory record is in the last 22 bytes plus a comment of up to 64 KiB.
_EOCD_SEARCH = 22 + 0xFFFF + 20
# A directory entry is 46 bytes plus its name and extra fields; 512 bytes leave room for long
# folder names while bounding the directory a member cap allows.
_DIRECTORY_BYTES_PER_MEMBER = 512
# Tar extended headers (see _BoundedTarInfo): a name of up to 1,024 characters with the usual
# pax records fits one; 128 KiB in all leaves room for hundreds of per-file attribute records.
# Worst case at these caps: 64 headers of 2 KiB, ≈ 0.3 s of parsing on Python 3.11.7.
MAX_EXTENDED_HEADER_BYTES = 2 * 1024
MAX_EXTENDED_HEADERS_BYTES = 128 * 1024
_EXTENDED_HEADER_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                          tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)


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
    raise InvalidInput("the upload is not a zip or tar(.gz) archive")


def list_members(
    path: Path, limits: ArchiveLimits, *, flat: bool = True,
    check_member: Callable[[Member], None] | None = None,
) -> list[Member]:
    """Every regular file in the archive, validated; directories and archiver junk skipped.

    With ``flat`` (the default, for prediction archives) base names must be unique, since a
    file's base name identifies its case; otherwise full paths must be. ``check_member`` is
    called with each regular file as soon as its header is read, and raises InvalidInput to
    refuse it (a per-file size cap, say) before the archive is read any further. Archiver
    junk counts toward the total size and the compression ratio like any member.
    """
    archive_size = max(path.stat().st_size, 1)
    members: list[Member] = []
    total = 0
    if detect_format(path) == "zip":
        _check_zip_directory(path, limits)
    for count, (entry_path, size, kind, _) in enumerate(_walk(path), start=1):
        if count > limits.max_members:
            raise InvalidInput(f"the archive has more than {limits.max_members} members")
        clean = _clean_name(entry_path)
        junk = _is_junk(clean)
        if kind == "dir" or (junk and kind != "file"):
            continue
        if kind != "file":
            raise InvalidInput(
                f"archive member '{clean}' is a {kind}; only regular files are accepted"
            )
        if not clean:
            raise InvalidInput("an archive member has an empty name")
        member = Member(path=entry_path, name=PurePosixPath(clean).name, size=size)
        if check_member is not None and not junk:
            check_member(member)
        total += size
        if total > limits.max_total_bytes:
            raise InvalidInput(
                f"the archive unpacks to more than {human_size(limits.max_total_bytes)}"
            )
        if total / archive_size > limits.max_ratio:
            raise InvalidInput("the archive's compression ratio is implausibly high (a zip bomb?)")
        if not junk:
            members.append(member)
    seen: dict[str, str] = {}
    for member in members:
        clean = _clean_name(member.path)
        key = member.name if flat else clean
        if key in seen:
            raise InvalidInput(
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
    its declared size, or past the archive's total cap, raises InvalidInput."""
    wanted = {member.path: member for member in members}
    total = 0

    def chunks(member: Member, stream: IO[bytes]) -> Iterator[bytes]:
        nonlocal total
        count = 0
        while chunk := _read(stream, member.name):
            count += len(chunk)
            total += len(chunk)
            if count > member.size or total > limits.max_total_bytes:
                raise InvalidInput(f"archive member '{member.name}' is larger than it declares")
            if head_bytes is not None and count >= head_bytes:
                yield chunk[: len(chunk) - (count - head_bytes)]
                return
            yield chunk

    for entry_path, _, _, stream in _walk(path, frozenset(wanted)):
        if stream is not None:
            member = wanted[entry_path]
            yield member, chunks(member, stream)


def _check_zip_directory(path: Path, limits: ArchiveLimits) -> None:
    """Refuse a zip whose central directory announces more entries, or more bytes, than
    ``limits.max_members`` can need, from its end record alone: the zip reader builds an
    object for every entry before the first one can be counted."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        start = max(0, size - _EOCD_SEARCH)
        fh.seek(start)
        tail = fh.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return  # not found: the zip reader reports the damage
        entries, directory_bytes = struct.unpack_from("<HI", tail, at + 10)
        locator = tail.rfind(b"PK\x06\x07", 0, at)
        if locator >= 0 and at - locator == 20:  # zip64: the counts live in another record
            (record,) = struct.unpack_from("<Q", tail, locator + 8)
            fh.seek(record)
            head = fh.read(56)
            if len(head) == 56 and head[:4] == b"PK\x06\x06":
                entries, directory_bytes = struct.unpack_from("<QQ", head, 32)
    if entries > limits.max_members or (
            directory_bytes > limits.max_members * _DIRECTORY_BYTES_PER_MEMBER):
        raise InvalidInput(f"the archive has more than {limits.max_members} members")


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
        except UnicodeDecodeError:  # a name flagged as UTF-8 that is not
            raise InvalidInput(_NOT_UTF8) from None
        except NotImplementedError as exc:  # a "version needed to extract" above 6.3, say
            raise InvalidInput(f"the zip archive uses a feature that is not supported "
                             f"({_short(exc)})") from None
        except _DAMAGED as exc:
            raise InvalidInput(f"the zip archive is damaged ({_short(exc)})") from None
        return
    try:
        # Names that are not UTF-8 keep their bytes as surrogates, which _clean_name refuses.
        with tarfile.open(path, mode="r|*", encoding="utf-8", errors="surrogateescape",
                          tarinfo=_BoundedTarInfo) as archive:
            for info in archive:
                kind = _tar_kind(info)
                opened = kind == "file" and info.name in open_names
                yield info.name, info.size, kind, archive.extractfile(info) if opened else None
    except InvalidInput:
        raise  # our own refusal (a ValueError too), from _BoundedTarInfo or a caller
    except _DAMAGED as exc:
        raise InvalidInput(f"the tar archive is damaged ({_short(exc)})") from None


class _BoundedTarInfo(tarfile.TarInfo):
    """A tar header whose extended headers are capped before tarfile reads them.

    tarfile reads an extended header (a GNU long name or link, a pax record set) whole, and
    parses it, before the member it describes is handed on: without a cap, a 500 KB upload
    declaring a 512 MiB long name cost a worker 1.5 GB, and a pax header of digits costs time
    quadratic in its length in Python before 3.11.10 (CVE-2024-6232; 120,000 digits took 25 s).
    Each extended header may hold ``MAX_EXTENDED_HEADER_BYTES``, an archive
    ``MAX_EXTENDED_HEADERS_BYTES`` in all, which bounds that parsing to a fraction of a second.
    Sparse files, whose maps tarfile also reads ahead, are refused like any file that is not
    regular.
    """

    def _proc_member(self, archive):
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise InvalidInput(f"archive member '{_shown(self.name)}' is a sparse file; only "
                             "regular files are accepted")
        if self.type in _EXTENDED_HEADER_TYPES:
            total = getattr(archive, "_podium_extended_bytes", 0) + self.size
            if self.size > MAX_EXTENDED_HEADER_BYTES or total > MAX_EXTENDED_HEADERS_BYTES:
                raise InvalidInput(
                    f"the tar archive has an extended header of {human_size(self.size)}; "
                    f"at most {human_size(MAX_EXTENDED_HEADER_BYTES)} each and "
                    f"{human_size(MAX_EXTENDED_HEADERS_BYTES)} in all are accepted (long names "
                    "or extended attributes: pack the files with short names, or as a zip)"
                )
            archive._podium_extended_bytes = total
        return super()._proc_member(archive)


def _read(stream: IO[bytes], name: str) -> bytes:
    """The next chunk of a member; damaged member data (bad CRC, corrupt deflate stream,
    truncation) is the participant's problem, reported as such."""
    try:
        return stream.read(_CHUNK)
    except NotImplementedError as exc:
        raise InvalidInput(f"archive member '{name}' uses a feature that is not supported "
                         f"({_short(exc)})") from None
    except _DAMAGED as exc:
        raise InvalidInput(f"archive member '{name}' is damaged ({_short(exc)})") from None


def _zip_kind(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x1:
        return "password-protected file"
    file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver recorded none
    if info.filename.endswith("/"):  # ZipInfo.is_dir() fails on an empty name
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
    """The member's name if it is printable UTF-8 and stays inside the extraction folder; else
    InvalidInput. Names reach messages, pages and JSON: they must encode and show as they are."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(_NOT_UTF8) from None
    if len(name) > 1024:
        raise InvalidInput("an archive member name is longer than 1024 characters")
    if not name.isprintable():
        raise InvalidInput(f"archive member '{_shown(name)}' has control or invisible characters "
                         "in its name")
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if posix.startswith("/") or (parts and ":" in parts[0]) or ".." in parts:
        raise InvalidInput(f"archive member '{name[:200]}' points outside the archive")
    return "/".join(part for part in parts if part not in ("", "."))


def _shown(name: str) -> str:
    """``name`` fit for a message: non-printable characters as "?", at most 200 of them."""
    return "".join(c if c.isprintable() else "?" for c in name[:200])


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
