"""API errors: every one is a 4xx JSON object, either {"detail": "..."} for a request-level
problem (authentication, permission, not found, conflict, throttling, unparsable body) or
{"<path>": ["message", ...]} for input, with nested paths such as
`output_mapping.columns[2].output`, the same paths the pure validators raise in InvalidInput.
"""

from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db.models import ProtectedError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import ServiceError
from common.validation import InvalidInput

NON_FIELD_ERRORS = api_settings.NON_FIELD_ERRORS_KEY
IN_USE_MESSAGE = "Still in use by: {names}. Delete or change those first."


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the object."
    default_code = "conflict"


def join_path(prefix: str, key) -> str:
    """`prefix` and `key` joined as in `columns[2].output`: indexes in brackets, names dotted."""
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        return f"{prefix}[{key}]"
    if isinstance(key, str) and key.startswith("["):
        return f"{prefix}{key}"
    return f"{prefix}.{key}" if prefix else str(key)


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as {"path": [messages]}.

    A serializer nests errors as dicts (fields), lists (a list serializer's items, with {} for
    valid ones) and dicts with integer keys (a ListField's items); a `non_field_errors` entry
    belongs to the object that holds it, so it takes that object's path.
    """
    result: dict[str, list[str]] = {}

    def add(path: str, message) -> None:
        result.setdefault(path or NON_FIELD_ERRORS, []).append(str(message))

    def walk(node, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, path if key == NON_FIELD_ERRORS else join_path(path, key))
        elif isinstance(node, list | tuple):
            if all(isinstance(item, str) for item in node):
                for item in node:
                    add(path, item)
            else:
                for index, item in enumerate(node):
                    if item:
                        walk(item, join_path(path, index))
        else:
            add(path, node)

    walk(detail, prefix)
    return result


def invalid_input_errors(exc: InvalidInput) -> dict[str, list[str]]:
    """InvalidInput's errors with a whole-object error ("" path) under `non_field_errors`."""
    return {(path or NON_FIELD_ERRORS): list(messages) for path, messages in exc.errors.items()}


def exception_handler(exc, context):
    """DRF's handler, plus our domain errors, with validation errors flattened to paths."""
    if isinstance(exc, InvalidInput):
        return Response(invalid_input_errors(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ServiceError):
        # Reaching here means a view did not expect it: the app's own status, said plainly.
        return Response({"detail": exc.message}, status=exc.status_code)
    if isinstance(exc, ProtectedError):
        # A view may word it for its objects (`in_use_message`, with {names}).
        message = getattr(context.get("view"), "in_use_message", IN_USE_MESSAGE)
        names = ", ".join(sorted({str(obj) for obj in exc.protected_objects}))
        return Response({"detail": message.format(names=names)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc) or "Malformed request.")
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        response.data = flatten_errors(exc.detail)
    return response
