"""Pages and files of a task's data: its test images and training data (what and for whom:
challenges/downloads.py).

Scripts use the same URLs with an API token: the data page answers them the list of test
images as JSON, and a file streamed by the web server answers a single byte range
(``Range: bytes=N-``) with 206, so an interrupted download resumes where it stopped (the
``podium download`` command does both, docs/cli.md).
"""

import re
from functools import wraps
from pathlib import PurePosixPath

from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import content_disposition_header
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import token_login
from core.errors import Refused
from core.storage import private_storage

from . import data_page, downloads
from .models import DownloadLog


def _guarded(view):
    """Call ``view`` with the task the user may download (404 for a task they may not see);
    a refusal answers with a page that says why."""

    @wraps(view)
    def wrapper(request, task_id, **kwargs):
        try:
            _token_login(request)
            task = downloads.downloadable_task(request.user, task_id)
            response = view(request, task, **kwargs)
        except Refused as exc:
            if _wants_json(request):
                response = JsonResponse({"detail": str(exc)}, status=exc.http_status)
            else:
                response = render(request, "challenges/downloads.html", {"refused": str(exc)},
                                  status=exc.http_status)
        patch_cache_control(response, private=True)
        patch_vary_headers(response, ["Accept", "Authorization"])
        return response

    return wrapper


def _token_login(request) -> None:
    try:
        token_login(request)
    except AuthenticationFailed as exc:
        raise Refused(str(exc.detail), http_status=401) from None


def _wants_json(request) -> bool:
    """A script (a token, or asking for JSON) gets JSON: the listing, and errors as the REST
    API words them (``{"detail": message}``)."""
    return ("Authorization" in request.headers
            or "application/json" in request.headers.get("Accept", ""))


@_guarded
def task_data(request, task):
    """The task's test images with their sizes, the link to the archive, its training data."""
    images = downloads.stored_images(task)
    size_of = downloads.sizes(private_storage(), [image.storage_name for image in images])
    if _wants_json(request):  # the list a script downloads from (``podium download``)
        return JsonResponse({"task": task.key, "images": [
            {"case": image.case, "file_name": image.file_name,
             "size": size_of[image.storage_name],
             "url": request.build_absolute_uri(
                 reverse("task-image", args=[task.id, image.file_name]))}
            for image in images]})
    training = [(item, item.file.size if item.file else None)
                for item in task.training_data.all()]
    phases = list(task.phases.select_related("active_ground_truth"))
    return render(request, "challenges/downloads.html", {
        "task": task,
        "format": data_page.prediction_format(task, phases),
        "dicom_seg": data_page.dicom_seg(task, phases),
        "images": [(image, size_of[image.storage_name]) for image in images],
        "total": sum(size_of[image.storage_name] for image in images),
        "training": training,
    })


@_guarded
def task_archive(request, task):
    """Every test image of the task in one zip, written while it is sent."""
    images = downloads.stored_images(task)
    if not images:
        raise Refused(f"{task.key} has no test images to download", http_status=404)
    total = sum(downloads.sizes(private_storage(), [i.storage_name for i in images]).values())
    downloads.log_download(request, task, DownloadLog.ARCHIVE, size=total)
    response = StreamingHttpResponse(downloads.archive_stream(task),
                                     content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, f"{task.key}.zip")
    return response


@_guarded
def task_image(request, task, file_name: str):
    image = downloads.stored_image(task, file_name)
    return _stored_file(request, task, image.case, private_storage(), image.storage_name,
                        image.file_name)


@_guarded
def training_data(request, task, item_id):
    item = downloads.training_item(task, item_id)
    logged = f"training: {item.title}"
    if item.url:
        downloads.log_download(request, task, logged, size=None)
        return redirect(item.url)
    return _stored_file(request, task, logged, item.file.storage, item.file.name,
                        PurePosixPath(item.file.name).name)


def _stored_file(request, task, item: str, storage, name: str, file_name: str):
    """A stored file: a signed URL where the storage makes them (the storage answers ranges
    itself), else streamed, whole or the one range asked for."""
    url = downloads.signed_url(storage, name, file_name=file_name)
    if url is not None:
        downloads.log_download(request, task, item, size=None, signed=True)
        return redirect(url)
    handle = storage.open(name, "rb")
    size = handle.size
    span = byte_range(request.headers.get("Range", ""), size)
    if span is None:
        downloads.log_download(request, task, item, size=size)
        response = FileResponse(handle, as_attachment=True, filename=file_name)
    elif span == UNSATISFIABLE:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    else:
        start, end = span
        downloads.log_download(request, task, item, size=end - start + 1)
        handle.seek(start)
        response = FileResponse(_Slice(handle, end - start + 1), status=206,
                                as_attachment=True, filename=file_name)
        response["Content-Length"] = str(end - start + 1)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    return response


UNSATISFIABLE = (-1, -1)
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The first and last byte (inclusive) of the one range ``header`` asks for (RFC 9110
    §14: ``N-``, ``N-M`` or the suffix ``-K``); None to answer the whole file (no header, one
    this view does not take such as several ranges, or an empty file); :data:`UNSATISFIABLE`
    for a range that starts past the end."""
    found = _RANGE.fullmatch(header.strip())
    if not found or found.groups() == ("", "") or size == 0:
        return None
    first, last = found.groups()
    if not first:  # the last K bytes
        return (max(size - int(last), 0), size - 1) if int(last) else UNSATISFIABLE
    start = int(first)
    if last and int(last) < start:
        return None  # a malformed range is ignored (RFC 9110 §14.2)
    if start >= size:
        return UNSATISFIABLE
    return start, min(int(last), size - 1) if last else size - 1


class _Slice:
    """At most ``length`` bytes of an open file from its position; closes it with itself."""

    def __init__(self, handle, length: int):
        self.handle, self.left = handle, length

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(self.left if size < 0 else min(size, self.left))
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()
