"""Connection URLs, including the OAuth callback registered in the Salesforce connected app."""

from django.urls import path

from . import catalog_views, views

app_name = "connectors"

urlpatterns = [
    path("connections/", views.connection_list, name="list"),
    path("connections/new/", views.connection_create, name="create"),
    path("connections/test/", views.connection_test, name="test-selected"),
    path("connections/oauth/callback/", views.oauth_callback, name="oauth-callback"),
    path("connections/<int:pk>/", views.connection_edit, name="edit"),
    path("connections/<int:pk>/test/", views.connection_test, name="test"),
    path("connections/<int:pk>/delete/", views.connection_delete, name="delete"),
    path("connections/<int:pk>/oauth/", views.oauth_start, name="oauth-start"),
    path("connections/<int:pk>/objects/", catalog_views.connection_objects, name="objects"),
    path(
        "connections/<int:pk>/objects/<str:object_name>/fields/",
        catalog_views.object_fields,
        name="object-fields",
    ),
]
