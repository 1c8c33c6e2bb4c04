"""Inspect an uploaded algorithm image (a ``docker save`` archive) without running or loading it.

The archive is hostile until proven otherwise: it is read once as a stream (plain tar or gzip),
with caps on its total size, its number of entries and the size of every JSON document read
into memory; entry names must be relative and unique; nothing is extracted. From
``manifest.json`` and the image config it checks the platform (linux/amd64) and the user (a
numeric, non-root ``UID[:GID]``), and returns the image's content address: the sha256 of its
config, which is the image id Docker Engine and podman report once it is loaded.

Both layouts ``docker save`` writes are read: the classic one (``<hex>.json``,
``<id>/layer.tar``) and the OCI one of Docker 25+ (``blobs/sha256/<hex>``). Every problem
raises :class:`scorers.errors.InputError` with a message for the participant.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import posixpath
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from scorers.errors import InputError

GIB = 1024**3
MAX_ARCHIVE_BYTES = 20 * GIB
MAX_ENTRIES = 10_000
MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_TOTAL_BYTES = 16 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
USER_FIX = (
    "Add a numeric non-root user to your Dockerfile, e.g. `USER 1000` (or `USER 1000:1000`), "
    "and save the image again."
)


@dataclass(frozen=True)
class AlgorithmImage:
    """What the platform keeps about an inspected image.

    ``image_id`` is ``sha256:<hex>`` of the config (the content address); ``size_bytes`` is the
    uncompressed size of its layers.
    """

    image_id: str
    user: str
    architecture: str
    os: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    size_bytes: int
    layers: int


def check_user(user: str) -> str:
    """Return ``user`` if it is a numeric, non-root ``UID[:GID]``; else raise InputError.

    ``""`` (the default), ``root``, ``0`` and ``0:<anything>`` run as root. A user *name* is
    refused too: what it maps to depends on the image's /etc/passwd, which could say uid 0
    (Kubernetes' ``runAsNonRoot`` refuses names for the same reason).
    """
    uid, separator, gid = user.strip().partition(":")
    if uid in ("", "root") or (uid.isdigit() and int(uid) == 0):
        raise InputError(f"the image runs as root (USER {user.strip() or 'not set'}). {USER_FIX}")
    if not uid.isdigit() or (separator and not gid.isdigit()):
        raise InputError(
            f"the image's user {user!r} is not numeric, so it cannot be checked to be non-root. "
            f"{USER_FIX}"
        )
    return user.strip()


def _safe_name(name: str) -> str:
    """The member name, normalised; InputError if it is absolute or climbs out."""
    normal = posixpath.normpath(name)
    if name.startswith("/") or normal == ".." or normal.startswith("../") or "\x00" in name:
        raise InputError(f"the archive has an unsafe entry name {name!r}")
    return normal


class _Contents:
    """One pass over the archive: entry names, sizes, link targets and the small documents."""

    def __init__(self, *, max_bytes: int):
        self.max_bytes = max_bytes
        self.sizes: dict[str, int] = {}
        self.links: dict[str, str] = {}
        self.folders: set[str] = set()
        self.documents: dict[str, bytes] = {}
        self.total = 0

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = _safe_name(member.name)
        if name in self.sizes:
            raise InputError(f"the archive has the entry {name!r} twice")
        if len(self.sizes) >= MAX_ENTRIES:
            raise InputError(f"the archive has more than {MAX_ENTRIES} entries")
        if member.issym():
            target = posixpath.join(posixpath.dirname(name), member.linkname)
            self.links[name] = _safe_name(target)
        elif member.isdir():
            self.folders.add(name)
        elif not member.isfile():
            raise InputError(f"the archive entry {name!r} is not a file or a folder")
        self.sizes[name] = member.size if member.isfile() else 0
        self.total += self.sizes[name]
        if self.total > self.max_bytes:
            raise InputError(f"the image is larger than the limit of {self.max_bytes} bytes")
        if member.isfile() and member.size <= MAX_JSON_BYTES:
            read = sum(len(d) for d in self.documents.values())
            if read + member.size <= MAX_JSON_TOTAL_BYTES:
                source = tar.extractfile(member)
                if source is not None:
                    self.documents[name] = source.read()

    def resolve(self, name: str) -> str:
        """Follow links inside the archive (``docker save`` links duplicate layers)."""
        name = _safe_name(name)
        for _ in range(8):
            if name not in self.links:
                break
            name = self.links[name]
        if name not in self.sizes or name in self.links or name in self.folders:
            raise InputError(f"the archive's manifest names {name!r}, which is not a file in it")
        return name

    def document(self, name: str, what: str) -> bytes:
        name = self.resolve(name)
        if name not in self.documents:
            raise InputError(f"the image's {what} ({name!r}) is larger than {MAX_JSON_BYTES} bytes")
        return self.documents[name]


def _read_archive(path: Path, *, max_bytes: int) -> _Contents:
    contents = _Contents(max_bytes=max_bytes)
    with open(path, "rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    contents.add(tar, member)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            raise InputError(
                "the file is not a readable `docker save` archive (.tar or .tar.gz)"
            ) from error
    return contents


def _parse_json(data: bytes, what: str) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        raise InputError(f"the image's {what} is not valid JSON") from error


def _manifest_entry(contents: _Contents) -> dict:
    if "manifest.json" not in contents.sizes:
        raise InputError("the archive has no manifest.json: save the image with `docker save`")
    manifest = _parse_json(contents.document("manifest.json", "manifest"), "manifest.json")
    if not isinstance(manifest, list) or len(manifest) != 1 or not isinstance(manifest[0], dict):
        raise InputError("the archive must hold exactly one image (docker save ONE_IMAGE)")
    entry = manifest[0]
    layers = entry.get("Layers")
    if not isinstance(entry.get("Config"), str) or not isinstance(layers, list) or not layers:
        raise InputError("the archive's manifest.json lacks the image config or its layers")
    if not all(isinstance(layer, str) for layer in layers):
        raise InputError("the archive's manifest.json lists a layer that is not a file name")
    return entry


def _strings(value: object, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"the image config's {field} must be a list of strings")
    return tuple(value)


def inspect_archive(path: Path, *, max_bytes: int = MAX_ARCHIVE_BYTES) -> AlgorithmImage:
    """Inspect the ``docker save`` archive at ``path`` (``.tar`` or ``.tar.gz``).

    ``max_bytes`` caps both the file and its uncompressed content. Checks: one image; the
    config's sha256 matches its content-addressed name; platform linux/amd64; a numeric
    non-root user. Raises InputError with a participant-facing message otherwise.
    """
    if path.stat().st_size > max_bytes:
        raise InputError(f"the image archive is larger than the limit of {max_bytes} bytes")
    contents = _read_archive(path, max_bytes=max_bytes)
    entry = _manifest_entry(contents)
    config_bytes = contents.document(entry["Config"], "config")
    digest = hashlib.sha256(config_bytes).hexdigest()
    config_name = posixpath.basename(contents.resolve(entry["Config"])).removesuffix(".json")
    if config_name != digest:
        raise InputError("the image config does not match its content address (sha256)")
    config = _parse_json(config_bytes, "config")
    if not isinstance(config, dict):
        raise InputError("the image config is not a JSON object")
    platform = f"{config.get('os')}/{config.get('architecture')}"
    if platform != "linux/amd64":
        raise InputError(
            f"the image is built for {platform}; build it for linux/amd64 "
            "(docker build --platform linux/amd64)"
        )
    runtime = config.get("config") or {}
    if not isinstance(runtime, dict) or not isinstance(runtime.get("User", ""), str):
        raise InputError("the image config's `config` section is malformed")
    layers = [contents.resolve(layer) for layer in entry["Layers"]]
    return AlgorithmImage(
        image_id=f"sha256:{digest}",
        user=check_user(runtime.get("User") or ""),
        architecture=config["architecture"],
        os=config["os"],
        entrypoint=_strings(runtime.get("Entrypoint"), "Entrypoint"),
        cmd=_strings(runtime.get("Cmd"), "Cmd"),
        size_bytes=sum(contents.sizes[layer] for layer in layers),
        layers=len(layers),
    )
