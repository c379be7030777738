"""The REST API router (/api/v1/)."""

urlpatterns: list = []
