"""Activation and run URLs. Mails link to a run at /activations/<id>/runs/<run_id>/."""

from django.urls import path

from . import sync_views, views

app_name = "activations"

urlpatterns = [
    path("activations/", views.activation_list, name="list"),
    path("activations/new/", views.activation_create, name="create"),
    path("activations/preview/", views.mapping_preview, name="preview"),
    path("activations/schedule-preview/", views.schedule_preview, name="schedule-preview"),
    path("activations/check/", views.activation_check, name="check"),
    path("activations/<int:pk>/", views.activation_detail, name="detail"),
    path("activations/<int:pk>/test-run/", views.activation_test_run, name="test-run"),
    path("activations/<int:pk>/edit/", views.activation_edit, name="edit"),
    path("activations/<int:pk>/enabled/", views.activation_set_enabled, name="set-enabled"),
    path("activations/<int:pk>/run/", views.activation_run, name="run"),
    path("activations/<int:pk>/delete/", views.activation_delete, name="delete"),
    path("activations/<int:pk>/dry-run/", sync_views.dry_run_panel, name="dry-run"),
    path("activations/<int:pk>/full-resync/", sync_views.full_resync, name="full-resync"),
    path("activations/<int:pk>/runs/", views.run_history, name="run-history"),
    path("activations/<int:pk>/runs/<int:run_id>/", views.run_detail, name="run-detail"),
    path("activations/<int:pk>/runs/<int:run_id>/cancel/", views.run_cancel, name="run-cancel"),
    path("activations/<int:pk>/runs/<int:run_id>/retry/", sync_views.run_retry, name="run-retry"),
    path(
        "activations/<int:pk>/runs/<int:run_id>/failed-rows.csv",
        views.run_failed_rows,
        name="run-failed-rows",
    ),
]
