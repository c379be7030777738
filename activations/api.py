"""API views for activations (with preview, validate and run) and their runs."""

import django_filters
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from activations import dryrun, fingerprints, retry, services
from activations.exports import failed_rows_csv
from activations.models import Activation, Run
from activations.serializers import (
    ActivationSerializer,
    DryRunSerializer,
    PreviewOptionsSerializer,
    PreviewSerializer,
    RunOptionsSerializer,
    RunSerializer,
    ValidationResultSerializer,
)
from common.api.errors import Conflict, invalid_input_errors
from common.api.filters import IdFilter
from common.api.idempotency import IDEMPOTENCY_KEY_HEADER, idempotency_key
from common.api.negotiation import FirstRendererNegotiation
from common.api.pagination import PageNumberPagination
from common.api.renderers import CSVRenderer
from common.api.schema import ERROR_SCHEMA
from common.api.throttling import RunCreateThrottle
from common.validation import InvalidInput
from connectors.base import ConnectorError
from connectors.services import without_secrets
from workspaces.viewsets import WorkspaceScopedModelViewSet, WorkspaceScopedViewSetMixin


class ActivationFilter(django_filters.FilterSet):
    # Ids only, never "no such object": that would tell apart other teams' ids.
    workspace = IdFilter()
    segment = IdFilter()
    connection = IdFilter()
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = Activation
        fields = ["workspace", "segment", "connection", "enabled"]


class ActivationViewSet(WorkspaceScopedModelViewSet):
    """Activations: a segment, a connection, export settings, an output mapping, a schedule
    and notifications. Preview and validate change nothing, so viewers may call them."""

    model = Activation
    serializer_class = ActivationSerializer
    filterset_class = ActivationFilter
    read_only_actions = ("preview", "validate", "dry_run")

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related("segment__parent_segment", "connection", "workspace")
        )

    def perform_create(self, serializer):
        serializer.instance = services.create_activation(
            workspace=self.workspace, data=serializer.service_data()
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_activation(
            serializer.instance, data=serializer.service_data()
        )

    def perform_destroy(self, instance):
        services.delete_activation(instance)

    @extend_schema(request=PreviewOptionsSerializer, responses={200: PreviewSerializer})
    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        """The first rows (10 by default, `limit` up to 100) exactly as they would be sent."""
        activation = self.get_object()
        options = PreviewOptionsSerializer(data=request.data or {})
        options.is_valid(raise_exception=True)
        columns, rows = services.preview(activation, limit=options.validated_data["limit"])
        return Response({"columns": columns, "rows": rows})

    @extend_schema(request=None, responses={200: ValidationResultSerializer})
    @action(detail=True, methods=["post"])
    def validate(self, request, pk=None):
        """Check the export settings and output columns against the Salesforce object's
        describe: {"ok": true}, or {"ok": false, "error", "field"} (or "errors" by path when
        the mapping no longer fits the parent segment)."""
        activation = self.get_object()
        try:
            services.check_destination(activation)
        except InvalidInput as invalid:
            errors = invalid_input_errors(invalid)
            first = next(iter(errors.values()))[0]
            return Response({"ok": False, "error": first, "errors": errors})
        except ConnectorError as error:
            message = without_secrets(activation.connection, error.message)
            return Response({"ok": False, "error": message, "field": error.field})
        return Response({"ok": True})

    @extend_schema(
        methods=["POST"],
        request=RunOptionsSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_KEY_HEADER,
                str,
                OpenApiParameter.HEADER,
                description=(
                    "Any unique string (1-255 printable ASCII). A request with a key already "
                    "used for this activation returns that run (200) instead of a new one."
                ),
            )
        ],
        responses={
            202: OpenApiResponse(RunSerializer, description="The queued run"),
            200: OpenApiResponse(RunSerializer, description="The run of this Idempotency-Key"),
        },
    )
    @extend_schema(methods=["GET"], responses={200: RunSerializer(many=True)})
    @action(
        detail=True,
        methods=["get", "post"],
        throttle_classes=[RunCreateThrottle],
        pagination_class=PageNumberPagination,
        filter_backends=[],
    )
    def runs(self, request, pk=None):
        """GET: this activation's runs, newest first. POST: queue a run now (202); 409 while
        another run is queued or running."""
        activation = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(activation.runs.select_related("activation"))
            return self.get_paginated_response(RunSerializer(page, many=True).data)
        options = RunOptionsSerializer(data=request.data or {})
        options.is_valid(raise_exception=True)
        test_rows = options.validated_data.get("test_rows")
        key = idempotency_key(request)
        if key:
            existing = activation.runs.filter(idempotency_key=key).first()
            if existing is not None:
                return Response(RunSerializer(existing).data, status=status.HTTP_200_OK)
        try:
            run = services.request_run(
                activation=activation,
                trigger=Run.Trigger.API if test_rows is None else Run.Trigger.TEST,
                user=request.user,
                idempotency_key=key,
                row_limit=test_rows,
            )
        except services.RunConflict as conflict:
            raise Conflict(
                f"{conflict.message} Wait for it to finish, or cancel it "
                f"(POST /api/v1/runs/{conflict.run.pk}/cancel/)."
            ) from None
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={202: OpenApiResponse(RunSerializer, description="The queued full run")},
    )
    @action(
        detail=True, methods=["post"], url_path="full-resync", throttle_classes=[RunCreateThrottle]
    )
    def full_resync(self, request, pk=None):
        """Forget what Salesforce is known to have (the fingerprints of incremental sync) and
        queue a run, which sends every row (202); 409 while another run is active."""
        activation = self.get_object()
        try:
            run = fingerprints.request_full_resync(activation, user=request.user)
        except services.RunConflict as conflict:
            raise Conflict(conflict.message) from None
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={
            200: DryRunSerializer,
            400: OpenApiResponse(
                # Or a refused query parameter, keyed by its name like any input error.
                {"oneOf": [{"$ref": "#/components/schemas/ValidationResult"}, ERROR_SCHEMA]},
                description='The mapping or the destination does not fit: {"ok": false, '
                '"error", "field"} or "errors" by path.',
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request, pk=None):
        """What a run would do now, without writing anything to Salesforce or changing
        anything here: rows to insert, update, delete, leave unchanged, and those our own
        checks refuse; the Salesforce jobs and API calls it would take, next to the org's
        limits. Key lookups run as read-only query jobs. 400 with errors by path when the
        mapping or the destination does not fit."""
        activation = self.get_object()
        try:
            report = dryrun.dry_run(activation)
        except InvalidInput as invalid:
            errors = invalid_input_errors(invalid)
            first = next(iter(errors.values()))[0]
            return Response(
                {"ok": False, "error": first, "errors": errors},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except ConnectorError as error:
            message = without_secrets(activation.connection, error.message)
            return Response(
                {"ok": False, "error": message, "field": error.field},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(report)


class RunFilter(django_filters.FilterSet):
    workspace = IdFilter(field_name="activation__workspace")
    activation = IdFilter()
    status = django_filters.ChoiceFilter(choices=Run.Status.choices)
    trigger = django_filters.ChoiceFilter(choices=Run.Trigger.choices)

    class Meta:
        model = Run
        fields = ["workspace", "activation", "status", "trigger"]


class RunViewSet(WorkspaceScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Run history (read-only), the failed rows as CSV, and cancelling."""

    model = Run
    serializer_class = RunSerializer
    filterset_class = RunFilter

    def get_queryset(self):
        return Run.objects.filter(
            activation__in=Activation.objects.visible_to(self.request.user)
        ).select_related("activation")

    def workspace_id_of(self, run) -> int:
        return run.activation.workspace_id

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(
        detail=True,
        methods=["get"],
        url_path="failed-rows",
        renderer_classes=[JSONRenderer, CSVRenderer],
        content_negotiation_class=FirstRendererNegotiation,
    )
    def failed_rows(self, request, pk=None):
        """The rows Salesforce refused, as CSV: the run's columns plus `sf__Error`."""
        run = self.get_object()
        response = StreamingHttpResponse(
            failed_rows_csv(run), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-failed-rows.csv"'
        return response

    @extend_schema(request=None, responses={200: RunSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a queued run at once, or ask a running one to stop before its next batch;
        409 if the run has already finished."""
        run = self.get_object()
        if not run.is_active:
            raise Conflict(f"Run {run.pk} has already finished ({run.status}).")
        run = services.cancel_run(run, user=request.user)
        return Response(RunSerializer(run).data)

    @extend_schema(
        request=None,
        responses={202: OpenApiResponse(RunSerializer, description="The queued retry run")},
    )
    @action(
        detail=True, methods=["post"], url_path="retry-failed", throttle_classes=[RunCreateThrottle]
    )
    def retry_failed(self, request, pk=None):
        """Queue a run (trigger "retry") that sends exactly the rows this run failed, with
        their current values; rows that left the segment since are reported in its log.
        409 for a run still going, one without failed rows, or while another run is active."""
        run = self.get_object()
        try:
            new_run = retry.request_retry(run, user=request.user)
        except retry.NothingToRetry as nothing:
            raise Conflict(str(nothing)) from None
        except services.RunConflict as conflict:
            raise Conflict(conflict.message) from None
        return Response(RunSerializer(new_run).data, status=status.HTTP_202_ACCEPTED)
