"""Audience Studio URLs: parent segments under /audience/, segments under /segments/."""

from django.urls import path

from . import views

app_name = "segments"

urlpatterns = [
    path("audience/", views.parent_list, name="parent-list"),
    path("audience/new/", views.parent_create, name="parent-create"),
    path("audience/new/from-source/", views.parent_from_source, name="parent-from-source"),
    path("audience/new/infer/", views.parent_infer_columns, name="parent-infer"),
    path("audience/<int:pk>/refresh/", views.parent_refresh, name="parent-refresh"),
    path("audience/<int:pk>/", views.parent_detail, name="parent-detail"),
    path("audience/<int:pk>/edit/", views.parent_edit, name="parent-edit"),
    path("audience/<int:pk>/upload/", views.parent_upload, name="parent-upload"),
    path("audience/<int:pk>/delete/", views.parent_delete, name="parent-delete"),
    path("segments/", views.segment_list, name="segment-list"),
    path("segments/new/", views.segment_create, name="segment-create"),
    path("segments/audience-size/", views.audience_size, name="audience-size"),
    path("segments/<int:pk>/", views.segment_detail, name="segment-detail"),
    path("segments/<int:pk>/edit/", views.segment_edit, name="segment-edit"),
    path("segments/<int:pk>/size/", views.segment_size, name="segment-size"),
    path("segments/<int:pk>/sample/", views.segment_sample, name="segment-sample"),
    path("segments/<int:pk>/delete/", views.segment_delete, name="segment-delete"),
]
