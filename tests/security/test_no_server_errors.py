"""The fourteen requests that answered 500 in the attack report, each now a 4xx that says
what is wrong; and the one id parser they all go through."""

import json

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from common.ids import MAX_ID, parse_id

SUPERSCRIPT_TWO = "²"  # "²".isdigit() is true, int("²") raises


def api_client_for(user) -> APIClient:
    _, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, 7),
        ("42", 42),
        (str(MAX_ID), MAX_ID),
        (SUPERSCRIPT_TWO, None),
        ("١٢", None),  # Arabic-Indic digits
        ("1e400", None),
        (float("inf"), None),
        (1.0, None),
        (True, None),
        ("0", None),
        (0, None),
        (-3, None),
        ("-3", None),
        (" 4", None),
        (str(MAX_ID + 1), None),
        ("9" * 30, None),
        (None, None),
        ("", None),
    ],
)
def test_an_id_is_ascii_digits_in_the_64_bit_range(value, expected):
    assert parse_id(value) == expected


def test_api_related_field_with_a_non_ascii_digit_is_a_400(team):
    client = api_client_for(team["owner"])
    response = client.post(
        "/api/v1/segments/",
        {"parent_segment": SUPERSCRIPT_TWO, "name": "x", "rules": {"type": "and"}},
        format="json",
    )
    assert response.status_code == 400
    assert "parent_segment" in response.json()


def test_api_activation_segment_with_a_non_ascii_digit_is_a_400(team):
    client = api_client_for(team["owner"])
    response = client.post(
        "/api/v1/activations/",
        {"segment": SUPERSCRIPT_TWO, "connection": SUPERSCRIPT_TWO, "name": "x"},
        format="json",
    )
    assert response.status_code == 400
    assert "segment" in response.json()


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/connections/{SUPERSCRIPT_TWO}/test/",
        f"/api/v1/segments/{SUPERSCRIPT_TWO}/",
        f"/api/v1/workspaces/{SUPERSCRIPT_TWO}/",
        f"/api/v1/runs/{SUPERSCRIPT_TWO}/",
    ],
)
def test_api_object_urls_with_a_non_ascii_digit_are_404(team, path):
    client = api_client_for(team["owner"])
    response = client.post(path) if path.endswith("test/") else client.get(path)
    assert response.status_code == 404
    assert "detail" in response.json()


def test_ui_connection_test_with_a_non_ascii_digit_is_a_400(owner_client):
    response = owner_client.post("/connections/test/", {"connection": SUPERSCRIPT_TWO})
    assert response.status_code == 400
    assert response.context["error"] == "Choose a connection first."


def test_activation_editor_segment_with_a_non_ascii_digit_is_a_404(owner_client):
    assert owner_client.get(f"/activations/new/?segment={SUPERSCRIPT_TWO}").status_code == 404
    response = owner_client.post("/activations/new/", {"segment": SUPERSCRIPT_TWO})
    assert response.status_code == 404


def test_activation_editor_copy_with_a_non_ascii_digit_is_a_404(owner_client, team):
    url = f"/activations/new/?segment={team['segment'].pk}&copy={SUPERSCRIPT_TWO}"
    assert owner_client.get(url).status_code == 404


def test_activation_preview_with_a_non_ascii_digit_is_a_404(owner_client):
    response = owner_client.post("/activations/preview/", {"segment": SUPERSCRIPT_TWO})
    assert response.status_code == 404


def test_workspace_switcher_with_a_non_ascii_digit_is_a_404(owner_client):
    response = owner_client.post("/workspace/", {"workspace": SUPERSCRIPT_TWO})
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/segments/", "/activations/", "/audience/", "/connections/"])
def test_list_filter_with_a_nul_is_a_400(owner_client, path):
    response = owner_client.get(path, {"q": "a\x00b"})
    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_api_list_filter_with_a_nul_is_a_400(team):
    client = api_client_for(team["owner"])
    response = client.get("/api/v1/segments/?name=%00")
    assert response.status_code == 400
    assert "NUL" in json.dumps(response.json())


def audience_size(client, body: str):
    return client.post("/segments/audience-size/", body, content_type="application/json")


@pytest.mark.parametrize(
    ("operator", "value", "path"),
    [
        ("eq", "JP\u0000", "conditions[0].value"),
        ("contains", "\u0000", "conditions[0].value"),
        ("in", ["JP", "\u0000"], "conditions[0].value[1]"),
        ("eq", "\ud800", "conditions[0].value"),
        ("starts_with", "a\udfff", "conditions[0].value"),
    ],
)
def test_rule_values_with_nul_or_lone_surrogates_are_a_400_by_path(
    owner_client, team, operator, value, path
):
    body = {
        "parent_segment": team["parent"].pk,
        "rules": {
            "type": "and",
            "conditions": [{"column": "country", "operator": operator, "value": value}],
        },
    }
    # json.dumps writes "\ud800" as the escape a browser would send.
    response = audience_size(owner_client, json.dumps(body))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [path]


def test_api_rule_value_with_a_lone_surrogate_is_a_400(team):
    client = api_client_for(team["owner"])
    body = json.dumps(
        {
            "parent_segment": team["parent"].pk,
            "name": "Surrogate",
            "rules": {
                "type": "and",
                "conditions": [{"column": "country", "operator": "eq", "value": "\ud800"}],
            },
        }
    )
    response = client.post("/api/v1/segments/", body, content_type="application/json")
    assert response.status_code == 400
    assert "surrogate" in response.json()["detail"]


@pytest.mark.parametrize("parent_id", ["1e400", "-1e400", "1e18", '"²"', "true", "[1]"])
def test_audience_size_with_a_parent_id_that_is_no_id_is_a_400(owner_client, parent_id):
    body = '{"parent_segment": ' + parent_id + ', "rules": {"type": "and", "conditions": []}}'
    response = audience_size(owner_client, body)
    assert response.status_code == 400
    assert response.json()["errors"]


def test_a_number_beyond_64_bits_in_a_rule_is_a_400(owner_client, team):
    body = {
        "parent_segment": team["parent"].pk,
        "rules": {
            "type": "and",
            "conditions": [{"column": "age", "operator": "eq", "value": 10**30}],
        },
    }
    response = audience_size(owner_client, json.dumps(body))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["conditions[0].value"]


@pytest.mark.parametrize("value", ["1e400", SUPERSCRIPT_TWO, "9" * 30, "-1"])
def test_parent_segment_ids_that_are_no_ids_are_4xx_everywhere(owner_client, team, value):
    api = api_client_for(team["owner"])
    assert api.get("/api/v1/segments/", {"parent_segment": value}).status_code == 400
    assert api.get(f"/api/v1/parent-segments/{value}/").status_code == 404
    assert owner_client.get("/segments/new/", {"parent": value}).status_code < 500
    response = owner_client.post(
        "/segments/new/",
        {"parent_segment": value, "name": "x", "rules": '{"type": "and", "conditions": []}'},
    )
    assert response.status_code == 400
