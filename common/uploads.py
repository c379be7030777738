"""MAX_UPLOAD_BYTES for multipart uploads, enforced while the body streams in.

Django writes an uploaded file to a temporary file before any view runs, so the limit has to
be applied here, in the upload handler chain: a file that grows beyond the limit stops the
upload (the rest of the body is read and dropped, never stored) and the view finds
`request.upload_too_large` set.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


def upload_limit_message() -> str:
    return f"The file is larger than {settings.MAX_UPLOAD_BYTES:,} bytes (MAX_UPLOAD_BYTES)."


class LimitedUploadHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: passes data on until the upload's files exceed the limit."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.received = 0
        self.request.upload_too_large = False
        if content_length and content_length > settings.MAX_UPLOAD_BYTES + 64 * 1024:
            # Announced too large (64 KiB allow for the multipart framing): refuse unread.
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.MAX_UPLOAD_BYTES:
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handlers build the file
