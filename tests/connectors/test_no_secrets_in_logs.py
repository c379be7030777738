"""No credential ever reaches a log line, a run log message or an error message."""

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors.base import ConnectorError
from connectors.models import Connection
from connectors.salesforce.auth import login
from connectors.salesforce.http import HttpClient
from connectors.salesforce.oauth import authorize_url, exchange_code
from connectors.services import test_connection as check
from tests.connectors.recording import RecordingSink, export
from tests.factories import make_connection, make_workspace

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast")]

REDIRECT_URI = "https://activations.example.com/callback"


def secrets_of(emulator, *connections) -> set[str]:
    """Every credential in play: configured ones and every token the emulator handed out."""
    values = {
        emulator.password,
        emulator.security_token,
        emulator.password + emulator.security_token,
        emulator.client_secret,
        *emulator.org.sessions,
        *emulator.org.refresh_tokens,
        *emulator.org.authorization_codes,
    }
    for connection in connections:
        for name in Connection.SECRET_FIELDS:
            values.add(getattr(connection, name))
    return {value for value in values if value}


def assert_no_secret_in(texts, secrets):
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a secret appears in: {text[:200]}"


def test_no_secret_in_logs_while_logging_in_and_writing_through_failures(
    salesforce_emulator, caplog
):
    caplog.set_level(logging.DEBUG)
    workspace = make_workspace()
    good = make_connection(
        workspace=workspace, login_url=salesforce_emulator.url, retry_initial_delay=0.01
    )
    bad = make_connection(
        workspace=workspace, login_url=salesforce_emulator.url, password="hunter3-wrong"
    )
    sink = RecordingSink()
    errors = []

    # a write that retries, re-logs in after an expired session, and meets a locked row
    salesforce_emulator.inject(
        "http_error", status=503, times=1, method="POST", path="jobs/ingest$"
    )
    salesforce_emulator.inject("session_expired", times=1, method="GET", path=r"jobs/ingest/\w+$")
    salesforce_emulator.inject("unable_to_lock_row", times=1)
    good.connector.write(
        export(concurrency_mode="serial"), ["LastName", "Email"], [["Lovelace", "a@x.com"]], sink
    )
    # a failed login, and a write that gives up
    errors.append(check(bad))
    salesforce_emulator.inject("http_error", status=500, times=None, path="jobs/ingest")
    with pytest.raises(ConnectorError) as raised:
        good.connector.write(export(retry_limit=1), ["LastName"], [["Turing"]], sink)
    errors.append(raised.value.message)

    texts = [caplog.text, *sink.messages, *errors, *(row.error for row in sink.failed)]
    assert "POST /services/Soap/u/64.0" in caplog.text  # the logs did capture the calls
    assert_no_secret_in(texts, secrets_of(salesforce_emulator, good, bad))


def test_no_secret_in_logs_of_oauth_client_credentials_and_session_id(salesforce_emulator, caplog):
    caplog.set_level(logging.DEBUG)
    workspace = make_workspace()
    common = {
        "workspace": workspace,
        "login_url": salesforce_emulator.url,
        "username": "",
        "password": "",
        "security_token": "",
    }
    oauth = make_connection(
        auth_method="oauth",
        client_id=salesforce_emulator.client_id,
        client_secret=salesforce_emulator.client_secret,
        **common,
    )
    url, verifier = authorize_url(oauth, redirect_uri=REDIRECT_URI, state="s")
    location = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    codes = {code}
    exchange_code(oauth, code=code, code_verifier=verifier, redirect_uri=REDIRECT_URI)
    oauth.refresh_from_db()
    client = make_connection(
        name="cc",
        auth_method="client_credentials",
        client_id=salesforce_emulator.client_id,
        client_secret=salesforce_emulator.client_secret,
        **common,
    )
    session = salesforce_emulator.org.open_session("marketer@example.com")
    pasted = make_connection(
        name="sid", auth_method="session_id", session_id=session.token, **common
    )
    messages = []
    for connection in (oauth, client, pasted):
        messages.append(check(connection))
        connection.connector.write(export(), ["LastName"], [["Hopper"]], RecordingSink())
    salesforce_emulator.org.expire_sessions()
    messages.append(check(pasted))
    wrong_secret = make_connection(
        name="bad cc",
        auth_method="client_credentials",
        client_id=salesforce_emulator.client_id,
        client_secret="not-the-secret-42",
        **common,
    )
    messages.append(check(wrong_secret))

    assert messages[:3] == [None, None, None]
    secrets = secrets_of(salesforce_emulator, oauth, client, pasted, wrong_secret) | codes
    assert_no_secret_in([caplog.text, *filter(None, messages)], secrets)


def test_a_login_token_does_not_show_its_access_token_in_its_repr(salesforce_emulator):
    connection = make_connection(workspace=make_workspace(), login_url=salesforce_emulator.url)
    http = HttpClient()
    try:
        token = login(connection, http)
    finally:
        http.close()

    assert token.access_token in salesforce_emulator.org.sessions
    assert token.access_token not in repr(token)
    assert repr(token) == f"Token(instance_url='{salesforce_emulator.url}')"
