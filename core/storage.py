"""Files from Django storages as local paths (nibabel and the archive readers need paths)."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.files.storage import Storage, storages


def private_storage() -> Storage:
    """Hidden ground truth and test images: a location no URL serves."""
    return storages["private"]


@contextmanager
def local_path(storage: Storage, name: str, scratch: Path) -> Iterator[Path]:
    """A local path for a stored file: the file itself on a filesystem storage, else a copy in
    ``scratch`` that is removed afterwards."""
    try:
        direct = Path(storage.path(name))
    except NotImplementedError:
        direct = None
    if direct is not None:
        yield direct
        return
    copy = scratch / Path(name).name
    with storage.open(name, "rb") as src, open(copy, "wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
    try:
        yield copy
    finally:
        copy.unlink(missing_ok=True)
