"""The REST API (/api/v1/): one router for the resources, token auth, the OpenAPI schema."""

from django.http import JsonResponse
from django.urls import Resolver404, path, re_path, resolve
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework.routers import DefaultRouter

from activations.api import ActivationViewSet, RunViewSet
from connectors.api import ConnectionViewSet
from segments.api import ParentSegmentViewSet, RefreshViewSet, SegmentViewSet
from sources.api import SourceViewSet
from workspaces.api import LogoutAllView, LogoutView, TokenView, WorkspaceViewSet


class SwaggerView(SpectacularSwaggerView):
    # Its HTML renderer has no template for an OPTIONS answer (a 500): only GET is served.
    http_method_names = ["get", "head"]


class RedocView(SpectacularRedocView):
    http_method_names = ["get", "head"]


def endpoint_not_found(request, path=""):
    """A JSON 404 for any other path under /api/v1/, like every other API error."""
    message = f"No API endpoint at {request.path}."
    if not request.path.endswith("/"):
        try:
            resolve(request.path + "/")
        except Resolver404:
            pass
        else:
            message += f" Did you mean {request.path}/ (with the slash)?"
    return JsonResponse({"detail": message}, status=404)


router = DefaultRouter()
router.register("workspaces", WorkspaceViewSet, basename="workspace")
router.register("parent-segments", ParentSegmentViewSet, basename="parent-segment")
router.register("segments", SegmentViewSet, basename="segment")
router.register("refreshes", RefreshViewSet, basename="refresh")
router.register("sources", SourceViewSet, basename="source")
router.register("connections", ConnectionViewSet, basename="connection")
router.register("activations", ActivationViewSet, basename="activation")
router.register("runs", RunViewSet, basename="run")

app_name = "api"
urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="token"),
    path("auth/logout/", LogoutView.as_view(), name="logout"),
    path("auth/logout-all/", LogoutAllView.as_view(), name="logout-all"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", RedocView.as_view(url_name="api:schema"), name="redoc"),
    *router.urls,
    re_path(r"^(?P<path>.*)$", endpoint_not_found),
]
