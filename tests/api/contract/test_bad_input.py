"""The REST API contract of issue 5, bad input.

Each test reads one sentence of the contract and drives the API as a script would."""

import pytest

from tests.api.contract.helpers import API, minimal_activation


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"name": "\xff\xfe"}', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"null", "application/json"),
        (b"name=x", "application/x-www-form-urlencoded"),
        (b"<xml/>", "application/xml"),
    ],
)
def test_malformed_bodies_are_4xx_json(client, body, content_type):
    for resource in ("parent-segments", "segments", "connections", "activations"):
        response = client.post(f"{API}/{resource}/", data=body, content_type=content_type)
        assert 400 <= response.status_code < 500, (resource, response.status_code)
        assert isinstance(response.json(), dict)


@pytest.mark.parametrize(
    "overrides",
    [
        {"export": "append"},
        {"export": {"mode": 1, "object": ["Contact"]}},
        {"output_mapping": []},
        {"output_mapping": {"columns": "email"}},
        {"output_mapping": {"columns": [{"source": 5, "output": None}]}},
        {"output_mapping": {"strings": [{"output": "X__c", "parts": "abc"}]}},
        {"output_mapping": {"strings": [{"output": "X__c", "parts": [{"type": "moon"}]}]}},
        {"schedule": "daily"},
        {"schedule": {"type": "cron", "cron": 5}},
        {"notifications": {"emails": "a@example.com"}},
        {"segment": "one"},
        {"segment": 10**30},
        {"name": ""},
        {"name": "x" * 10_000},
        {"enabled": "maybe"},
        {"colour": "red"},
    ],
)
def test_wrong_types_are_a_400_not_a_500(client, everyone, connection, overrides):
    response = client.post(
        f"{API}/activations/", minimal_activation(everyone, connection, **overrides), format="json"
    )

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert response.json()


def test_unknown_fields_are_named(client, everyone, connection):
    response = client.post(
        f"{API}/activations/",
        minimal_activation(everyone, connection, colour="red"),
        format="json",
    )

    assert response.status_code == 400
    assert "colour" in response.json()


def test_a_huge_body_is_refused(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = client.post(
        f"{API}/segments/",
        data=b'{"name": "' + b"x" * 5000 + b'"}',
        content_type="application/json",
    )

    assert response.status_code == 413
    assert "detail" in response.json()


def test_a_missing_trailing_slash_is_a_json_404(client):
    response = client.get(f"{API}/activations")

    assert response.status_code == 404
    assert "detail" in response.json()
