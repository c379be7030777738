"""Logging in with each auth method against the emulator, good and bad, and the OAuth flow."""

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors.base import ConnectorError
from connectors.models import Connection
from connectors.salesforce.auth import login
from connectors.salesforce.http import HttpClient
from connectors.salesforce.oauth import authorize_url, code_challenge, exchange_code
from connectors.services import test_connection as check
from tests.connectors.recording import RecordingSink, export, speed_up
from tests.factories import make_app_connection, make_connection
from tests.salesforce_emulator.certificate import make_certificate

pytestmark = pytest.mark.django_db

REDIRECT_URI = "https://activations.example.com/connections/oauth/callback"
SOAP_LOGIN = ("POST", "/services/Soap/u/64.0")


def credentials(emulator, workspace, **fields) -> Connection:
    fields.setdefault("retry_initial_delay", 0.01)
    return make_connection(workspace=workspace, login_url=emulator.url, **fields)


def oauth_connection(emulator, workspace, **fields) -> Connection:
    fields.setdefault("client_id", emulator.client_id)
    fields.setdefault("client_secret", emulator.client_secret)
    return make_app_connection(
        workspace=workspace, auth_method="oauth", login_url=emulator.url, **fields
    )


class NotFoundHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - stdlib name
        body = b"<html><body>Not found</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture
def web_server(tmp_path, settings):
    """An HTTPS server that is not Salesforce (404 for everything), allowed as a host."""
    cert_path, key_path = make_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFoundHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host = f"127.0.0.1:{server.server_address[1]}"
    settings.SALESFORCE_ALLOWED_HOSTS = [*settings.SALESFORCE_ALLOWED_HOSTS, host]
    yield host, cert_path
    server.shutdown()
    server.server_close()


@pytest.fixture
def trusted_web_server(salesforce_emulator, web_server, tmp_path, monkeypatch):
    """The web server's host, with its certificate trusted beside the emulator's."""
    host, cert_path = web_server
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(Path(salesforce_emulator.ca_path).read_bytes() + cert_path.read_bytes())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    return host


def test_credentials_log_in_with_password_and_token(salesforce_emulator, workspace):
    connection = credentials(salesforce_emulator, workspace)

    assert check(connection) is None
    assert salesforce_emulator.org.requests_log == [SOAP_LOGIN]


@pytest.mark.parametrize(
    ("password", "token"), [("hunter2TOKEN123", "TOKEN123"), ("hunter2TOKEN123", "")]
)
def test_token_already_appended_to_the_password_is_not_appended_again(
    salesforce_emulator, workspace, password, token
):
    connection = credentials(
        salesforce_emulator, workspace, password=password, security_token=token
    )

    assert check(connection) is None


def test_bad_password_is_reported_clearly(salesforce_emulator, workspace):
    connection = credentials(salesforce_emulator, workspace, password="wrong")

    assert check(connection) == (
        "Salesforce rejected the username, password or security token (or the user is locked out)."
    )
    assert salesforce_emulator.org.requests_log == [SOAP_LOGIN]  # refusals are not retried


def test_locked_user_gets_salesforces_invalid_login(salesforce_emulator, workspace):
    salesforce_emulator.org.user("marketer@example.com").locked = True

    assert check(credentials(salesforce_emulator, workspace)) == (
        "Salesforce rejected the username, password or security token (or the user is locked out)."
    )


def test_missing_security_token_is_named(salesforce_emulator, workspace):
    connection = credentials(salesforce_emulator, workspace, security_token="")

    assert check(connection) == (
        "Salesforce requires the user's security token from this network: add it to the connection."
    )


def test_api_disabled_is_named(salesforce_emulator, workspace):
    salesforce_emulator.org.user("marketer@example.com").api_enabled = False

    assert check(credentials(salesforce_emulator, workspace)) == (
        "The Salesforce API is not enabled for this organization or user "
        "(check the edition and the user's API Enabled permission)."
    )


def test_login_retries_a_busy_server(salesforce_emulator, workspace):
    salesforce_emulator.inject("http_error", status=503, times=2, path="/services/Soap")
    connection = credentials(salesforce_emulator, workspace, retry_limit=2)

    assert check(connection) is None
    assert salesforce_emulator.org.requests_log == [SOAP_LOGIN] * 3


def test_unreachable_host_is_reported_after_the_connections_retries(workspace, settings):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.SALESFORCE_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    connection = make_connection(
        workspace=workspace,
        login_url=f"https://127.0.0.1:{port}",
        retry_limit=1,
        retry_initial_delay=0.01,
    )

    assert check(connection) == (
        f"Salesforce (127.0.0.1:{port}) did not answer after 2 attempts: "
        "could not connect (connection refused)"
    )


def test_a_server_that_is_not_salesforce_is_named(trusted_web_server, workspace):
    host = trusted_web_server
    connection = make_connection(workspace=workspace, login_url=f"https://{host}")

    assert check(connection) == (
        f"https://{host} does not answer like a Salesforce login server "
        "(HTTP 404 from /services/Soap/u/64.0); check the login URL."
    )


def test_an_untrusted_certificate_is_refused(web_server, workspace, salesforce_emulator):
    host, _ = web_server  # its certificate is not in REQUESTS_CA_BUNDLE
    connection = make_connection(workspace=workspace, login_url=f"https://{host}")

    assert check(connection) == f"The HTTPS certificate of {host} is not trusted."


def test_a_login_url_no_longer_allowed_is_refused_before_any_request(
    salesforce_emulator, workspace, settings
):
    connection = credentials(salesforce_emulator, workspace)
    settings.SALESFORCE_ALLOWED_HOSTS = []

    message = check(connection)

    assert message.startswith(
        f"The connection's login URL is not accepted: {salesforce_emulator.host} is not a "
        "Salesforce login host."
    )
    assert salesforce_emulator.org.requests_log == []


# OAuth web server flow with PKCE, then refresh tokens


def authorize(emulator, connection) -> tuple[str, str]:
    """Do what the browser does: open the authorize URL and come back with the code."""
    url, verifier = authorize_url(connection, redirect_uri=REDIRECT_URI, state="xyz")
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["xyz"]
    return query["code"][0], verifier


def test_authorize_url_carries_client_pkce_challenge_and_scope(salesforce_emulator, workspace):
    connection = oauth_connection(salesforce_emulator, workspace)

    url, verifier = authorize_url(connection, redirect_uri=REDIRECT_URI, state="s1")

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"{salesforce_emulator.url}/services/oauth2/authorize"
    )
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": ["emulator-client-id"],
        "redirect_uri": [REDIRECT_URI],
        "state": ["s1"],
        "scope": ["api refresh_token"],
        "code_challenge": [code_challenge(verifier)],
        "code_challenge_method": ["S256"],
    }
    assert 43 <= len(verifier) <= 128


def test_oauth_flow_stores_a_refresh_token_that_logs_in(salesforce_emulator, workspace):
    connection = oauth_connection(salesforce_emulator, workspace)
    code, verifier = authorize(salesforce_emulator, connection)

    exchange_code(connection, code=code, code_verifier=verifier, redirect_uri=REDIRECT_URI)

    saved = Connection.objects.get(pk=connection.pk)
    assert saved.refresh_token.startswith("5Aep")
    assert check(saved) is None


def test_oauth_exchange_with_the_wrong_verifier_is_refused(salesforce_emulator, workspace):
    connection = oauth_connection(salesforce_emulator, workspace)
    code, _ = authorize(salesforce_emulator, connection)

    with pytest.raises(ConnectorError) as raised:
        exchange_code(connection, code=code, code_verifier="x" * 43, redirect_uri=REDIRECT_URI)

    assert raised.value.message == (
        "Salesforce refused the authorization code (it expired or was already used): "
        "try connecting again. (invalid code verifier)"
    )
    assert Connection.objects.get(pk=connection.pk).refresh_token == ""


def test_oauth_exchange_with_a_bad_client_secret_is_refused(salesforce_emulator, workspace):
    connection = oauth_connection(salesforce_emulator, workspace, client_secret="wrong")
    code, verifier = authorize(salesforce_emulator, connection)

    with pytest.raises(ConnectorError) as raised:
        exchange_code(connection, code=code, code_verifier=verifier, redirect_uri=REDIRECT_URI)

    assert raised.value.message == "Salesforce rejected the client id or client secret."


def test_oauth_connection_not_yet_authorized_says_so(salesforce_emulator, workspace):
    connection = oauth_connection(salesforce_emulator, workspace)

    assert check(connection) == (
        'This connection is not connected to Salesforce yet: use "Connect to Salesforce" '
        "to authorize it."
    )
    assert salesforce_emulator.org.requests_log == []


def test_revoked_refresh_token_asks_to_connect_again(salesforce_emulator, workspace):
    connection = oauth_connection(salesforce_emulator, workspace, refresh_token="5Aep-revoked")

    assert check(connection) == (
        "Salesforce refused the refresh token (it was revoked or has expired): connect to "
        "Salesforce again. (expired access/refresh token)"
    )


def test_rotated_refresh_token_is_saved(salesforce_emulator, workspace):
    salesforce_emulator.org.apps["emulator-client-id"].refresh_token_rotation = True
    connection = oauth_connection(salesforce_emulator, workspace)
    code, verifier = authorize(salesforce_emulator, connection)
    exchange_code(connection, code=code, code_verifier=verifier, redirect_uri=REDIRECT_URI)
    first = Connection.objects.get(pk=connection.pk).refresh_token

    assert check(Connection.objects.get(pk=connection.pk)) is None

    second = Connection.objects.get(pk=connection.pk).refresh_token
    assert second != first
    assert check(Connection.objects.get(pk=connection.pk)) is None  # the new one works


# Client credentials


def client_credentials(emulator, workspace, **fields) -> Connection:
    fields.setdefault("client_id", emulator.client_id)
    fields.setdefault("client_secret", emulator.client_secret)
    return make_app_connection(
        workspace=workspace, auth_method="client_credentials", login_url=emulator.url, **fields
    )


def test_client_credentials_log_in(salesforce_emulator, workspace):
    connection = client_credentials(salesforce_emulator, workspace)

    assert check(connection) is None
    assert salesforce_emulator.org.requests_log == [("POST", "/services/oauth2/token")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"client_secret": "wrong"}, "Salesforce rejected the client id or client secret."),
        ({"client_id": "unknown"}, "Salesforce does not know this client id (consumer key)."),
    ],
)
def test_client_credentials_refused(salesforce_emulator, workspace, fields, message):
    assert check(client_credentials(salesforce_emulator, workspace, **fields)) == message


def test_client_credentials_without_a_run_as_user(salesforce_emulator, workspace):
    salesforce_emulator.org.apps["emulator-client-id"].run_as = None

    assert check(client_credentials(salesforce_emulator, workspace)) == (
        "The connected app has no user to run the client credentials flow as: choose one "
        'under "Client Credentials Flow", "Run As" in its policies.'
    )


def test_client_credentials_sent_to_a_generic_login_host(salesforce_emulator, workspace):
    salesforce_emulator.settings.generic_login_host = True  # like login.salesforce.com

    assert check(client_credentials(salesforce_emulator, workspace)) == (
        "This login URL does not offer the client credentials flow: use your My Domain URL "
        "(https://<your domain>.my.salesforce.com) and enable the flow in the connected app."
    )


# Session id


def session_connection(emulator, workspace, token: str, login_url=None) -> Connection:
    return make_connection(
        workspace=workspace,
        login_url=login_url or emulator.url,
        auth_method="session_id",
        username="",
        password="",
        security_token="",
        session_id=token,
    )


def test_session_id_is_checked_with_one_api_call(salesforce_emulator, workspace):
    session = salesforce_emulator.org.open_session("marketer@example.com")

    assert check(session_connection(salesforce_emulator, workspace, session.token)) is None
    assert salesforce_emulator.org.requests_log == [("GET", "/services/data/v59.0/limits/")]


def test_expired_session_id_asks_for_a_new_one(salesforce_emulator, workspace):
    session = salesforce_emulator.org.open_session("marketer@example.com")
    salesforce_emulator.org.expire_sessions()

    assert check(session_connection(salesforce_emulator, workspace, session.token)) == (
        "The Salesforce session id has expired or is invalid: paste a new session id into the "
        "connection (or switch it to OAuth or client credentials, which renew themselves)."
    )


def test_session_id_with_an_instance_url_that_is_not_salesforce(
    salesforce_emulator, trusted_web_server, workspace
):
    host = trusted_web_server
    connection = session_connection(
        salesforce_emulator, workspace, "00D!abc", login_url=f"https://{host}"
    )

    assert check(connection) == (
        f"https://{host} does not answer like a Salesforce instance (HTTP 404); check the "
        "instance URL."
    )


# The SOAP login version is pinned apart from the export's API version


def test_soap_login_uses_64_0_whatever_the_export_version(
    salesforce_emulator, workspace, monkeypatch
):
    speed_up(monkeypatch)
    connection = credentials(salesforce_emulator, workspace)

    connection.connector.write(
        export(api_version="62.0"), ["LastName"], [["Lovelace"]], RecordingSink()
    )

    paths = [path for _, path in salesforce_emulator.org.requests_log]
    assert paths[0] == "/services/Soap/u/64.0"
    assert all(path.startswith("/services/data/v62.0/") for path in paths[1:])


# An instance URL the login answers with is checked before the token is sent there


@pytest.mark.parametrize("method", ["credentials", "client_credentials"])
def test_login_refuses_an_instance_url_outside_the_allowed_hosts(
    salesforce_emulator, workspace, method
):
    if method == "credentials":
        connection = credentials(salesforce_emulator, workspace)
    else:
        connection = client_credentials(salesforce_emulator, workspace)
    port = salesforce_emulator.host.rsplit(":", 1)[1]
    http = HttpClient()
    # The emulator names its instance after the Host header: it answers "localhost:<port>",
    # a host that is not allowed (only 127.0.0.1:<port> is).
    http.session.headers["Host"] = f"localhost:{port}"
    try:
        with pytest.raises(ConnectorError) as raised:
            login(connection, http)
    finally:
        http.close()

    assert raised.value.message.startswith(
        f"Salesforce answered with an instance URL that is not accepted: https://localhost:{port}"
    )
    assert [path for _, path in salesforce_emulator.org.requests_log] == [
        "/services/Soap/u/64.0" if method == "credentials" else "/services/oauth2/token"
    ]
