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
from django.db import transaction
from django.db.models import ProtectedError
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_bearer_security_scheme_object
from knox.settings import knox_settings
from rest_framework import exceptions, pagination, permissions, serializers, status, viewsets
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from common.ids import parse_id
from common.text import text_problem
from common.throttling import SharedRateThrottle
from common.uploads import upload_limit_message
from common.validation import InvalidInput
from connectors.base import ConnectorError
from workspaces.models import Membership, Workspace, ensure_personal_workspace, workspaces_of

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
    if isinstance(exc, ConnectorError):
        # Reaching here means a view did not expect it: a destination problem, said plainly.
        return Response({"detail": exc.message}, status=status.HTTP_400_BAD_REQUEST)
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


class WorkspaceField(serializers.IntegerField):
    """The owning workspace's id; on create it may be left out (see resolve_workspace)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_JSON_INTEGER)
        kwargs.setdefault(
            "help_text",
            "The workspace's id. On create it may be left out when you belong to exactly one.",
        )
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return instance.workspace_id


class WorkspaceRelatedField(serializers.PrimaryKeyRelatedField):
    """The id of another owned object (a parent segment, say) the user can see; the service
    checks that it belongs to the same workspace."""

    def __init__(self, model, **kwargs):
        self.model = model
        kwargs.setdefault("queryset", model.objects.all())
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return self.model.objects.none()
        return self.model.objects.visible_to(request.user)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(data, str) and not (data.isascii() and data.isdigit()):
            self.fail("incorrect_type", data_type="str")
        pk = parse_id(data)
        if pk is None:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(pk)


# --- Permissions, throttles, pagination -----------------------------------------------------


class WorkspaceRolePermission(permissions.BasePermission):
    """Members see their workspaces' objects; owners and editors change and run them.

    Objects outside the user's workspaces never reach this check: views scope their querysets
    with `visible_to`, so those are 404. Actions that change nothing but are POSTs (a preview,
    a connection test) are listed in the view's `read_only_actions`.
    """

    message = (
        "You have the viewer role in this workspace: you may look, but not change or run anything."
    )

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        if getattr(view, "action", None) in getattr(view, "read_only_actions", ()):
            return True
        return Membership.objects.filter(
            user=request.user,
            workspace_id=view.workspace_id_of(obj),
            role__in=Membership.WRITE_ROLES,
        ).exists()


class SettingsRateThrottle(SharedRateThrottle):
    """Rate from the current settings, shared counters, client address behind proxies
    (common/throttling.py)."""


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


# --- Workspace scoping ----------------------------------------------------------------------


class WorkspaceScopedViewSetMixin:
    """A viewset over a model with a `workspace` foreign key.

    Lists and lookups only ever see the user's workspaces (others' objects are 404); a user
    with no workspace gets a personal one on first use. WorkspaceScopedModelViewSet adds the
    writes: creating resolves the workspace (given, or the user's only one) and needs the
    owner or editor role in it; writes run in one transaction, so a rejected request changes
    nothing.
    """

    model: type | None = None  # the workspace-owned model
    permission_classes = [WorkspaceRolePermission]
    parser_classes = [StrictJSONParser]
    pagination_class = PageNumberPagination
    read_only_actions: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.user.is_authenticated:
            ensure_personal_workspace(request.user)

    def get_queryset(self):
        return self.model.objects.visible_to(self.request.user)

    def get_object(self):
        # An id in the URL that is no id (`²`, `1e400`, 30 digits) names nothing: 404, not
        # the database's ValueError or overflow.
        lookup = self.lookup_url_kwarg or self.lookup_field
        if lookup in self.kwargs and parse_id(self.kwargs[lookup]) is None:
            raise exceptions.NotFound(f"No object with id {self.kwargs[lookup]!r}.")
        return super().get_object()

    def workspace_id_of(self, obj) -> int:
        return obj.workspace_id

    def resolve_workspace(self, data) -> Workspace:
        """The workspace a new object goes to, which the user must be able to write to."""
        value = data.get("workspace") if isinstance(data, Mapping) else None
        user = self.request.user
        if value is None:
            workspaces = list(workspaces_of(user)[:2])
            if len(workspaces) > 1:
                raise exceptions.ValidationError(
                    {"workspace": ["Required: you belong to several workspaces."]}
                )
            workspace = workspaces[0] if workspaces else ensure_personal_workspace(user)
        else:
            if isinstance(value, bool):
                raise exceptions.ValidationError({"workspace": ["A valid integer is required."]})
            try:
                value = WorkspaceField().run_validation(value)
            except exceptions.ValidationError as invalid:
                raise exceptions.ValidationError({"workspace": invalid.detail}) from None
            workspace = workspaces_of(user).filter(pk=value).first()
            if workspace is None:
                raise exceptions.ValidationError(
                    {"workspace": [f"No workspace {value} among yours."]}
                )
        role = workspace.role_of(user)
        if role not in Membership.WRITE_ROLES:
            raise exceptions.PermissionDenied(
                f"You have the {role} role in workspace {workspace.pk}: "
                "creating needs the owner or editor role."
            )
        return workspace


class WorkspaceScopedModelViewSet(WorkspaceScopedViewSetMixin, viewsets.ModelViewSet):
    """A full CRUD viewset over a workspace-owned model; perform_* hooks call the services."""

    def create(self, request, *args, **kwargs):
        self.workspace = self.resolve_workspace(request.data)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            self.perform_create(serializer)
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        self.workspace = instance.workspace
        data = request.data
        given = data.get("workspace") if isinstance(data, Mapping) else None
        if given is not None and str(given) != str(instance.workspace_id):
            raise exceptions.ValidationError(
                {"workspace": ["Cannot be changed: create a copy in the other workspace."]}
            )
        serializer = self.get_serializer(instance, data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            self.perform_update(serializer)
        return Response(serializer.data)

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        with transaction.atomic():
            self.perform_destroy(instance)
        return Response(status=status.HTTP_204_NO_CONTENT)
