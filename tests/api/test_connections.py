"""Connections over the API: secrets are write-only, test logs in to the emulator."""

import pytest

from activations.models import Activation
from connectors.models import Connection
from tests.api.conftest import client_for
from tests.factories import (
    connection_body,
    make_activation,
    make_connection,
    make_parent_segment,
    make_segment,
)

URL = "/api/v1/connections/"


def test_creates_a_connection_and_never_returns_its_secrets(workspace, owner_client):
    response = owner_client.post(
        URL, connection_body(retry_initial_delay=2.5, retry_limit=5), format="json"
    )

    assert response.status_code == 201
    connection = Connection.objects.get()
    assert response.json() == {
        "id": connection.pk,
        "workspace": workspace.pk,
        "name": "Production",
        "type": "salesforce",
        "login_url": "https://login.salesforce.com",
        "auth_method": "credentials",
        "username": "marketer@example.com",
        "client_id": "",
        "retry_initial_delay": 2.5,
        "retry_limit": 5,
        "password": True,
        "security_token": True,
        "client_secret": False,
        "refresh_token": False,
        "session_id": False,
        "secrets": {
            "password": True,
            "security_token": True,
            "client_secret": False,
            "refresh_token": False,
            "session_id": False,
        },
        "created_at": response.json()["created_at"],
        "updated_at": response.json()["updated_at"],
    }
    assert "hunter2" not in response.content.decode()
    assert "TOKEN123" not in response.content.decode()
    assert (connection.password, connection.security_token) == ("hunter2", "TOKEN123")


def test_secrets_never_appear_when_reading(workspace, owner_client):
    connection = make_connection(workspace=workspace)

    listing = owner_client.get(URL)
    detail = owner_client.get(f"{URL}{connection.pk}/")

    for response in (listing, detail):
        assert response.status_code == 200
        assert "hunter2" not in response.content.decode()
        assert "TOKEN123" not in response.content.decode()
    assert detail.json()["secrets"]["password"] is True


def test_update_without_secrets_keeps_the_stored_ones(workspace, owner_client):
    connection = make_connection(workspace=workspace)

    response = owner_client.patch(
        f"{URL}{connection.pk}/", {"name": "Renamed", "password": ""}, format="json"
    )

    assert response.status_code == 200
    connection.refresh_from_db()
    assert (connection.name, connection.password) == ("Renamed", "hunter2")


def test_update_replaces_a_secret_that_is_given(workspace, owner_client):
    connection = make_connection(workspace=workspace)

    response = owner_client.patch(
        f"{URL}{connection.pk}/", {"password": "new-password"}, format="json"
    )

    assert response.status_code == 200
    connection.refresh_from_db()
    assert connection.password == "new-password"


def test_invalid_settings_are_named_and_nothing_is_saved(workspace, owner_client):
    response = owner_client.post(
        URL,
        {
            "name": "Bad",
            "type": "hubspot",
            "login_url": "https://example.com",
            "auth_method": "credentials",
            "retry_limit": 99,
            "colour": "blue",
        },
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == ['"hubspot" is not a valid choice.']
    assert body["colour"] == ["unknown field"]
    assert not Connection.objects.exists()


def test_service_errors_are_keyed_by_api_field(workspace, owner_client):
    response = owner_client.post(
        URL,
        {"name": "No password", "username": "someone@example.com", "retry_limit": 99},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "password": ["Enter the password."],
        "retry_limit": ["Enter a whole number from 0 to 10."],
    }
    assert not Connection.objects.exists()


def test_test_action_reports_a_working_login(workspace, owner_client, salesforce_emulator):
    connection = make_connection(workspace=workspace, login_url=salesforce_emulator.url)

    response = owner_client.post(f"{URL}{connection.pk}/test/")

    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_test_action_reports_a_failing_login(workspace, owner_client, salesforce_emulator):
    connection = make_connection(
        workspace=workspace, login_url=salesforce_emulator.url, password="wrong"
    )

    response = owner_client.post(f"{URL}{connection.pk}/test/")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["error"]
    assert "wrong" not in body["error"]


def test_viewers_may_test_a_connection(workspace, viewer_client, salesforce_emulator):
    connection = make_connection(workspace=workspace, login_url=salesforce_emulator.url)

    response = viewer_client.post(f"{URL}{connection.pk}/test/")

    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_a_connection_used_by_an_activation_cannot_be_deleted(workspace, owner_client):
    connection = make_connection(workspace=workspace)
    segment = make_segment(parent=make_parent_segment(workspace=workspace))
    make_activation(segment=segment, connection=connection, name="Weekly push")

    response = owner_client.delete(f"{URL}{connection.pk}/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Still in use by: Weekly push. Delete or change those first."
    }
    assert Connection.objects.filter(pk=connection.pk).exists()
    assert Activation.objects.count() == 1


def test_an_unused_connection_is_deleted(workspace, owner_client):
    connection = make_connection(workspace=workspace)

    response = owner_client.delete(f"{URL}{connection.pk}/")

    assert response.status_code == 204
    assert not Connection.objects.exists()


@pytest.mark.parametrize(
    ("workspace_value", "message"),
    [
        ("abc", "A valid integer is required."),
        (True, "A valid integer is required."),
        ([1], "A valid integer is required."),
        (0, "Ensure this value is greater than or equal to 1."),
    ],
)
def test_a_malformed_workspace_is_refused(workspace, owner_client, workspace_value, message):
    response = owner_client.post(
        URL,
        {"workspace": workspace_value, "name": "X", "username": "u", "password": "p"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"workspace": [message]}
    assert not Connection.objects.exists()


def test_a_null_workspace_means_the_users_only_one(workspace, owner_client):
    response = owner_client.post(
        URL, {"workspace": None, "name": "X", "username": "u", "password": "p"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["workspace"] == workspace.pk


def test_workspace_is_required_when_the_user_has_several(workspace, other_workspace, owner):
    from workspaces.models import Membership

    Membership.objects.create(workspace=other_workspace, user=owner, role="editor")

    response = client_for(owner).post(
        URL, {"name": "X", "username": "u", "password": "p"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"workspace": ["Required: you belong to several workspaces."]}


def test_workspace_chooses_among_several(workspace, other_workspace, owner):
    from workspaces.models import Membership

    Membership.objects.create(workspace=other_workspace, user=owner, role="editor")

    response = client_for(owner).post(
        URL,
        {"workspace": other_workspace.pk, "name": "X", "username": "u", "password": "p"},
        format="json",
    )

    assert response.status_code == 201
    assert Connection.objects.get().workspace == other_workspace


def test_another_teams_workspace_cannot_be_written_to(workspace, other_workspace, owner_client):
    response = owner_client.post(
        URL,
        {"workspace": other_workspace.pk, "name": "X", "username": "u", "password": "p"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"workspace": [f"No workspace {other_workspace.pk} among yours."]}
    assert not Connection.objects.exists()


def test_workspace_cannot_be_changed(workspace, other_workspace, owner):
    from workspaces.models import Membership

    Membership.objects.create(workspace=other_workspace, user=owner, role="owner")
    connection = make_connection(workspace=workspace)

    response = client_for(owner).patch(
        f"{URL}{connection.pk}/", {"workspace": other_workspace.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "workspace": ["Cannot be changed: create a copy in the other workspace."]
    }
