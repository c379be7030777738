"""The Idempotency-Key header of requests that create something."""

import re

from rest_framework import exceptions

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


def idempotency_key(request) -> str:
    """The request's Idempotency-Key header ("" if none); 400 unless 1-255 printable ASCII."""
    key = request.headers.get(IDEMPOTENCY_KEY_HEADER, "")
    if key and not IDEMPOTENCY_KEY_PATTERN.match(key):
        raise exceptions.ValidationError(
            {
                IDEMPOTENCY_KEY_HEADER: [
                    "Must be 1 to 255 printable ASCII characters without spaces."
                ]
            }
        )
    return key
