"""The OpenAPI schema, the documentation pages, and the browsable API."""

import pytest
from rest_framework.test import APIClient

from activations.models import Run
from tests.factories import make_activation, make_connection, make_parent_segment, make_segment


def test_schema_describes_every_resource(db):
    response = APIClient().get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"] == "3.0.3"
    assert {
        "/api/v1/auth/token/",
        "/api/v1/workspaces/",
        "/api/v1/parent-segments/",
        "/api/v1/parent-segments/{id}/profiles/",
        "/api/v1/segments/",
        "/api/v1/connections/",
        "/api/v1/connections/{id}/test/",
        "/api/v1/activations/",
        "/api/v1/activations/{id}/preview/",
        "/api/v1/activations/{id}/validate/",
        "/api/v1/activations/{id}/runs/",
        "/api/v1/runs/",
        "/api/v1/runs/{id}/failed-rows/",
        "/api/v1/runs/{id}/cancel/",
    } <= set(schema["paths"])
    assert "knoxApiToken" in schema["components"]["securitySchemes"]


def test_every_operation_documents_its_400_as_the_common_error_shape(db):
    # Any query parameter can be refused (a NUL in its name or value answers
    # {"<name>": ["…"]}), so no operation may narrow its 400 to {"detail"} alone.
    schema = APIClient().get("/api/v1/schema/", {"format": "json"}).json()

    error = {"$ref": "#/components/schemas/Error"}
    error_shape = schema["components"]["schemas"]["Error"]

    def allows_errors(answer: dict) -> bool:
        return answer == error or any(
            choice in (error, error_shape) for choice in answer.get("oneOf", [])
        )

    narrowed = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if not allows_errors(operation["responses"]["400"]["content"]["application/json"]["schema"])
    ]
    assert narrowed == []


def test_schema_marks_secrets_write_only(db):
    schema = APIClient().get("/api/v1/schema/", {"format": "json"}).json()

    response_fields = schema["components"]["schemas"]["Connection"]["properties"]
    request_fields = schema["components"]["schemas"]["ConnectionRequest"]["properties"]
    # Written as text, answered only as whether it is set.
    assert response_fields["password"]["type"] == "boolean"
    assert request_fields["password"]["type"] == "string"
    assert request_fields["password"]["writeOnly"] is True
    assert "secrets" in response_fields


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_documentation_pages_load_their_assets_from_our_static_files(db, page):
    response = APIClient().get(page)

    assert response.status_code == 200
    assert b"/static/drf_spectacular_sidecar/" in response.content
    assert b"cdn.jsdelivr.net" not in response.content


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_documentation_pages_answer_other_methods_without_a_server_error(db, page):
    assert APIClient().options(page).status_code == 405
    assert APIClient().post(page).status_code == 405


def test_browsable_api_renders_every_resource_for_a_signed_in_user(workspace, owner):
    parent = make_parent_segment(workspace=workspace)
    segment = make_segment(parent=parent)
    connection = make_connection(workspace=workspace)
    activation = make_activation(segment=segment, connection=connection)
    run = Run.objects.create(activation=activation)
    client = APIClient()
    client.login(username=owner.username, password="password")
    urls = [
        "/api/v1/",
        "/api/v1/workspaces/",
        f"/api/v1/workspaces/{workspace.pk}/",
        "/api/v1/parent-segments/",
        f"/api/v1/parent-segments/{parent.pk}/",
        "/api/v1/segments/",
        f"/api/v1/segments/{segment.pk}/",
        "/api/v1/connections/",
        f"/api/v1/connections/{connection.pk}/",
        "/api/v1/activations/",
        f"/api/v1/activations/{activation.pk}/",
        f"/api/v1/activations/{activation.pk}/runs/",
        "/api/v1/runs/",
        f"/api/v1/runs/{run.pk}/",
    ]

    for url in urls:
        page = client.get(url, HTTP_ACCEPT="text/html")
        options = client.options(url)
        assert (url, page.status_code, options.status_code) == (url, 200, 200)
        assert page["Content-Type"] == "text/html; charset=utf-8"


def test_failed_rows_are_csv_even_when_a_browser_asks_for_html(workspace, owner_client):
    segment = make_segment(parent=make_parent_segment(workspace=workspace))
    activation = make_activation(segment=segment, connection=make_connection(workspace=workspace))
    run = Run.objects.create(activation=activation, status="failed", columns=["Email"])

    response = owner_client.get(
        f"/api/v1/runs/{run.pk}/failed-rows/",
        HTTP_ACCEPT="text/html,application/xhtml+xml,application/xml;q=0.9",
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(response.streaming_content) == b"Email,sf__Error\n"
