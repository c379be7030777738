"""Root URLs: the admin, the REST API under /api/v1/, and the web UI."""

from django.contrib import admin
from django.urls import include, path

from common.api.throttling import throttle_failed_logins

urlpatterns = [
    # The admin's sign-in counts failed attempts like /login/ (before the admin's own URLs).
    path("admin/login/", throttle_failed_logins(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("", include("config.ui_urls")),
]
