"""Inspect an uploaded algorithm image (a ``docker save`` archive) without running or loading it.

The archive is hostile until proven otherwise: it is read once as a stream (plain tar or gzip),
with caps on its total size, its number of entries and the size of every JSON document read
into memory; entry names must be relative and unique; nothing is extracted. In the same pass
every file is hashed, so that the image is verified as content-addressed from end to end: the
config hashes to its name (the image id), every ``blobs/sha256/<hex>`` to ``<hex>``, and every
layer, uncompressed, to its digest in the config's ``rootfs.diff_ids``. An image id then
stands for exactly one set of layers, whoever uploads it. From the config it checks the
platform (linux/amd64) and the user (a numeric ``UID[:GID]``, neither of them root).

Both layouts ``docker save`` writes are read: the classic one (``<hex>.json``,
``<id>/layer.tar``) and the OCI one of Docker 25+ (``blobs/sha256/<hex>``, layers plain or
gzip-compressed). Every problem raises :class:`scorers.errors.InvalidInput` with a message for
the participant.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import re
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidInput
from evaluation.runners.base import parse_decimal

GIB = 1024**3
MAX_ARCHIVE_BYTES = 20 * GIB
MAX_ENTRIES = 10_000
MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_TOTAL_BYTES = 16 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
# Layer compressions the engines read but this module does not: their content cannot be
# checked against the config's digests, so such layers are refused by name.
OTHER_COMPRESSIONS = {b"\x28\xb5\x2f\xfd": "zstd", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}
BLOB_PATTERN = re.compile(r"blobs/sha256/([0-9a-f]{64})")
# runc refuses larger ids ("uids and gids must be in range 0-2147483647"), and Docker Engine
# and podman run containers through it; uid_t itself would allow 4294967294.
MAX_ID = 2**31 - 1
USER_FIX = (
    "Add a numeric non-root user to your Dockerfile, e.g. `USER 1000` (or `USER 1000:1000`), "
    "and save the image again."
)


@dataclass(frozen=True)
class AlgorithmImage:
    """What the platform keeps about an inspected image.

    ``image_id`` is ``sha256:<hex>`` of the config (the content address, verified to cover
    every layer); ``user`` is the ``UID:GID`` it runs as (see :func:`check_user`);
    ``size_bytes`` is the uncompressed size of its layers; ``archive_sha256`` is the hex
    sha256 of the uploaded file itself, byte for byte as read.
    """

    image_id: str
    user: str
    architecture: str
    os: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    size_bytes: int
    layers: int
    archive_sha256: str


def _quoted(text: str) -> str:
    """``text`` for a message: quoted, escaped, and cut short (it comes from the image)."""
    return repr(text[:40]) + ("…" if len(text) > 40 else "")


def _zeros(text: str) -> bool:
    return text != "" and text.strip("0") == ""


def check_user(user: str) -> str:
    """The ``UID:GID`` an image whose config says ``User: user`` runs as; InvalidInput if it
    is not numeric or would run as root.

    Accepted: ``UID`` or ``UID:GID``, each a plain decimal number (digits 0-9 only: no sign,
    spaces or leading zeros) from 1 to 2147483647, the largest id runc accepts. ``UID`` alone
    runs as ``UID:UID``: left to the engine, the group (and supplementary groups) would come
    from the image's /etc/passwd and /etc/group, which can say 0, and without any entry the
    group is 0. Refused: no user (root), ``root``, uid 0, ``:GID`` (runc runs it as uid 0),
    group 0 or ``root``, names (what they map to depends on the image's /etc/passwd;
    Kubernetes' ``runAsNonRoot`` refuses them too), and anything else.
    """
    uid_text, separator, gid_text = user.partition(":")
    if uid_text in ("", "root") or _zeros(uid_text):
        shown = _quoted(user) if user else "not set"
        raise InvalidInput(f"the image runs as root (USER {shown}). {USER_FIX}")
    if gid_text == "root" or _zeros(gid_text):
        raise InvalidInput(f"the image's group is root (USER {_quoted(user)}). {USER_FIX}")
    uid = parse_decimal(uid_text)
    gid = parse_decimal(gid_text) if separator else uid
    if uid is None or gid is None:
        raise InvalidInput(
            f"the image's user {_quoted(user)} is not a numeric UID or UID:GID (digits 0-9, "
            f"without sign, spaces or leading zeros), so it cannot be checked to be non-root. "
            f"{USER_FIX}"
        )
    if uid > MAX_ID or gid > MAX_ID:
        raise InvalidInput(
            f"the image's user {_quoted(user)} is out of range: user and group ids go up to "
            f"{MAX_ID}. {USER_FIX}"
        )
    return f"{uid}:{gid}"


def _safe_name(name: str) -> str:
    """The member name, normalised; InvalidInput if it is absolute or climbs out."""
    normal = posixpath.normpath(name)
    if name.startswith("/") or normal == ".." or normal.startswith("../") or "\x00" in name:
        raise InvalidInput(f"the archive has an unsafe entry name {name!r}")
    return normal


@dataclass(frozen=True)
class _Digests:
    """One file of the archive: sha256 of its bytes, and of its content uncompressed (the
    same unless gzip; None if that could not be read), the content's size, and a compression
    this module does not read."""

    stored: str
    content: str | None
    content_size: int
    other_compression: str | None = None


class _Contents:
    """One pass over the archive: entry names, sizes, link targets, the digests of every
    file and the small documents."""

    def __init__(self, *, max_bytes: int):
        self.max_bytes = max_bytes
        self.sizes: dict[str, int] = {}
        self.links: dict[str, str] = {}
        self.folders: set[str] = set()
        self.documents: dict[str, bytes] = {}
        self.digests: dict[str, _Digests] = {}
        self.total = 0

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = _safe_name(member.name)
        if name in self.sizes:
            raise InvalidInput(f"the archive has the entry {name!r} twice")
        if len(self.sizes) >= MAX_ENTRIES:
            raise InvalidInput(f"the archive has more than {MAX_ENTRIES} entries")
        if member.issym():
            target = posixpath.join(posixpath.dirname(name), member.linkname)
            self.links[name] = _safe_name(target)
        elif member.isdir():
            self.folders.add(name)
        elif not member.isfile():
            raise InvalidInput(f"the archive entry {name!r} is not a file or a folder")
        self.sizes[name] = member.size if member.isfile() else 0
        self._count(self.sizes[name])
        if member.isfile():
            self._read(name, tar.extractfile(member) or io.BytesIO(), member.size)

    def _count(self, size: int) -> None:
        self.total += size
        if self.total > self.max_bytes:
            raise InvalidInput(f"the image is larger than the limit of {self.max_bytes} bytes")

    def _read(self, name: str, source: io.BufferedIOBase, size: int) -> None:
        """Hash the file as it streams by (inflating gzip content); keep it if it is small
        enough to be a JSON document; check a content-addressed blob's name."""
        keep = size <= MAX_JSON_BYTES and (
            sum(len(d) for d in self.documents.values()) + size <= MAX_JSON_TOTAL_BYTES
        )
        kept: list[bytes] = []
        stored = hashlib.sha256()
        head = source.read(CHUNK_BYTES)
        inflater = _Inflater(self._count) if head.startswith(GZIP_MAGIC) else None
        chunk = head
        while chunk:
            stored.update(chunk)
            if inflater is not None:
                inflater.feed(chunk)
            if keep:
                kept.append(chunk)
            chunk = source.read(CHUNK_BYTES)
        if keep:
            self.documents[name] = b"".join(kept)
        other = next((n for magic, n in OTHER_COMPRESSIONS.items() if head.startswith(magic)), None)
        if inflater is None:
            digests = _Digests(stored.hexdigest(), stored.hexdigest(), size, other)
        else:
            digests = _Digests(stored.hexdigest(), inflater.digest(), inflater.size)
        self.digests[name] = digests
        blob = BLOB_PATTERN.fullmatch(name)
        if blob and blob.group(1) != digests.stored:
            raise InvalidInput(f"the archive entry {name[:26]}… does not match its digest")

    def resolve(self, name: str) -> str:
        """Follow links inside the archive (``docker save`` links duplicate layers)."""
        name = _safe_name(name)
        for _ in range(8):
            if name not in self.links:
                break
            name = self.links[name]
        if name not in self.sizes or name in self.links or name in self.folders:
            raise InvalidInput(f"the archive's manifest names {name!r}, which is not a file in it")
        return name

    def document(self, name: str, what: str) -> bytes:
        name = self.resolve(name)
        if name not in self.documents:
            raise InvalidInput(f"the image's {what} ({name!r}) is larger than "
                               f"{MAX_JSON_BYTES} bytes")
        return self.documents[name]


class _Inflater:
    """sha256 and size of a gzip stream's content, inflated a bounded piece at a time.

    Anything but exactly one complete gzip stream (corrupt data, a truncated stream, bytes
    after its end) leaves no digest: such a layer cannot be matched to its digest, and the
    engines would read it differently from this module.
    """

    def __init__(self, count):
        self._count = count
        self._inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self._sha = hashlib.sha256()
        self.size = 0
        self.failed = False

    def feed(self, data: bytes) -> None:
        if self.failed:
            return
        if self._inflater.eof:
            self.failed = True
            return
        try:
            while data:
                out = self._inflater.decompress(data, CHUNK_BYTES)
                self._sha.update(out)
                self.size += len(out)
                self._count(len(out))
                data = self._inflater.unconsumed_tail
            if self._inflater.unused_data:
                self.failed = True
        except zlib.error:
            self.failed = True

    def digest(self) -> str | None:
        if self.failed or not self._inflater.eof:
            return None
        return self._sha.hexdigest()


class _HashingReader(io.RawIOBase):
    """A file read through this object is hashed, byte for byte, as it is read."""

    def __init__(self, raw: io.RawIOBase):
        self._raw = raw
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)
        self.sha.update(memoryview(buffer)[:n])
        return n


def _read_archive(path: Path, *, max_bytes: int) -> tuple[_Contents, str]:
    """The archive's contents and the sha256 of the whole file, in one pass over it."""
    contents = _Contents(max_bytes=max_bytes)
    with open(path, "rb") as magic:
        compressed = magic.read(2) == GZIP_MAGIC
    with open(path, "rb", buffering=0) as raw:
        hashing = _HashingReader(raw)
        buffered = io.BufferedReader(hashing, CHUNK_BYTES)
        # GzipFile reads concatenated gzip members as one stream, as the engines do.
        stream = gzip.GzipFile(fileobj=buffered, mode="rb") if compressed else buffered
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    contents.add(tar, member)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            raise InvalidInput(
                "the file is not a readable `docker save` archive (.tar or .tar.gz)"
            ) from error
        while buffered.read(CHUNK_BYTES):  # what follows the end of the tar counts too
            pass
    return contents, hashing.sha.hexdigest()


def _parse_json(data: bytes, what: str) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        raise InvalidInput(f"the image's {what} is not valid JSON") from error


def _manifest_entry(contents: _Contents) -> dict:
    if "manifest.json" not in contents.sizes:
        raise InvalidInput("the archive has no manifest.json: save the image with `docker save`")
    manifest = _parse_json(contents.document("manifest.json", "manifest"), "manifest.json")
    if not isinstance(manifest, list) or len(manifest) != 1 or not isinstance(manifest[0], dict):
        raise InvalidInput("the archive must hold exactly one image (docker save ONE_IMAGE)")
    entry = manifest[0]
    layers = entry.get("Layers")
    if not isinstance(entry.get("Config"), str) or not isinstance(layers, list) or not layers:
        raise InvalidInput("the archive's manifest.json lacks the image config or its layers")
    if not all(isinstance(layer, str) for layer in layers):
        raise InvalidInput("the archive's manifest.json lists a layer that is not a file name")
    return entry


def _strings(value: object, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"the image config's {field} must be a list of strings")
    return tuple(value)


def _check_layers(contents: _Contents, layers: list[str], config: dict) -> int:
    """Every layer, uncompressed, must hash to its digest in the config's
    ``rootfs.diff_ids``, in the manifest's order (what Docker Engine checks on load, and
    what makes the config's hash the address of the whole image). Returns their size."""
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise InvalidInput("the image config lacks the digests of its layers (rootfs.diff_ids)")
    if len(diff_ids) != len(layers):
        raise InvalidInput(
            f"the image's manifest lists {len(layers)} layers but its config has digests "
            f"for {len(diff_ids)}"
        )
    for number, (layer, expected) in enumerate(zip(layers, diff_ids, strict=True), start=1):
        digests = contents.digests[layer]
        if digests.other_compression:
            raise InvalidInput(
                f"layer {number} of the image is {digests.other_compression}-compressed, "
                "which the platform does not read; save the image with `docker save` "
                "(uncompressed or gzip layers)"
            )
        if digests.content is None or f"sha256:{digests.content}" != expected:
            raise InvalidInput(
                f"layer {number} of the image does not match its digest in the manifest"
            )
    return sum(contents.digests[layer].content_size for layer in layers)


def inspect_archive(path: Path, *, max_bytes: int = MAX_ARCHIVE_BYTES) -> AlgorithmImage:
    """Inspect the ``docker save`` archive at ``path`` (``.tar`` or ``.tar.gz``).

    ``max_bytes`` caps the file, its uncompressed content and the content of its gzip
    layers. Checks: one image; the config, every blob and every layer match their digests;
    platform linux/amd64; a numeric user and group, neither root. Raises InvalidInput with a
    participant-facing message otherwise.
    """
    if path.stat().st_size > max_bytes:
        raise InvalidInput(f"the image archive is larger than the limit of {max_bytes} bytes")
    contents, archive_sha256 = _read_archive(path, max_bytes=max_bytes)
    entry = _manifest_entry(contents)
    config_bytes = contents.document(entry["Config"], "config")
    digest = hashlib.sha256(config_bytes).hexdigest()
    config_name = posixpath.basename(contents.resolve(entry["Config"])).removesuffix(".json")
    if config_name != digest:
        raise InvalidInput("the image config does not match its content address (sha256)")
    config = _parse_json(config_bytes, "config")
    if not isinstance(config, dict):
        raise InvalidInput("the image config is not a JSON object")
    platform = f"{config.get('os')}/{config.get('architecture')}"
    if platform != "linux/amd64":
        raise InvalidInput(
            f"the image is built for {platform}; build it for linux/amd64 "
            "(docker build --platform linux/amd64)"
        )
    runtime = config.get("config") or {}
    if not isinstance(runtime, dict) or not isinstance(runtime.get("User", ""), str):
        raise InvalidInput("the image config's `config` section is malformed")
    user = check_user(runtime.get("User") or "")
    layers = [contents.resolve(layer) for layer in entry["Layers"]]
    size = _check_layers(contents, layers, config)
    return AlgorithmImage(
        image_id=f"sha256:{digest}",
        user=user,
        architecture=config["architecture"],
        os=config["os"],
        entrypoint=_strings(runtime.get("Entrypoint"), "Entrypoint"),
        cmd=_strings(runtime.get("Cmd"), "Cmd"),
        size_bytes=size,
        layers=len(layers),
        archive_sha256=archive_sha256,
    )
