"""API views for sources: CRUD (owners only), test, tables, sample rows."""

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import action
from rest_framework.response import Response

from common.api.errors import Conflict
from common.api.filters import IdFilter
from common.api.throttling import SourceTestThrottle
from common.validation import InvalidInput
from workspaces.models import Membership
from workspaces.permissions import WorkspaceRolePermission
from workspaces.viewsets import WorkspaceScopedModelViewSet

from . import browse, services
from .models import Source
from .serializers import (
    SourceSampleSerializer,
    SourceSerializer,
    SourceTableSerializer,
    SourceTestSerializer,
)

OWNERS_ONLY = "Only workspace owners create or change sources (they hold database credentials)."


class OwnerWritePermission(WorkspaceRolePermission):
    """Members read; only owners change a source (read-only actions stay open to members)."""

    message = OWNERS_ONLY

    def has_object_permission(self, request, view, obj):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        if getattr(view, "action", None) in getattr(view, "read_only_actions", ()):
            return True
        return Membership.objects.filter(
            user=request.user, workspace_id=obj.workspace_id, role=Membership.Role.OWNER
        ).exists()


class SourceFilter(django_filters.FilterSet):
    workspace = IdFilter()

    class Meta:
        model = Source
        fields = ["workspace"]


def service_data(serializer) -> dict:
    data = dict(serializer.validated_data)
    data.pop("workspace", None)
    return data


class SourceViewSet(WorkspaceScopedModelViewSet):
    """Databases that parent segments read from; only owners create or change them."""

    model = Source
    serializer_class = SourceSerializer
    filterset_class = SourceFilter
    permission_classes = [OwnerWritePermission]
    read_only_actions = ("test",)

    def resolve_workspace(self, data):
        workspace = super().resolve_workspace(data)
        if workspace.role_of(self.request.user) != Membership.Role.OWNER:
            raise exceptions.PermissionDenied(OWNERS_ONLY)
        return workspace

    def perform_create(self, serializer):
        serializer.instance = services.create_source(
            workspace=self.workspace, data=service_data(serializer)
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_source(
            serializer.instance, data=service_data(serializer)
        )

    def perform_destroy(self, instance):
        parents = list(instance.parent_segments.values_list("name", flat=True)[:5])
        if parents:
            raise Conflict(f"Used by parent segment(s) {', '.join(parents)}: delete those first.")
        instance.delete()

    @extend_schema(request=None, responses={200: SourceTestSerializer})
    @action(detail=True, methods=["post"], throttle_classes=[SourceTestThrottle])
    def test(self, request, pk=None):
        """Connect and run SELECT 1: {"ok": true} or {"ok": false, "error": "..."}."""
        error = browse.test_source(self.get_object())
        return Response({"ok": True} if error is None else {"ok": False, "error": error})

    @extend_schema(responses={200: SourceTableSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def tables(self, request, pk=None):
        """The source's tables and views, each with its columns in our column types."""
        source = self.get_object()
        try:
            return Response(browse.list_tables(source))
        except browse.SourceError as error:
            raise exceptions.ValidationError({"source": [str(error)]}) from None

    @extend_schema(
        parameters=[
            OpenApiParameter("table", str, description='"schema.table"'),
            OpenApiParameter("query", str, description="A SELECT statement"),
        ],
        responses={200: SourceSampleSerializer},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def sample(self, request, pk=None):
        """The first rows of a table or a query, with the columns inferred for them."""
        source = self.get_object()
        relation = browse.Relation(
            table=request.query_params.get("table", ""),
            query=request.query_params.get("query", ""),
        )
        if not relation.table and not relation.query:
            raise exceptions.ValidationError({"table": ["give a table or a query"]})
        try:
            body = browse.sample_rows(source, relation)
            body["inferred_columns"] = browse.relation_columns(source, relation)
        except browse.SourceError as error:
            raise exceptions.ValidationError({"source": [str(error)]}) from None
        except InvalidInput:
            raise
        return Response(body)
