"""JSON for the activation editor's pickers: a connection's objects and an object's fields."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404

from . import catalog
from .models import Connection


def _connection(request, pk: int) -> Connection:
    return get_object_or_404(Connection.objects.visible_to(request.user), pk=pk)


def _refresh(request) -> bool:
    return request.GET.get("refresh") in ("1", "true")


@login_required
def connection_objects(request: HttpRequest, pk: int) -> JsonResponse:
    """{"objects": [...]} or, when Salesforce cannot answer, 502 {"error": "..."}."""
    connection = _connection(request, pk)
    try:
        items = catalog.objects(connection, refresh=_refresh(request))
    except catalog.CatalogError as error:
        return JsonResponse({"error": error.message}, status=502)
    return JsonResponse({"objects": items})


@login_required
def object_fields(request: HttpRequest, pk: int, object_name: str) -> JsonResponse:
    """{"object": name, "fields": [...]}; 404 {"error"} for an unknown object."""
    connection = _connection(request, pk)
    api_version = request.GET.get("api_version") or "59.0"
    try:
        items = catalog.fields(
            connection, object_name, api_version=api_version, refresh=_refresh(request)
        )
    except catalog.CatalogError as error:
        status = {"export.object": 404, "export.api_version": 400}.get(error.field, 502)
        return JsonResponse({"error": error.message}, status=status)
    return JsonResponse({"object": object_name, "fields": items})
