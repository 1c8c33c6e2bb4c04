"""A task's test data for the people who may have it: accepted participants and organizers.

Test images (never labels: only ``Task.images`` is read, by case, never a name from a request)
are served one by one or as one zip written while it is sent, and training data an organizer
attached as a link or a file. On S3 a single file is handed over as a short-lived signed URL
instead of passing through the web server. Every download is logged (``DownloadLog``).
"""

import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.core.cache import cache
from django.core.files.storage import Storage
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header

from accounts.lockout import client_address
from core.errors import Refused
from core.storage import private_storage

from . import deid_gate
from .models import DownloadLog, Participation, Task, TrainingData
from .visibility import is_organizer, visible_challenges

CHUNK_BYTES = 1024 * 1024
SIGNED_URL_SECONDS = 300

_REFUSALS = {
    None: "join the challenge to download its test data",
    Participation.PENDING: "your request to join is waiting for an organizer's approval; the "
                           "test data can be downloaded once it is accepted",
    Participation.REJECTED: "your request to join this challenge was not accepted, so its test "
                            "data cannot be downloaded",
}


@dataclass(frozen=True)
class StoredImage:
    case: str
    file_name: str  # the image's name in the task folder (imagesTs/), as participants know it
    storage_name: str


def downloadable_task(user, task_id) -> Task:
    """The task, if ``user`` may download its data: 404 unless they may see its challenge;
    :class:`Refused` (403, saying why) unless they organize it or were accepted into it and
    the de-identification gate released its test images (challenges/deid_gate.py)."""
    task = get_object_or_404(Task.objects.select_related("challenge"), pk=task_id)
    challenge = get_object_or_404(visible_challenges(user), pk=task.challenge_id)
    if is_organizer(user, challenge):
        return task
    if not user.is_authenticated:
        raise Refused("log in and join the challenge to download its test data")
    status = Participation.objects.filter(challenge=challenge, user=user).values_list(
        "status", flat=True).first()
    if status != Participation.ACCEPTED:
        raise Refused(_REFUSALS[status])
    held = deid_gate.refusal(task)  # organizers above may look at what the check found
    if held:
        raise Refused(held)
    return task


def stored_images(task: Task) -> list[StoredImage]:
    """The task's stored test images in case order (a detection task stores none)."""
    return [StoredImage(case=entry["name"], file_name=PurePosixPath(entry["image"]).name,
                      storage_name=task.images[entry["name"]])
            for entry in task.cases if entry["name"] in task.images and entry.get("image")]


def stored_image(task: Task, file_name: str) -> StoredImage:
    """One test image by its file name, else 404: the name is only ever compared, so no
    request can name a storage path (a label's, another task's, or one with ``..``)."""
    for image in stored_images(task):
        if image.file_name == file_name:
            return image
    raise Refused(f"{task.key} has no test image of that name", http_status=404)


def sizes(storage: Storage, names: Iterable[str]) -> dict[str, int]:
    """Sizes of stored files, cached: test images have content-addressed names, so a name's
    size never changes (on S3 each size is a request)."""
    keys = {f"podium:size:{name}": name for name in names}
    found = cache.get_many(list(keys))
    missing = {key: storage.size(name) for key, name in keys.items() if key not in found}
    cache.set_many(missing, timeout=None)
    return {keys[key]: size for key, size in {**found, **missing}.items()}


class _Pending:
    """A write-only file for :class:`zipfile.ZipFile` that keeps what it is given until the
    response takes it, so the archive is sent as it is written."""

    def __init__(self):
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zip_stream(members: Iterable[tuple[str, Storage, str]], *, date_time: tuple,
               chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """A zip of stored files (``(name in the archive, storage, storage name)``), yielded in
    pieces of about ``chunk_bytes``: constant memory whatever the total. Members are stored,
    not compressed again (``.nii.gz`` already is); ZIP64 records are written where sizes or
    offsets need them; sizes and CRCs follow each member (the stream cannot seek back)."""
    pending = _Pending()
    with zipfile.ZipFile(pending, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for arcname, storage, name in members:
            info = zipfile.ZipInfo(arcname, date_time=date_time)
            info.file_size = storage.size(name)  # decides whether the member needs ZIP64
            with storage.open(name, "rb") as source, archive.open(info, "w") as target:
                while chunk := source.read(chunk_bytes):
                    target.write(chunk)
                    yield pending.take()
    yield pending.take()  # the central directory


def archive_stream(task: Task) -> Iterator[bytes]:
    """Every test image of ``task`` as ``<task key>/<image file name>`` in a streamed zip."""
    storage = private_storage()
    members = [(f"{task.key}/{image.file_name}", storage, image.storage_name)
               for image in stored_images(task)]
    return zip_stream(members, date_time=task.created.timetuple()[:6])


def signed_url(storage: Storage, name: str, *, file_name: str) -> str | None:
    """A URL that serves the stored file for :data:`SIGNED_URL_SECONDS` and is signed by the
    storage (django-storages' S3 with query-string authentication, as ``PODIUM_STORAGE=s3``
    configures it), saving as ``file_name``; None for a storage that signs no URLs (the
    filesystem), whose files the web server streams itself."""
    if getattr(storage, "querystring_auth", False) is not True:
        return None
    disposition = content_disposition_header(True, file_name)
    return storage.url(name, parameters={"ResponseContentDisposition": disposition},
                       expire=SIGNED_URL_SECONDS)


def log_download(request, task: Task, item: str, *, size: int | None,
                 signed: bool = False) -> DownloadLog:
    """Record that ``request.user`` started downloading ``item`` of ``task``."""
    return DownloadLog.objects.create(user=request.user, task=task, item=item[:300], bytes=size,
                                      signed_url=signed, ip_address=client_address(request))


def training_item(task: Task, item_id) -> TrainingData:
    """A training-data item of ``task``, else 404."""
    return get_object_or_404(TrainingData, task=task, pk=item_id)
