"""Source pages under /sources/."""

from django.urls import path

from . import views

app_name = "sources"

urlpatterns = [
    path("sources/", views.source_list, name="list"),
    path("sources/new/", views.source_create, name="create"),
    path("sources/<int:pk>/", views.source_detail, name="detail"),
    path("sources/<int:pk>/test/", views.source_test, name="test"),
    path("sources/<int:pk>/sample/", views.source_sample, name="sample"),
]
