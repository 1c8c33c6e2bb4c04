"""Compression of responses, except where it costs the user: Django's GZipMiddleware would
compress a file download again (a .nii.gz test image, a zip archive) and, streaming it, drop its
Content-Length, so a browser could show neither the size nor the progress of the download, and
the server would spend CPU on bytes that do not shrink."""

from django.middleware.gzip import GZipMiddleware

COMPRESSED_TYPES = frozenset({
    "application/gzip", "application/x-gzip", "application/zip", "application/x-bzip2",
    "application/x-xz", "application/zstd", "application/x-7z-compressed",
    "application/x-brotli", "image/png", "image/jpeg", "image/webp", "image/gif",
})
"""Media types whose bodies are compressed already."""


def is_download(response) -> bool:
    """Whether ``response`` is a file to save (a Content-Disposition naming a file, or a
    FileResponse) or a body compressed already (by its media type)."""
    media_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return (response.has_header("Content-Disposition")
            or getattr(response, "file_to_stream", None) is not None
            or media_type in COMPRESSED_TYPES)


class PageGZipMiddleware(GZipMiddleware):
    """GZipMiddleware for pages and API answers; file downloads and compressed bodies pass
    unchanged, with their Content-Length."""

    def process_response(self, request, response):
        if is_download(response):
            return response
        return super().process_response(request, response)
