"""The REST API contract of issue 5, connections.

Each test reads one sentence of the contract and drives the API as a script would."""

import pytest

from tests.api.contract.helpers import API, SECRET_FIELDS, create, emulator_connection
from tests.factories import connection_body


def test_connection_has_the_contract_fields(client):
    body = create(client, "connections", connection_body(retry_initial_delay=2, retry_limit=5))

    assert set(body) >= {
        "id",
        "workspace",
        "name",
        "type",
        "login_url",
        "auth_method",
        "username",
        "client_id",
        "retry_initial_delay",
        "retry_limit",
    }
    assert body["type"] == "salesforce"
    assert body["auth_method"] == "credentials"
    assert (body["retry_initial_delay"], body["retry_limit"]) == (2, 5)


def test_connection_type_defaults_to_salesforce(connection):
    assert connection["type"] == "salesforce"


def test_connection_secrets_are_write_only_and_say_whether_they_are_set(client, connection):
    for response in (
        client.get(f"{API}/connections/{connection['id']}/"),
        client.get(f"{API}/connections/"),
    ):
        text = response.content.decode()
        assert "hunter2" not in text
        assert "TOKEN123" not in text
    body = client.get(f"{API}/connections/{connection['id']}/").json()
    assert {name: body[name] for name in SECRET_FIELDS} == {
        "password": True,
        "security_token": True,
        "client_secret": False,
        "refresh_token": False,
        "session_id": False,
    }


@pytest.mark.parametrize(
    ("auth_method", "fields"),
    [
        ("credentials", {"username": "u@example.com", "password": "pw", "security_token": "t"}),
        ("oauth", {"client_id": "id", "client_secret": "s", "refresh_token": "r"}),
        ("client_credentials", {"client_id": "id", "client_secret": "s"}),
        ("session_id", {"session_id": "00Dxx!AQ"}),
    ],
)
def test_connection_accepts_every_auth_method(client, auth_method, fields):
    login_url = (
        "https://login.salesforce.com"
        if auth_method in ("credentials", "oauth")
        else "https://acme.my.salesforce.com"
    )

    response = client.post(
        f"{API}/connections/",
        {"name": auth_method, "login_url": login_url, "auth_method": auth_method, **fields},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["auth_method"] == auth_method
    assert {name: body[name] for name in SECRET_FIELDS} == {
        name: name in fields for name in SECRET_FIELDS
    }
    for name in SECRET_FIELDS:
        if name in fields:
            assert f'"{fields[name]}"' not in response.content.decode()


def test_connection_update_without_secrets_keeps_them(client, connection):
    response = client.patch(
        f"{API}/connections/{connection['id']}/", {"name": "Renamed"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert response.json()["password"] is True


def test_connection_test_answers_ok_true(client, salesforce_emulator):
    body = emulator_connection(client, salesforce_emulator)

    response = client.post(f"{API}/connections/{body['id']}/test/")

    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_connection_test_answers_ok_false_with_the_error(client, salesforce_emulator):
    body = emulator_connection(client, salesforce_emulator, password="wrong")

    response = client.post(f"{API}/connections/{body['id']}/test/")

    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert isinstance(response.json()["error"], str)
    assert response.json()["error"]
    assert "wrong" not in response.json()["error"]


def test_connection_with_an_unknown_auth_method_is_a_400(client):
    response = client.post(
        f"{API}/connections/",
        {"name": "X", "auth_method": "kerberos", "username": "u", "password": "p"},
        format="json",
    )

    assert response.status_code == 400
    assert "auth_method" in response.json()


def test_connection_delete_answers_204(client, connection):
    response = client.delete(f"{API}/connections/{connection['id']}/")

    assert response.status_code == 204
    assert client.get(f"{API}/connections/{connection['id']}/").status_code == 404
