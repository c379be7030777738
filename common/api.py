"""Shared pieces of the REST API: strict parsing, errors keyed by path, workspace roles,
throttles, pagination and the idempotency key.

Every API error is a 4xx JSON object: either {"detail": "..."} for a request-level problem
(authentication, permission, not found, conflict, throttling, unparsable body) or
{"<path>": ["message", ...]} for input, with nested paths such as
`output_mapping.columns[2].output`, the same paths the pure validators raise in InvalidInput.
"""

import json
import math
import re
import tempfile
from collections.abc import Mapping

import django_filters
from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db.models import ProtectedError
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_bearer_security_scheme_object
from knox.settings import knox_settings
from rest_framework import exceptions, pagination, permissions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import ServiceError
from common.validation import InvalidInput

NON_FIELD_ERRORS = api_settings.NON_FIELD_ERRORS_KEY
UNKNOWN_FIELD = "unknown field"
# Deeper JSON than this is refused before any validator recurses into it (rule trees are a
# handful of levels deep; a 100,000-level body would otherwise exhaust Python's stack).
MAX_JSON_DEPTH = 32
# Integers beyond 64 bits cannot be bound as SQLite parameters or stored in our columns.
MAX_JSON_INTEGER = 2**63 - 1
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


# --- Errors -------------------------------------------------------------------------------


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
        names = sorted({str(obj) for obj in exc.protected_objects})
        return Response(
            {"detail": f"Still in use by: {', '.join(names)}. Delete or change those first."},
            status=status.HTTP_409_CONFLICT,
        )
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


# --- Authentication -------------------------------------------------------------------------


class KnoxTokenScheme(OpenApiAuthenticationExtension):
    """Documents TokenAuthentication in the schema as knox's scheme (`Token <token>`)."""

    target_class = "common.authentication.TokenAuthentication"
    name = "knoxApiToken"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=knox_settings.AUTH_HEADER_PREFIX
        )


# --- Parsing and rendering ----------------------------------------------------------------


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
            if "\x00" in node:
                raise exceptions.ParseError("NUL characters (\\u0000) are not allowed.")
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
        if stream is not None:
            while chunk := stream.read(64 * 1024):
                spool.write(chunk)
        spool.seek(0)
        return {"file": spool}


class FirstRendererNegotiation(BaseContentNegotiation):
    """Always the view's first renderer: for downloads that are one format whatever the
    client's Accept header says (a browser asks for text/html first)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class CSVRenderer(BaseRenderer):
    """Lets `Accept: text/csv` through content negotiation; errors still render as JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode("utf-8")
        return json.dumps(data).encode("utf-8")


# --- Serializers --------------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses fields it does not know ("unknown field").

    Read-only fields are known: a client may send back what it read.
    """

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            unknown = {
                key: [UNKNOWN_FIELD]
                for key in data
                if not isinstance(key, str) or key not in self.fields
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


# --- Permissions, throttles, pagination -----------------------------------------------------


class SettingsRateThrottle(SimpleRateThrottle):
    """Reads its rate from the current settings, so tests (and reloads) can change it."""

    def get_rate(self):
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            raise exceptions.ImproperlyConfigured(
                f"REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'] has no rate for scope {self.scope!r}"
            ) from None

    def allow_request(self, request, view):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class TokenThrottle(SettingsRateThrottle):
    """Token requests per client address (scope "token"), logged in or not."""

    scope = "token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class RunCreateThrottle(SettingsRateThrottle):
    """Run requests per user (scope "run_create"); reading runs is not throttled."""

    scope = "run_create"

    def get_cache_key(self, request, view):
        if request.method in permissions.SAFE_METHODS or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class IdFilter(django_filters.NumberFilter):
    """Filter by an object id; anything but a positive 64-bit integer is a 400."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_JSON_INTEGER)
        super().__init__(*args, **kwargs)


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


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


# --- Schema -------------------------------------------------------------------------------

ERROR_SCHEMA = {
    "type": "object",
    "description": (
        'Either {"detail": "message"}, or input errors keyed by path: '
        '{"output_mapping.columns[2].output": ["message"]}.'
    ),
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the error responses every operation can give.

    Our serializers declare input fields optional (the services apply defaults), but an
    answer always holds every field: in responses, the fields of a StrictSerializer are all
    required, except those it lists in `optional_in_response`, so generated clients get
    non-optional types.
    """

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "response" and isinstance(serializer, StrictSerializer):
            optional = set(getattr(serializer, "optional_in_response", ()))
            required = [
                name
                for name in schema.get("properties", {})
                if name not in optional and not serializer.fields[name].write_only
            ]
            if required:
                schema["required"] = sorted(required)
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        component = ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, schema=ERROR_SCHEMA, object="Error"
        )
        self.registry.register_on_missing(component)
        error = {"content": {"application/json": {"schema": component.ref}}}
        codes = {"400": "Invalid input, parameters or body"}
        if self.view.get_authenticators() and self.view.get_permissions():
            codes["401"] = "Not authenticated"
            codes["403"] = "Not allowed"
        if "{" in self.path or self._is_list_view():
            codes["404"] = "Not found"
        if self.method in ("POST", "PUT", "PATCH"):
            codes["413"] = "Body too large"
            codes["415"] = "Unsupported media type"
        if self.method in ("POST", "DELETE"):
            codes["409"] = "Conflict with the object's state"
        if self.view.get_throttles():
            codes["429"] = "Too many requests"
        for code, description in codes.items():
            responses.setdefault(code, {**error, "description": description})
        return responses
