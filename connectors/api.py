"""API views for connections, and the "test connection" action."""

import contextlib

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from common.api.filters import IdFilter
from common.validation import InvalidInput
from connectors import services
from connectors.models import Connection
from connectors.serializers import ConnectionSerializer, ConnectionTestSerializer
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
    read_only_actions = ("test",)

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
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Log in with the stored settings: {"ok": true} or {"ok": false, "error": "..."}."""
        error = services.test_connection(self.get_object())
        return Response({"ok": True} if error is None else {"ok": False, "error": error})
