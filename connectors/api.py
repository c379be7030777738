"""API views for connections, and the "test connection" action."""

import contextlib

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from common.api.filters import IdFilter
from common.api.throttling import ConnectionTestThrottle
from common.validation import InvalidInput
from connectors import catalog, services
from connectors.models import Connection
from connectors.serializers import (
    CatalogErrorSerializer,
    ConnectionSerializer,
    ConnectionTestSerializer,
    DestinationFieldsSerializer,
    DestinationObjectsSerializer,
)
from workspaces.viewsets import WorkspaceScopedModelViewSet


def service_data(serializer) -> dict:
    data = dict(serializer.validated_data)
    data.pop("workspace", None)
    return data


@contextlib.contextmanager
def api_field_names():
    """The service names the model field `kind`; the API calls it `type`."""
    try:
        yield
    except InvalidInput as invalid:
        errors = {
            ("type" if path == "kind" else path): msgs for path, msgs in invalid.errors.items()
        }
        raise InvalidInput(errors) from None


class ConnectionFilter(django_filters.FilterSet):
    workspace = IdFilter()

    class Meta:
        model = Connection
        fields = ["workspace"]


class ConnectionViewSet(WorkspaceScopedModelViewSet):
    """Salesforce logins; a connection used by an activation cannot be deleted (409)."""

    model = Connection
    serializer_class = ConnectionSerializer
    filterset_class = ConnectionFilter
    # Logging in changes nothing, so viewers may test too.
    read_only_actions = ("test", "objects", "object_fields")

    def perform_create(self, serializer):
        with api_field_names():
            serializer.instance = services.create_connection(
                workspace=self.workspace, data=service_data(serializer)
            )

    def perform_update(self, serializer):
        with api_field_names():
            serializer.instance = services.update_connection(
                serializer.instance, data=service_data(serializer)
            )

    @extend_schema(request=None, responses={200: ConnectionTestSerializer})
    @action(detail=True, methods=["post"], throttle_classes=[ConnectionTestThrottle])
    def test(self, request, pk=None):
        """Log in with the stored settings: {"ok": true} or {"ok": false, "error": "..."}."""
        error = services.test_connection(self.get_object())
        return Response({"ok": True} if error is None else {"ok": False, "error": error})

    @extend_schema(
        parameters=[OpenApiParameter("refresh", OpenApiTypes.STR, enum=["1"])],
        responses={200: DestinationObjectsSerializer, 502: CatalogErrorSerializer},
    )
    @action(detail=True, methods=["get"])
    def objects(self, request, pk=None):
        """The org's objects for a mapping: {"objects": [{name, label, custom, createable,
        updateable}]}; cached, `?refresh=1` asks Salesforce again. 502 when it cannot answer."""
        try:
            items = catalog.objects(self.get_object(), refresh=request.GET.get("refresh") == "1")
        except catalog.CatalogError as error:
            return Response({"detail": error.message}, status=502)
        return Response({"objects": items})

    @extend_schema(
        parameters=[
            OpenApiParameter("refresh", OpenApiTypes.STR, enum=["1"]),
            OpenApiParameter("api_version", OpenApiTypes.STR, description="e.g. 59.0"),
            OpenApiParameter("object_name", OpenApiTypes.STR, OpenApiParameter.PATH),
        ],
        responses={
            200: DestinationFieldsSerializer,
            # 400 stays the common Error shape: a bad query parameter is keyed by its name.
            404: CatalogErrorSerializer,
            502: CatalogErrorSerializer,
        },
    )
    @action(detail=True, methods=["get"], url_path=r"objects/(?P<object_name>\w+)/fields")
    def object_fields(self, request, pk=None, object_name=None):
        """One object's fields: {"object", "fields": [{name, label, type, required,
        external_id, id_lookup, createable, updateable, relationship_name, reference_to,
        accepts}]}; 404 for an unknown object."""
        try:
            items = catalog.fields(
                self.get_object(),
                object_name,
                api_version=request.GET.get("api_version") or "59.0",
                refresh=request.GET.get("refresh") == "1",
            )
        except catalog.CatalogError as error:
            status = {"export.object": 404, "export.api_version": 400}.get(error.field, 502)
            return Response({"detail": error.message}, status=status)
        return Response({"object": object_name, "fields": items})
