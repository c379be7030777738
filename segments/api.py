"""API views for parent segments (with their CSV upload) and segments."""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from common.api.errors import Conflict, PayloadTooLarge
from common.api.filters import IdFilter
from common.api.parsers import CSVUploadParser
from common.api.schema import ERROR_SCHEMA
from common.uploads import upload_limit_message
from segments import inference, live, refresh, services
from segments.loading import MODES
from segments.models import ParentSegment, Refresh, Segment
from segments.serializers import (
    CSVInferenceSerializer,
    ImportResultSerializer,
    ParentSegmentSerializer,
    ProfileUploadSerializer,
    RefreshSerializer,
    SegmentSerializer,
)
from workspaces.viewsets import WorkspaceScopedModelViewSet, WorkspaceScopedViewSetMixin

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

    @extend_schema(
        request={
            "multipart/form-data": ProfileUploadSerializer,
            "text/csv": OpenApiTypes.BINARY,
        },
        responses={200: CSVInferenceSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="infer-columns",
        parser_classes=[MultiPartParser, CSVUploadParser],
    )
    def infer_columns(self, request):
        """Propose columns, types and key candidates from a CSV's header and first rows."""
        file = request.data.get("file")
        if not hasattr(file, "read"):
            raise exceptions.ValidationError(
                {"file": ["Send the CSV in the multipart field `file`, or as a text/csv body."]}
            )
        try:
            result = inference.infer_csv(file)
        except ValueError as error:
            raise exceptions.ValidationError({"file": [str(error)]}) from None
        finally:
            file.close()
        return Response(CSVInferenceSerializer(result).data)

    @extend_schema(request=None, responses={202: RefreshSerializer})
    @action(detail=True, methods=["post"], url_path="refresh")
    def refresh(self, request, pk=None):
        """Queue a refresh from the parent's source (409 while one is queued or running, or
        for a live parent, which is read in its source at each use)."""
        parent = self.get_object()
        if live.is_live(parent):
            raise Conflict(live.REFRESH_REFUSED)
        try:
            queued = refresh.request_refresh(parent)
        except refresh.RefreshRefused as refused:
            raise Conflict(str(refused)) from None
        return Response(RefreshSerializer(queued).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: RefreshSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def refreshes(self, request, pk=None):
        """The parent's refreshes, newest first."""
        parent = self.get_object()
        page = self.paginate_queryset(parent.refreshes.all())
        return self.get_paginated_response(RefreshSerializer(page, many=True).data)


class RefreshViewSet(
    WorkspaceScopedViewSetMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Refreshes of source-backed parent segments (read-only)."""

    model = Refresh
    serializer_class = RefreshSerializer

    def get_queryset(self):
        return Refresh.objects.filter(
            parent_segment__in=ParentSegment.objects.visible_to(self.request.user)
        )


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
