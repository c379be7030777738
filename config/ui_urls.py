"""The web UI's URLs: sign in and out, the workspace switcher, and each app's pages."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from common.api.throttling import throttle_failed_logins
from segments.views import home
from workspaces.views import switch_workspace

urlpatterns = [
    path("", home, name="home"),
    path("login/", throttle_failed_logins(auth_views.LoginView.as_view()), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("workspace/", switch_workspace, name="workspace-switch"),
    path("", include("segments.urls")),
    path("", include("activations.urls")),
    path("", include("connectors.urls")),
    path("", include("sources.urls")),
]
