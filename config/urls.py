"""Root URLs: the admin, the REST API under /api/v1/, and the web UI."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("", include("config.ui_urls")),
]
