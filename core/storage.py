"""Files from Django storages as local paths (nibabel and the archive readers need paths).

A stored file that cannot be read is the server's fault, never the participant's: it raises
:class:`StoredFileMissing` (deleted: no retry can help) or :class:`StorageUnavailable` (the
storage did not answer: worth retrying), never an error a participant's message is built from.
"""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import Storage, storages

# What a storage raises when it did not answer this time: the filesystem's OSError, and the
# object store client's connection, timeout and server errors (botocore does not raise
# OSError: a store cut off mid-read surfaces as ConnectionClosedError).
UNREACHABLE = (OSError, BotoCoreError, ClientError)


class StorageFault(Exception):
    """A stored file is not what was stored: missing, damaged or unreachable."""


class StoredFileMissing(StorageFault):
    """The stored file is gone (deleted on the server)."""


class StoredFileDamaged(StorageFault):
    """The stored file's content no longer matches the SHA-256 recorded when it was received."""


class StorageUnavailable(StorageFault):
    """The storage did not deliver the file this time (a transient fault)."""


def private_storage() -> Storage:
    """Hidden ground truth and test images: a location no URL serves."""
    return storages["private"]


@contextmanager
def local_path(storage: Storage, name: str, scratch: Path) -> Iterator[Path]:
    """A local path for a stored file: the file itself on a filesystem storage, else a copy in
    ``scratch`` that is removed afterwards. A copy that cannot be made raises StoredFileMissing
    or StorageUnavailable; an error writing ``scratch`` (a full disk) is raised as it is."""
    try:
        direct = Path(storage.path(name))
    except NotImplementedError:
        direct = None
    if direct is not None:  # a missing file is the reader's to report, with what it is
        yield direct
        return
    copy = scratch / Path(name).name
    try:
        src = storage.open(name, "rb")
    except FileNotFoundError:
        raise StoredFileMissing(f"stored file {name} does not exist") from None
    except UNREACHABLE as exc:
        if _not_found(exc):
            raise StoredFileMissing(f"stored file {name} does not exist") from None
        raise StorageUnavailable(f"stored file {name} could not be opened: {exc}") from exc
    with src, open(copy, "wb") as dst:
        while True:
            try:
                chunk = src.read(1024 * 1024)
            except UNREACHABLE as exc:
                raise StorageUnavailable(f"stored file {name} could not be read: {exc}") from exc
            if not chunk:
                break
            dst.write(chunk)
    try:
        yield copy
    finally:
        copy.unlink(missing_ok=True)


def _not_found(exc: BaseException) -> bool:
    """Whether the object store answered that the key does not exist."""
    if not isinstance(exc, ClientError):
        return False
    error = getattr(exc, "response", {}).get("Error", {})
    return str(error.get("Code")) in {"404", "NoSuchKey", "NotFound"}


def file_sha256(path: Path) -> str:
    """The SHA-256 of a local file, read a mebibyte at a time (uploads run to gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
