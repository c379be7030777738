"""Request parsers: strict JSON (size, encoding, depth, values a database would refuse) and
CSV uploads."""

import json
import math
import tempfile

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import BaseParser, JSONParser

from common.api.errors import PayloadTooLarge
from common.text import text_problem
from common.uploads import upload_limit_message

# Deeper JSON than this is refused before any validator recurses into it (rule trees are a
# handful of levels deep; a 100,000-level body would otherwise exhaust Python's stack).
MAX_JSON_DEPTH = 32
# Integers beyond 64 bits cannot be bound as SQLite parameters or stored in our columns.
MAX_JSON_INTEGER = 2**63 - 1


def check_json_value(data) -> None:
    """Refuse what parses as JSON but breaks a database or a validator later.

    NUL characters (PostgreSQL text and jsonb reject them), non-finite numbers, integers
    beyond 64 bits, and nesting deeper than MAX_JSON_DEPTH. Iterative, so depth is harmless.
    """
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise exceptions.ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(node, str):
            problem = text_problem(node)  # NUL, lone surrogates
            if problem:
                raise exceptions.ParseError(problem)
        elif isinstance(node, bool):
            continue
        elif isinstance(node, int):
            if abs(node) > MAX_JSON_INTEGER:
                raise exceptions.ParseError(f"Integer out of range: {node}.")
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise exceptions.ParseError("Numbers must be finite.")
        elif isinstance(node, dict):
            for key, value in node.items():
                stack.append((key, depth))
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)


def read_limited(stream, limit: int) -> bytes:
    """The whole body, refusing one longer than `limit` bytes without reading it all."""
    if stream is None:
        return b""
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    return body


class StrictJSONParser(JSONParser):
    """JSON bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE, UTF-8, checked by check_json_value."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = read_limited(stream, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(f"The body is not valid UTF-8: {exc}") from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise exceptions.ParseError(
                f"JSON nested deeper than {MAX_JSON_DEPTH} levels."
            ) from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        check_json_value(data)
        return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class CSVUploadParser(BaseParser):
    """A `text/csv` body, handed on as a file object (spooled to disk when large)."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        # Returned open: the view reads it, then closes it.
        spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE
        )
        received = 0
        if stream is not None:
            while chunk := stream.read(64 * 1024):
                received += len(chunk)
                if received > settings.MAX_UPLOAD_BYTES:
                    spool.close()
                    raise PayloadTooLarge(upload_limit_message())
                spool.write(chunk)
        spool.seek(0)
        return {"file": spool}
