"""Moving files: submissions uploaded in chunks that resume at the server's offset, and test
images downloaded so that a second run fetches only what is missing (docs/api.md, "Uploading
in chunks")."""

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import requests

from .config import UploadRecords
from .errors import ApiError, PodiumError

if TYPE_CHECKING:
    from .client import Client

BLOCK = 1024 * 1024
# Consecutive failed requests of one transfer (dropped connection, server error, a request of
# the same upload still in progress) before it gives up; the wait doubles after each.
ATTEMPTS = 6
FIRST_WAIT_S = 0.5
# Answers after which a chunk is worth sending again from the server's offset.
_RETRIED = {409, 429, 500, 502, 503, 504}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


class _ChunkBody:
    """``length`` bytes of an open file from ``start``, read by the HTTP library in blocks,
    reporting each block: the progress bar moves while a large chunk is on its way."""

    def __init__(self, handle, start: int, length: int, on_read: Callable[[int], None]):
        handle.seek(start)
        self.handle, self.left, self.position, self.on_read = handle, length, start, on_read
        self.length = length

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.handle.read(size)
        self.left -= len(data)
        self.position += len(data)
        self.on_read(self.position)
        return data


def _offset(client: "Client", upload_id: str) -> int:
    response = client.request("HEAD", f"/api/v1/uploads/{upload_id}/")
    return int(response.headers["Upload-Offset"])


def _pause(failures: int) -> None:
    time.sleep(FIRST_WAIT_S * 2 ** (failures - 1))


def upload(client: "Client", phase_id: str, file: Path, *, description: str,
           progress: Callable[[int, int], None] | None, records: UploadRecords,
           on_resume: Callable[[int, int], None] | None) -> dict:
    """Open (or find again) an upload session for ``file``, send it chunk by chunk from the
    server's offset, and complete it; the new submission ``{"id", "state"}``."""
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise PodiumError(f"cannot read {file}: {exc.strerror}") from None
    if not file.is_file():
        raise PodiumError(f"{file} is not a file")
    report = progress or (lambda _done, _total: None)
    key = records.key(client.url, phase_id, file)
    session = _resumable(client, records.get(key))
    if session is None:
        session = client.post(f"/api/v1/phases/{phase_id}/uploads/", {
            "file_name": file.name, "size": size, "sha256": sha256_of(file),
            "description": description})
        records.put(key, session["id"])
    elif on_resume:
        on_resume(session["offset"], size)
    upload_id, offset, chunk_bytes = session["id"], session["offset"], session["chunk_bytes"]
    report(offset, size)
    with open(file, "rb") as handle:
        _send_chunks(client, upload_id, handle, offset=offset, size=size,
                     chunk_bytes=chunk_bytes, report=report,
                     gone=lambda: records.forget(key))
    try:
        submitted = client.post(f"/api/v1/uploads/{upload_id}/complete/")
    except ApiError as exc:
        if exc.status in (400, 404, 413):  # the server deleted the upload with its refusal
            records.forget(key)
        raise
    records.forget(key)
    return submitted


def _send_chunks(client: "Client", upload_id: str, handle, *, offset: int, size: int,
                 chunk_bytes: int, report: Callable[[int, int], None],
                 gone: Callable[[], None]) -> None:
    """Send the file from ``offset`` to its end. After a dropped connection or an answer
    worth retrying, wait, ask the server for its offset and go on from there; give up after
    :data:`ATTEMPTS` failures in a row. ``gone`` is told when the server no longer has the
    upload (404)."""
    failures, ask = 0, False
    while True:
        try:
            if ask:
                offset, ask = _offset(client, upload_id), False
                report(offset, size)
            if offset >= size:
                return
            length = min(chunk_bytes, size - offset)
            body = _ChunkBody(handle, offset, length, lambda done: report(done, size))
            response = client.request(
                "PUT", f"/api/v1/uploads/{upload_id}/", data=body,
                headers={"Upload-Offset": str(offset),
                         "Content-Type": "application/octet-stream"})
            offset, failures = int(response.headers["Upload-Offset"]), 0
            report(offset, size)
        except ApiError as exc:
            if exc.status == 404:
                gone()
            if exc.status not in _RETRIED or failures + 1 >= ATTEMPTS:
                raise
            failures, ask = failures + 1, True
            _pause(failures)
        except PodiumError:  # the connection dropped
            failures, ask = failures + 1, True
            if failures >= ATTEMPTS:
                raise
            _pause(failures)


def _resumable(client: "Client", upload_id: str | None) -> dict | None:
    """The remembered upload as the server has it now, or None when there is none or it is
    gone (expired, completed, deleted)."""
    if upload_id is None:
        return None
    try:
        session = client.get(f"/api/v1/uploads/{upload_id}/")
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    return None if session.get("submission") else session


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size: int
    action: str  # "skipped" (complete already), "resumed" (from a byte), "downloaded"


def download_all(client: "Client", images: list[dict], folder: Path, *,
                 progress: Callable[[int, int], None] | None) -> list[Downloaded]:
    """Every image of the list into ``folder``; ``progress`` gets the bytes present out of
    the total, starting from the files that are complete already."""
    names = [PurePosixPath(image["file_name"]).name for image in images]
    if any(name in ("", ".", "..") or name != image["file_name"]
           for name, image in zip(names, images, strict=True)):
        raise PodiumError("the server listed a test image without a plain file name")
    folder.mkdir(parents=True, exist_ok=True)
    complete = {image["file_name"] for image in images
                if (folder / image["file_name"]).is_file()
                and (folder / image["file_name"]).stat().st_size == image["size"]}
    total = sum(image["size"] for image in images)
    done = sum(image["size"] for image in images if image["file_name"] in complete)
    report = progress or (lambda _done, _total: None)
    if len(complete) < len(images):
        report(done, total)
    results = []
    for image in images:
        target = folder / image["file_name"]
        if image["file_name"] in complete:
            results.append(Downloaded(target, image["size"], "skipped"))
            continue
        before = done
        results.append(_download_one(client, image, target,
                                     lambda got, base=before: report(base + got, total)))
        done = before + image["size"]
        report(done, total)
    return results


def _download_one(client: "Client", image: dict, target: Path,
                  report: Callable[[int], None]) -> Downloaded:
    """One file that is not complete: its ``.part`` (or a shorter file under its own name,
    left by another tool) is continued from its end."""
    size = image["size"]
    partial = target.with_name(target.name + ".part")
    if target.is_file() and target.stat().st_size < size and not partial.exists():
        target.rename(partial)
    have = partial.stat().st_size if partial.is_file() else 0
    if have > size:
        have = 0
    failures = 0
    resumed_from = have
    while True:
        try:
            have = _fetch(client, image["url"], partial, have, report)
        except PodiumError:
            failures += 1
            if failures >= ATTEMPTS:
                raise
            _pause(failures)
            have = partial.stat().st_size if partial.is_file() else 0
            continue
        break
    if have != size:
        raise PodiumError(f"{target.name}: received {have} bytes, the server listed {size}; "
                          "run the command again")
    os.replace(partial, target)
    return Downloaded(target, size, "resumed" if resumed_from else "downloaded")


def _fetch(client: "Client", url: str, partial: Path, have: int,
           report: Callable[[int], None]) -> int:
    """Write the file at ``url`` into ``partial`` from byte ``have`` (a Range request; a
    server that answers the whole file has it written from the start); the bytes present."""
    # identity: the file's own bytes, never compressed again on the way (a gzip middleware
    # would do that to a .nii.gz, and its byte ranges would no longer be the file's).
    headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={have}-"} if have else {})}
    response = client.request("GET", url, ok=(200, 206, 416), headers=headers, stream=True)
    with response:
        if response.status_code == 416:  # nothing after ``have``: start again
            partial.unlink(missing_ok=True)
            return _fetch(client, url, partial, 0, report)
        mode = "ab" if response.status_code == 206 else "wb"
        have = have if mode == "ab" else 0
        with open(partial, mode) as handle:
            try:
                for block in response.iter_content(BLOCK):
                    handle.write(block)
                    have += len(block)
                    report(have)
            except requests.RequestException as exc:
                raise PodiumError(f"the download of {partial.name[:-5]} broke off: "
                                  f"{type(exc).__name__}") from None
    return have
