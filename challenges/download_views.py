"""Pages and files of a task's data: its test images and training data (what and for whom:
challenges/downloads.py)."""

from functools import wraps
from pathlib import PurePosixPath

from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header

from core.errors import Refused
from core.storage import private_storage

from . import downloads
from .models import DownloadLog


def _guarded(view):
    """Call ``view`` with the task the user may download (404 for a task they may not see);
    a refusal answers with a page that says why."""

    @wraps(view)
    def wrapper(request, task_id, **kwargs):
        try:
            task = downloads.downloadable_task(request.user, task_id)
            response = view(request, task, **kwargs)
        except Refused as exc:
            response = render(request, "challenges/downloads.html", {"refused": str(exc)},
                              status=exc.http_status)
        patch_cache_control(response, private=True)
        return response

    return wrapper


@_guarded
def task_data(request, task):
    """The task's test images with their sizes, the link to the archive, its training data."""
    images = downloads.stored_images(task)
    size_of = downloads.sizes(private_storage(), [image.storage_name for image in images])
    training = [(item, item.file.size if item.file else None)
                for item in task.training_data.all()]
    return render(request, "challenges/downloads.html", {
        "task": task,
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
    """A stored file: a signed URL where the storage makes them, else streamed."""
    url = downloads.signed_url(storage, name, file_name=file_name)
    if url is not None:
        downloads.log_download(request, task, item, size=None, signed=True)
        return redirect(url)
    handle = storage.open(name, "rb")
    downloads.log_download(request, task, item, size=handle.size)
    return FileResponse(handle, as_attachment=True, filename=file_name)
