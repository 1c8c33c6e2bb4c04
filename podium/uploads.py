"""An upload handler that stops an oversized request body before it fills the disk.

Django streams uploads into a temporary file before a view runs; without a cap a client could
send any amount. The cap here is the largest upload any phase accepts (an algorithm image);
the per-kind limit with its message is checked by the submission service.
"""

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler


class CappedUploadHandler(TemporaryFileUploadHandler):
    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > max(settings.PODIUM_UPLOAD_MAX_BYTES,
                                       settings.PODIUM_IMAGE_MAX_BYTES):
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)
