"""API views for parent segments (with their CSV upload) and segments."""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from activations.models import Activation
from common.api import (
    ERROR_SCHEMA,
    Conflict,
    CSVUploadParser,
    IdFilter,
    PayloadTooLarge,
    WorkspaceScopedModelViewSet,
)
from common.uploads import upload_limit_message
from segments import services
from segments.loading import MODES
from segments.models import ParentSegment, Segment
from segments.serializers import (
    ImportResultSerializer,
    ParentSegmentSerializer,
    ProfileUploadSerializer,
    SegmentSerializer,
)


def service_data(serializer) -> dict:
    """The fields sent, as plain data; on update the services keep the others."""
    data = {key: value for key, value in serializer.validated_data.items() if key != "workspace"}
    if "columns" in data:
        data["columns"] = [dict(column) for column in data["columns"]]
    return data


def refuse_if_activated(activations) -> None:
    """409 while activations depend on what is being deleted: deleting it would delete them
    (and their schedules) as a side effect nobody asked for."""
    names = list(activations.order_by("name").values_list("name", flat=True).distinct()[:5])
    if names:
        raise Conflict(f"Used by activation(s) {', '.join(names)}: delete those first.")


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

    model = ParentSegment
    serializer_class = ParentSegmentSerializer
    filterset_class = ParentSegmentFilter

    def perform_create(self, serializer):
        serializer.instance = services.create_parent_segment(
            workspace=self.workspace, data=service_data(serializer)
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_parent_segment(
            serializer.instance, data=service_data(serializer)
        )

    def perform_destroy(self, instance):
        refuse_if_activated(Activation.objects.filter(segment__parent_segment=instance))
        instance.delete()

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
            ),
            OpenApiParameter(
                "allow_empty",
                bool,
                description=(
                    "true confirms that a file with a header and no rows may empty the "
                    "parent segment in replace mode (refused otherwise)."
                ),
            ),
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
        if getattr(request._request, "upload_too_large", False):
            raise PayloadTooLarge(upload_limit_message())
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
        allow_empty = request.query_params.get("allow_empty", "false").lower()
        if allow_empty not in ("true", "false"):
            file.close()
            raise exceptions.ValidationError({"allow_empty": ["Must be true or false."]})
        try:
            result = services.import_profiles_file(
                parent_segment=parent,
                file=file,
                mode=request.query_params.get("mode", "replace"),
                allow_empty=allow_empty == "true",
            )
        finally:
            file.close()
        body = ImportResultSerializer(result).data
        return Response(body, status=status.HTTP_200_OK if result.ok else 400)


class SegmentViewSet(WorkspaceScopedModelViewSet):
    """Audiences defined by rules over a parent segment; `size` is counted on every read."""

    model = Segment
    serializer_class = SegmentSerializer
    filterset_class = SegmentFilter

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

    def perform_destroy(self, instance):
        refuse_if_activated(instance.activations.all())
        instance.delete()
