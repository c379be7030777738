"""Connection services: validation per auth method, secrets kept or cleared, test connection."""

import pytest

from common.validation import InvalidInput
from connectors.base import ConnectorError
from connectors.models import Connection
from connectors.salesforce.connector import SalesforceConnector
from connectors.services import create_connection, test_connection, update_connection
from tests.factories import make_app_connection, make_connection, make_workspace

pytestmark = pytest.mark.django_db

CREDENTIALS = {
    "name": "Production",
    "login_url": "https://login.salesforce.com/",
    "auth_method": "credentials",
    "username": "marketer@example.com",
    "password": "hunter2",
    "security_token": "TOKEN123",
}


def test_creates_a_credentials_connection():
    workspace = make_workspace()

    connection = create_connection(workspace=workspace, data=CREDENTIALS)

    saved = Connection.objects.get(pk=connection.pk)
    assert saved.workspace == workspace
    assert (saved.name, saved.login_url, saved.auth_method) == (
        "Production",
        "https://login.salesforce.com",
        "credentials",
    )
    assert (saved.username, saved.password, saved.security_token) == (
        "marketer@example.com",
        "hunter2",
        "TOKEN123",
    )
    assert (saved.retry_initial_delay, saved.retry_limit) == (1.0, 3)


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (
            {"auth_method": "credentials"},
            {
                "name": ["Enter a name."],
                "username": ["Enter the username."],
                "password": ["Enter the password."],
            },
        ),
        (
            {"name": "x", "auth_method": "oauth"},
            {"client_id": ["Enter the client id."], "client_secret": ["Enter the client secret."]},
        ),
        (
            {
                "name": "x",
                "auth_method": "client_credentials",
                "login_url": "https://a.my.salesforce.com",
            },
            {"client_id": ["Enter the client id."], "client_secret": ["Enter the client secret."]},
        ),
        (
            {"name": "x", "auth_method": "session_id", "login_url": "https://a.my.salesforce.com"},
            {"session_id": ["Enter the session id."]},
        ),
        (
            {"name": "x", "auth_method": "magic"},
            {"auth_method": ["Choose one of credentials, oauth, client_credentials, session_id."]},
        ),
        (
            {**CREDENTIALS, "login_url": "http://login.salesforce.com"},
            {"login_url": ["The login URL must start with https://."]},
        ),
        (
            {**CREDENTIALS, "retry_initial_delay": -1, "retry_limit": 11},
            {
                "retry_initial_delay": ["Enter between 0 and 300 seconds."],
                "retry_limit": ["Enter a whole number from 0 to 10."],
            },
        ),
        (
            {**CREDENTIALS, "retry_initial_delay": "soon", "retry_limit": 2.5},
            {
                "retry_initial_delay": ["Enter a number of seconds."],
                "retry_limit": ["Enter a whole number from 0 to 10."],
            },
        ),
        (
            {**CREDENTIALS, "name": "n" * 201},
            {"name": ["Use at most 200 characters."]},
        ),
        (
            {**CREDENTIALS, "password": 123},
            {"password": ["Enter text."]},
        ),
    ],
)
def test_refuses_incomplete_or_bad_data_and_saves_nothing(data, errors):
    with pytest.raises(InvalidInput) as raised:
        create_connection(workspace=make_workspace(), data=data)

    assert raised.value.errors == errors
    assert Connection.objects.count() == 0


def test_client_credentials_and_session_id_need_a_specific_host():
    workspace = make_workspace()

    with pytest.raises(InvalidInput) as raised:
        create_connection(
            workspace=workspace,
            data={
                "name": "x",
                "auth_method": "client_credentials",
                "login_url": "https://login.salesforce.com",
                "client_id": "id",
                "client_secret": "secret",
            },
        )
    assert raised.value.errors == {
        "login_url": [
            "The client credentials flow needs your My Domain URL "
            "(https://<domain>.my.salesforce.com), not https://login.salesforce.com."
        ]
    }
    with pytest.raises(InvalidInput) as raised:
        create_connection(
            workspace=workspace,
            data={
                "name": "x",
                "auth_method": "session_id",
                "login_url": "https://test.salesforce.com",
                "session_id": "00D!x",
            },
        )
    assert list(raised.value.errors) == ["login_url"]


def test_oauth_connection_may_be_created_before_it_is_authorized():
    connection = create_connection(
        workspace=make_workspace(),
        data={
            "name": "OAuth",
            "auth_method": "oauth",
            "client_id": "id",
            "client_secret": "secret",
        },
    )

    assert Connection.objects.get(pk=connection.pk).refresh_token == ""


def test_update_with_blank_secrets_keeps_the_stored_ones():
    connection = make_connection(workspace=make_workspace(), password="old", security_token="tok")

    update_connection(connection, data={"name": "Renamed", "password": "", "security_token": None})

    saved = Connection.objects.get(pk=connection.pk)
    assert (saved.name, saved.password, saved.security_token) == ("Renamed", "old", "tok")


def test_update_with_a_new_secret_replaces_it():
    connection = make_connection(workspace=make_workspace(), password="old")

    update_connection(connection, data={"password": "new password "})

    assert Connection.objects.get(pk=connection.pk).password == "new password "


def test_switching_auth_method_drops_the_secrets_of_the_old_one():
    connection = make_connection(workspace=make_workspace(), password="old", security_token="tok")

    update_connection(
        connection,
        data={
            "auth_method": "client_credentials",
            "login_url": "https://acme.my.salesforce.com",
            "client_id": "id",
            "client_secret": "secret",
        },
    )

    saved = Connection.objects.get(pk=connection.pk)
    assert saved.secrets_set() == {
        "password": False,
        "security_token": False,
        "client_secret": True,
        "refresh_token": False,
        "session_id": False,
    }


def test_failed_update_changes_nothing():
    connection = make_connection(workspace=make_workspace(), name="Before", password="old")

    with pytest.raises(InvalidInput):
        update_connection(connection, data={"name": "After", "password": "new", "retry_limit": 99})

    saved = Connection.objects.get(pk=connection.pk)
    assert (saved.name, saved.password, saved.retry_limit) == ("Before", "old", 3)
    assert (connection.name, connection.password) == ("Before", "old")


def test_changing_the_oauth_app_drops_the_refresh_token():
    connection = make_app_connection(
        workspace=make_workspace(),
        client_id="old-app",
        client_secret="secret",
        refresh_token="refresh-1",
    )

    update_connection(connection, data={"name": "Same app"})
    assert Connection.objects.get(pk=connection.pk).refresh_token == "refresh-1"

    update_connection(connection, data={"client_id": "new-app"})
    assert Connection.objects.get(pk=connection.pk).refresh_token == ""


def test_editing_a_connection_keeps_a_refresh_token_a_run_rotated_meanwhile():
    connection = make_app_connection(
        workspace=make_workspace(),
        client_id="app",
        client_secret="secret",
        refresh_token="refresh-1",
    )
    # A run refreshes, gets refresh-2 (refresh-1 is now retired) and saves it.
    Connection.objects.filter(pk=connection.pk).update(refresh_token="refresh-2")

    update_connection(connection, data={"name": "Renamed"})

    saved = Connection.objects.get(pk=connection.pk)
    assert (saved.name, saved.refresh_token) == ("Renamed", "refresh-2")


def test_test_connection_answers_none_or_the_reason(salesforce_emulator):
    connection = create_connection(
        workspace=make_workspace(),
        data={**CREDENTIALS, "login_url": salesforce_emulator.url},
    )

    assert test_connection(connection) is None

    update_connection(connection, data={"password": "wrong"})
    assert test_connection(connection) == (
        "Salesforce rejected the username, password or security token (or the user is locked out)."
    )


def test_test_connection_hides_a_secret_the_server_quotes_in_its_answer(monkeypatch):
    connection = make_connection(
        workspace=make_workspace(), password="s3cret-password", security_token="TOKEN-9876"
    )

    def refuse_quoting_the_secrets(connector):
        raise ConnectorError("Salesforce refused the login: bad value s3cret-passwordTOKEN-9876")

    monkeypatch.setattr(SalesforceConnector, "verify", refuse_quoting_the_secrets)

    assert test_connection(connection) == (
        "Salesforce refused the login: bad value [hidden][hidden]"
    )
