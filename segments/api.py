"""API views for parent segments (with their CSV upload) and segments."""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from common.api.filters import IdFilter
from common.api.parsers import CSVUploadParser
from common.api.schema import ERROR_SCHEMA
from segments import services
from segments.loading import MODES
from segments.models import ParentSegment, Segment
from segments.serializers import (
    ImportResultSerializer,
    ParentSegmentSerializer,
    ProfileUploadSerializer,
    SegmentSerializer,
)
from workspaces.viewsets import WorkspaceScopedModelViewSet

IN_USE_BY_ACTIVATIONS = "Used by activation(s) {names}: delete those first."


def service_data(serializer) -> dict:
    """The fields sent, as plain data; on update the services keep the others."""
    data = {key: value for key, value in serializer.validated_data.items() if key != "workspace"}
    if "columns" in data:
        data["columns"] = [dict(column) for column in data["columns"]]
    return data


class ParentSegmentFilter(django_filters.FilterSet):
    workspace = IdFilter()

    class Meta:
        model = ParentSegment
        fields = ["workspace"]


class SegmentFilter(django_filters.FilterSet):
    # Ids only, never "no such object": that would tell apart other teams' ids.
    workspace = IdFilter()
    parent_segment = IdFilter()
    folder = django_filters.CharFilter()

    class Meta:
        model = Segment
        fields = ["workspace", "parent_segment", "folder"]


class ParentSegmentViewSet(WorkspaceScopedModelViewSet):
    """Customer master tables; their rows come from CSV uploads."""

    # Deleting is refused (409, a ProtectedError) while activations send it.
    in_use_message = IN_USE_BY_ACTIVATIONS

    model = ParentSegment
    serializer_class = ParentSegmentSerializer
    filterset_class = ParentSegmentFilter

    def perform_destroy(self, instance):
        services.delete(instance)

    def perform_create(self, serializer):
        serializer.instance = services.create_parent_segment(
            workspace=self.workspace, data=service_data(serializer)
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_parent_segment(
            serializer.instance, data=service_data(serializer)
        )

    @extend_schema(
        request={
            "multipart/form-data": ProfileUploadSerializer,
            "text/csv": OpenApiTypes.BINARY,
        },
        parameters=[
            OpenApiParameter(
                "mode",
                str,
                enum=list(MODES),
                description=(
                    "replace (default): the rows become exactly the file's; "
                    "upsert: the file's rows are added or replaced by key."
                ),
            )
        ],
        responses={
            200: ImportResultSerializer,
            400: OpenApiResponse(
                {"oneOf": [{"$ref": "#/components/schemas/ImportResult"}, ERROR_SCHEMA]},
                description="The file has errors (nothing was imported), or the request is bad",
            ),
        },
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, CSVUploadParser])
    def profiles(self, request, pk=None):
        """Upload the rows as CSV; a file with any error imports nothing (400)."""
        parent = self.get_object()
        file = request.data.get("file")
        if not hasattr(file, "read"):
            if request.content_type.split(";")[0].strip().lower() == "text/csv":
                # Django reads no body without a Content-Length (a chunked upload).
                message = (
                    "The text/csv body is empty. Send the file with its Content-Length "
                    "(curl --data-binary @file.csv), not chunked."
                )
            else:
                message = (
                    "Send the CSV in the multipart field `file`, "
                    "or as the body with Content-Type: text/csv."
                )
            raise exceptions.ValidationError({"file": [message]})
        try:
            result = services.import_profiles_file(
                parent_segment=parent, file=file, mode=request.query_params.get("mode", "replace")
            )
        finally:
            file.close()
        body = ImportResultSerializer(result).data
        return Response(body, status=status.HTTP_200_OK if result.ok else 400)


class SegmentViewSet(WorkspaceScopedModelViewSet):
    """Audiences defined by rules over a parent segment; `size` is counted on every read."""

    # Deleting is refused (409, a ProtectedError) while activations send it.
    in_use_message = IN_USE_BY_ACTIVATIONS

    model = Segment
    serializer_class = SegmentSerializer
    filterset_class = SegmentFilter

    def perform_destroy(self, instance):
        services.delete(instance)

    def get_queryset(self):
        return super().get_queryset().select_related("parent_segment")

    def perform_create(self, serializer):
        serializer.instance = services.create_segment(
            workspace=self.workspace, data=service_data(serializer)
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_segment(
            serializer.instance, data=service_data(serializer)
        )
