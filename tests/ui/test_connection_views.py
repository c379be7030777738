"""Connection views through the test client, against the Salesforce emulator where they log in."""

import json
from urllib.parse import parse_qs, urlsplit

import requests
from django.contrib.sessions.backends.db import SessionStore
from django.views.debug import SafeExceptionReporterFilter

from connectors.base import ConnectorError
from connectors.models import Connection
from connectors.salesforce import oauth
from connectors.views import connection_create
from tests.factories import make_app_connection, make_connection


def credentials_form(emulator_url: str, **overrides) -> dict:
    data = {
        "name": "Emulated org",
        "login_url": emulator_url,
        "auth_method": "credentials",
        "username": "marketer@example.com",
        "password": "hunter2",
        "security_token": "TOKEN123",
        "retry_initial_delay": "1",
        "retry_limit": "3",
    }
    data.update(overrides)
    return data


def test_create_saves_the_connection_and_never_shows_its_secrets(
    owner_client, team, salesforce_emulator
):
    response = owner_client.post("/connections/new/", credentials_form(salesforce_emulator.url))
    connection = Connection.objects.get(name="Emulated org")
    assert response["Location"] == f"/connections/{connection.pk}/"
    assert (connection.password, connection.security_token) == ("hunter2", "TOKEN123")
    page = owner_client.get(f"/connections/{connection.pk}/").content.decode()
    assert "hunter2" not in page
    assert "TOKEN123" not in page
    assert page.count('<span class="badge badge-enabled">set</span>') == 2


def test_edit_with_blank_secrets_keeps_the_stored_ones(owner_client, team):
    connection = team["connection"]
    response = owner_client.post(
        f"/connections/{connection.pk}/",
        credentials_form(
            "https://login.salesforce.com", name="Renamed", password="", security_token=""
        ),
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert (connection.name, connection.password, connection.security_token) == (
        "Renamed",
        "hunter2",
        "TOKEN123",
    )


def test_service_errors_are_shown_at_their_fields(owner_client, team):
    response = owner_client.post(
        "/connections/new/",
        credentials_form("https://evil.example.com", username="", password=""),
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"login_url", "username", "password"}
    assert 'value="https://evil.example.com"' in response.content.decode()


def test_test_button_logs_in_to_the_org(owner_client, team, salesforce_emulator):
    good = make_connection(
        workspace=team["workspace"], name="Good", login_url=salesforce_emulator.url
    )
    bad = make_connection(
        workspace=team["workspace"], name="Bad", login_url=salesforce_emulator.url, password="wrong"
    )
    assert "✓ Connected" in owner_client.post(f"/connections/{good.pk}/test/").content.decode()
    failed = owner_client.post("/connections/test/", {"connection": bad.pk})
    assert failed.context["ok"] is False
    assert failed.context["error"]
    assert "wrong" not in failed.content.decode()
    nothing = owner_client.post("/connections/test/", {"connection": ""})
    assert nothing.context["error"] == "Choose a connection first."


def test_dialog_create_announces_the_new_connection_to_the_editor(owner_client, team):
    response = owner_client.post(
        "/connections/new/?dialog=1", credentials_form("https://login.salesforce.com")
    )
    connection = Connection.objects.get(name="Emulated org")
    assert response.status_code == 204
    assert json.loads(response["HX-Trigger"]) == {
        "connectionCreated": {"id": connection.pk, "name": "Emulated org"}
    }
    refused = owner_client.post(
        "/connections/new/?dialog=1", credentials_form("https://login.salesforce.com", name="")
    )
    assert refused.status_code == 400
    assert 'id="id_connection_name"' in refused.content.decode()


def emulator_oauth_connection(team, emulator) -> Connection:
    """A connection to the emulator through its connected app, not connected yet."""
    return make_app_connection(
        workspace=team["workspace"],
        name="OAuth org",
        login_url=emulator.url,
        client_id="emulator-client-id",
        client_secret="emulator-client-secret",
    )


def approved_callback(start, emulator):
    """The org approves the authorization `start` redirected to: the callback URL it sends
    the browser back to, split."""
    approved = requests.get(
        start["Location"], allow_redirects=False, verify=emulator.ca_path, timeout=10
    )
    return urlsplit(approved.headers["Location"])


def test_connect_to_salesforce_round_trip_stores_the_refresh_token(
    owner_client, team, salesforce_emulator, settings
):
    connection = emulator_oauth_connection(team, salesforce_emulator)
    start = owner_client.post(f"/connections/{connection.pk}/oauth/")
    authorize = urlsplit(start["Location"])
    query = parse_qs(authorize.query)
    assert f"{authorize.scheme}://{authorize.netloc}" == salesforce_emulator.url
    assert authorize.path == "/services/oauth2/authorize"
    assert query["redirect_uri"] == [f"{settings.SITE_URL}/connections/oauth/callback/"]
    assert query["code_challenge_method"] == ["S256"]

    # The org approves and sends the browser back with a code and the same state.
    back = approved_callback(start, salesforce_emulator)
    assert back.path == "/connections/oauth/callback/"
    response = owner_client.get(f"{back.path}?{back.query}")
    assert response["Location"] == f"/connections/{connection.pk}/"
    connection.refresh_from_db()
    assert connection.refresh_token

    # The state is used up: the same callback again is refused.
    again = owner_client.get(f"{back.path}?{back.query}", follow=True)
    assert "was not started here, or has expired" in again.content.decode()


def test_oauth_callback_with_an_unknown_state_changes_nothing(owner_client, team):
    response = owner_client.get("/connections/oauth/callback/?code=abc&state=forged", follow=True)
    assert "was not started here, or has expired" in response.content.decode()
    team["connection"].refresh_from_db()
    assert team["connection"].refresh_token == ""


def test_connection_in_use_is_not_deleted(owner_client, team):
    connection = team["connection"]
    response = owner_client.post(f"/connections/{connection.pk}/delete/", follow=True)
    assert "is used by 1 activation(s)" in response.content.decode()
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_connection_list_says_how_many_activations_use_each(owner_client, team):
    make_connection(workspace=team["workspace"], name="Sandbox")
    page = owner_client.get("/connections/").content.decode()
    assert '<a href="/activations/?q=Production%20org">1 activation</a>' in page
    assert '<span class="muted small">unused</span>' in page


def test_connect_to_salesforce_is_for_writers_of_the_connection_workspace_only(
    viewer_client, outsider_client, team
):
    url = f"/connections/{team['connection'].pk}/oauth/"

    assert viewer_client.post(url).status_code == 403
    assert outsider_client.post(url).status_code == 404
    assert "salesforce_oauth" not in viewer_client.session
    assert "salesforce_oauth" not in outsider_client.session


def test_oauth_callback_in_another_browser_does_not_use_a_state_started_elsewhere(
    owner_client, outsider_client, team, salesforce_emulator
):
    connection = emulator_oauth_connection(team, salesforce_emulator)
    start = owner_client.post(f"/connections/{connection.pk}/oauth/")
    back = approved_callback(start, salesforce_emulator)

    response = outsider_client.get(f"{back.path}?{back.query}", follow=True)

    assert "was not started here, or has expired" in response.content.decode()
    connection.refresh_from_db()
    assert connection.refresh_token == ""


def test_oauth_callback_error_hides_a_secret_the_server_quotes(owner_client, team, monkeypatch):
    connection = Connection.objects.create(
        workspace=team["workspace"],
        name="OAuth org",
        auth_method="oauth",
        client_id="some-client-id",
        client_secret="client-secret-4711",
    )
    start = owner_client.post(f"/connections/{connection.pk}/oauth/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]

    def refuse_quoting_the_secret(connection, **kwargs):
        raise ConnectorError("Salesforce refused: client-secret-4711 is wrong")

    monkeypatch.setattr(oauth, "exchange_code", refuse_quoting_the_secret)
    response = owner_client.get(f"/connections/oauth/callback/?code=abc&state={state}", follow=True)

    page = response.content.decode()
    assert "Salesforce did not connect: Salesforce refused: [hidden] is wrong" in page
    assert "client-secret-4711" not in page


def test_error_reports_mask_the_secrets_posted_to_the_connection_form(team, rf):
    request = rf.post(
        "/connections/new/",
        {"name": "", "password": "hunter2-posted", "client_secret": "posted-client-secret"},
    )
    request.user = team["owner"]
    request.session = SessionStore()

    connection_create(request)

    posted = SafeExceptionReporterFilter().get_post_parameters(request)
    assert posted["password"] == "********************"
    assert posted["client_secret"] == "********************"
    assert posted["name"] == ""
