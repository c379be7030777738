"""Logging in to Salesforce with each auth method, and an authenticated session for a run."""

import logging
import threading
import xml.etree.ElementTree as ElementTree
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import requests
from django.db import DatabaseError
from django.db import connection as db_connection

from connectors.base import ConnectorError

from .hosts import normalize_login_url
from .http import HttpClient, RetryPolicy, body_rewinder, error_message, is_transient

logger = logging.getLogger("connectors.salesforce")

# SOAP login() is gone from API 65.0 on, so the login call pins its own version, apart from
# the API version an export uses for its data.
SOAP_LOGIN_VERSION = "64.0"

SOAP_FAULT_MESSAGES = {
    "INVALID_LOGIN": (
        "Salesforce rejected the username, password or security token (or the user is locked out)."
    ),
    "PASSWORD_LOCKOUT": (
        "The Salesforce user is locked out after too many failed logins; "
        "unlock the user in Salesforce Setup or wait until the lockout ends."
    ),
    "LOGIN_MUST_USE_SECURITY_TOKEN": (
        "Salesforce requires the user's security token from this network: add it to the connection."
    ),
    "INVALID_OPERATION_WITH_EXPIRED_PASSWORD": (
        "The Salesforce user's password has expired: set a new one in Salesforce, "
        "then update the connection."
    ),
    "API_DISABLED_FOR_ORG": (
        "The Salesforce API is not enabled for this organization or user "
        "(check the edition and the user's API Enabled permission)."
    ),
    "API_CURRENTLY_DISABLED": (
        "The Salesforce API is not enabled for this organization or user "
        "(check the edition and the user's API Enabled permission)."
    ),
    "INSUFFICIENT_ACCESS": (
        "Salesforce refused the SOAP login (INSUFFICIENT_ACCESS): SOAP API login() is disabled "
        "for this org, as it is by default for orgs created from Winter '26. Ask an admin to "
        "enable SOAP API login() in Setup (User Interface / API settings), or switch the "
        "connection to OAuth or client credentials."
    ),
    "UNSUPPORTED_API_VERSION": (
        f"This Salesforce server does not offer SOAP login at API version {SOAP_LOGIN_VERSION}: "
        "use OAuth or client credentials instead."
    ),
}

# The writer's job threads are named so; a database connection one of them opens is its own.
WORKER_THREAD_PREFIX = "salesforce-job"

SESSION_EXPIRED_MESSAGE = (
    "The Salesforce session id has expired or is invalid: paste a new session id into the "
    "connection (or switch it to OAuth or client credentials, which renew themselves)."
)


@dataclass(frozen=True)
class Token:
    """What a login gives: where the org's API lives and the bearer token to use there."""

    instance_url: str
    # Kept out of the repr, so a Token in a log line or a traceback does not show it.
    access_token: str = field(repr=False)


def login_policy(connection) -> RetryPolicy:
    return RetryPolicy(limit=connection.retry_limit, initial_delay=connection.retry_initial_delay)


def login(connection, http: HttpClient) -> Token:
    """Log in; a refusal names the connection as the setting at fault (field="connection"),
    so pages point at the connection, not at the activation that used it."""
    try:
        return _login(connection, http)
    except ConnectorError as error:
        if error.field is None:
            error.field = "connection"
        raise


def _login(connection, http: HttpClient) -> Token:
    """Log in with the connection's auth method; raise ConnectorError with a clear message.

    Transport trouble is retried with the connection's retry settings; refused credentials
    are not retried (retryable=False).
    """
    method = connection.auth_method
    if method == "credentials":
        return _soap_login(connection, http)
    if method == "oauth":
        if not connection.refresh_token:
            raise ConnectorError(
                "This connection is not connected to Salesforce yet: use "
                '"Connect to Salesforce" to authorize it.'
            )
        return _refresh_login(connection, http)
    if method == "client_credentials":
        return _token_request(
            connection,
            http,
            {
                "grant_type": "client_credentials",
                "client_id": connection.client_id,
                "client_secret": connection.client_secret,
            },
        )
    if method == "session_id":
        if not connection.session_id:
            raise ConnectorError("This connection has no session id.")
        return Token(
            instance_url=_checked_url(connection.login_url), access_token=connection.session_id
        )
    raise ConnectorError(f"Unknown auth method {method!r}.")


def password_with_token(password: str, token: str) -> str:
    """The SOAP password field: the password with the security token appended, unless the
    user already appended it to the password."""
    if not token or password.endswith(token):
        return password
    return password + token


def _checked_url(url: str) -> str:
    try:
        return normalize_login_url(url)
    except ValueError as exc:
        raise ConnectorError(f"The connection's login URL is not accepted: {exc}") from None


def _not_salesforce(login_url: str, path: str, response: requests.Response) -> ConnectorError:
    return ConnectorError(
        f"{login_url} does not answer like a Salesforce login server "
        f"(HTTP {response.status_code} from {path}); check the login URL."
    )


def _is_soap_fault(response: requests.Response) -> bool:
    return b"Fault" in response.content[:4096] and b"Envelope" in response.content[:4096]


def _soap_login(connection, http: HttpClient) -> Token:
    login_url = _checked_url(connection.login_url)
    path = f"/services/Soap/u/{SOAP_LOGIN_VERSION}"
    password = password_with_token(connection.password, connection.security_token)
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>'
        '<n1:login xmlns:n1="urn:partner.soap.sforce.com">'
        f"<n1:username>{escape(connection.username)}</n1:username>"
        f"<n1:password>{escape(password)}</n1:password>"
        "</n1:login></env:Body></env:Envelope>"
    )
    response = http.send(
        "POST",
        login_url + path,
        retry=login_policy(connection),
        # A SOAP fault comes as HTTP 500 and is an answer, not trouble to retry.
        transient=lambda answer: is_transient(answer) and not _is_soap_fault(answer),
        data=body.encode("utf-8"),
        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"},
    )
    elements = _xml_elements(response)
    if elements is None:
        raise _not_salesforce(login_url, path, response)
    if "faultcode" in elements or "exceptionCode" in elements:
        code = elements.get("exceptionCode") or elements.get("faultcode", "").split(":")[-1]
        if code in SOAP_FAULT_MESSAGES:
            raise ConnectorError(SOAP_FAULT_MESSAGES[code])
        detail = elements.get("exceptionMessage") or elements.get("faultstring", "")
        raise ConnectorError(f"Salesforce refused the login: {code}: {detail}".rstrip(": "))
    if response.status_code != 200 or not elements.get("sessionId"):
        raise _not_salesforce(login_url, path, response)
    if elements.get("passwordExpired") == "true":
        raise ConnectorError(SOAP_FAULT_MESSAGES["INVALID_OPERATION_WITH_EXPIRED_PASSWORD"])
    server = urlsplit(elements.get("serverUrl", ""))
    host = server.netloc
    # Old instance hosts answer "na1-api.salesforce.com"; the REST API lives on "na1".
    first_label, dot, rest = host.partition(".")
    if first_label.endswith("-api"):
        host = first_label[: -len("-api")] + dot + rest
    instance_url = _instance_url(f"{server.scheme}://{host}")
    return Token(instance_url=instance_url, access_token=elements["sessionId"])


def _xml_elements(response: requests.Response) -> dict[str, str] | None:
    """The text of every element by local name (first one wins), or None if not XML."""
    try:
        # The document comes from a vetted login host; expat (>= 2.4) refuses entity bombs.
        root = ElementTree.fromstring(response.content)  # noqa: S314
    except ElementTree.ParseError:
        return None
    elements: dict[str, str] = {}
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1]
        elements.setdefault(name, (element.text or "").strip())
    return elements


def _instance_url(url: str) -> str:
    """Salesforce names the instance URL; it must be a host we would accept as a login URL."""
    try:
        return normalize_login_url(url)
    except ValueError:
        raise ConnectorError(
            f"Salesforce answered with an instance URL that is not accepted: {url}"
        ) from None


class RefreshTokenRefused(ConnectorError):
    """Salesforce answered invalid_grant to a refresh token (revoked, expired or rotated)."""


OAUTH_ERROR_MESSAGES = {
    "invalid_client_id": "Salesforce does not know this client id (consumer key).",
    "invalid_client": "Salesforce rejected the client id or client secret.",
    "invalid_client_credentials": "Salesforce rejected the client id or client secret.",
}


def oauth_error(response: requests.Response, *, grant_type: str) -> ConnectorError:
    """A ConnectorError for an OAuth error answer {"error", "error_description"}."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "error" not in body:
        return ConnectorError(
            f"Salesforce refused the token request (HTTP {response.status_code})."
        )
    error = str(body.get("error", ""))
    description = str(body.get("error_description", ""))
    if error in OAUTH_ERROR_MESSAGES:
        return ConnectorError(OAUTH_ERROR_MESSAGES[error])
    if error == "invalid_grant" and grant_type == "refresh_token":
        return RefreshTokenRefused(
            "Salesforce refused the refresh token (it was revoked or has expired): "
            f"connect to Salesforce again. ({description})"
        )
    if error == "invalid_grant" and grant_type == "authorization_code":
        return ConnectorError(
            "Salesforce refused the authorization code (it expired or was already used): "
            f"try connecting again. ({description})"
        )
    if grant_type == "client_credentials":
        # login.salesforce.com and test.salesforce.com answer invalid_grant "request not
        # supported on this domain"; only the org's My Domain host runs this flow.
        if error == "unsupported_grant_type" or "not supported on this domain" in description:
            return ConnectorError(
                "This login URL does not offer the client credentials flow: use your My Domain "
                "URL (https://<your domain>.my.salesforce.com) and enable the flow in the "
                "connected app."
            )
        if "no client credentials user enabled" in description:
            return ConnectorError(
                "The connected app has no user to run the client credentials flow as: choose "
                'one under "Client Credentials Flow", "Run As" in its policies.'
            )
    return ConnectorError(f"Salesforce refused the login: {error}: {description}".rstrip(": "))


def _token_request(connection, http: HttpClient, form: dict[str, str]) -> Token:
    login_url = _checked_url(connection.login_url)
    path = "/services/oauth2/token"
    response = http.send(
        "POST",
        login_url + path,
        retry=login_policy(connection),
        data=form,
        headers={"Accept": "application/json"},
    )
    if response.status_code in (400, 401, 403):
        raise oauth_error(response, grant_type=form["grant_type"])
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        raise _not_salesforce(login_url, path, response)
    instance_url = _instance_url(str(body.get("instance_url") or login_url))
    rotated = body.get("refresh_token")
    if form["grant_type"] == "refresh_token" and rotated and rotated != connection.refresh_token:
        _store_rotated_refresh_token(connection, str(rotated))
    return Token(instance_url=instance_url, access_token=str(body["access_token"]))


def _refresh_login(connection, http: HttpClient) -> Token:
    """The refresh token grant. With refresh token rotation on, another run of the same
    connection may have used the token this one holds (retiring it) and saved its successor,
    so a refused token is retried once with the saved one if that is different."""

    def request() -> Token:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": connection.refresh_token,
            "client_id": connection.client_id,
            "client_secret": connection.client_secret,
        }
        return _token_request(connection, http, form)

    try:
        return request()
    except RefreshTokenRefused:
        saved = _saved_refresh_token(connection)
        if not saved or saved == connection.refresh_token:
            raise
        logger.info("Refresh token of connection %s was rotated elsewhere", connection.pk)
        connection.refresh_token = saved
        return request()


@contextmanager
def _database():
    """Database access from wherever a login happens. A job thread gets its own database
    connection for it, which nothing else in that thread uses: close it afterwards."""
    try:
        yield
    finally:
        if threading.current_thread().name.startswith(WORKER_THREAD_PREFIX):
            db_connection.close()


def _saved_refresh_token(connection) -> str:
    if connection.pk is None:
        return ""
    try:
        with _database():
            saved = type(connection).objects.filter(pk=connection.pk)
            return saved.values_list("refresh_token", flat=True).first() or ""
    except DatabaseError:
        logger.exception("Could not read the refresh token of connection %s", connection.pk)
        return ""


def _store_rotated_refresh_token(connection, refresh_token: str) -> None:
    """With refresh token rotation on, each refresh hands out a new token and retires the
    old one (Salesforce Help, "OAuth 2.0 Refresh Token Flow for Renewed Sessions"), so the
    new one must be saved or the next run could not log in. Runs under the session's lock,
    so parallel job threads of one run never refresh at the same time."""
    connection.refresh_token = refresh_token
    if connection.pk is None:
        return
    try:
        with _database():
            type(connection).objects.filter(pk=connection.pk).update(refresh_token=refresh_token)
    except DatabaseError:
        logger.exception("Could not save the rotated refresh token of connection %s", connection.pk)


class SalesforceSession:
    """An authenticated client for one run: logs in lazily and once more on an expired session.

    Thread-safe: parallel jobs share it; when several see the session expire at once, only
    one logs in again.
    """

    def __init__(self, connection, http: HttpClient | None = None) -> None:
        self.connection = connection
        self.http = http or HttpClient()
        self._token: Token | None = None
        self._lock = threading.Lock()

    @property
    def instance_url(self) -> str:
        return self.token().instance_url

    def token(self) -> Token:
        with self._lock:
            if self._token is None:
                self._token = login(self.connection, self.http)
            return self._token

    def _login_again(self, expired: Token) -> Token:
        with self._lock:
            if self._token is expired:
                logger.info("Salesforce session expired; logging in again")
                self._token = login(self.connection, self.http)
            return self._token

    def close(self) -> None:
        self.http.close()

    def request(
        self, method: str, path: str, *, retry: RetryPolicy, headers=None, **kwargs
    ) -> requests.Response:
        """Send an authenticated request to `path` (under the instance URL; an absolute
        "services/..." content URL works too). On 401, log in again once and resend;
        a second 401, or any 401 for a pasted session id, raises ConnectorError."""
        token = self.token()
        rewind = body_rewinder(kwargs.get("data"))
        response = self._send(token, method, path, retry=retry, headers=headers, **kwargs)
        if response.status_code != 401:
            return response
        response.close()
        if self.connection.auth_method == "session_id":
            raise ConnectorError(SESSION_EXPIRED_MESSAGE)
        token = self._login_again(token)
        rewind()
        response = self._send(token, method, path, retry=retry, headers=headers, **kwargs)
        if response.status_code == 401:
            raise ConnectorError("Salesforce refused a fresh session: " + error_message(response))
        return response

    def _send(self, token: Token, method: str, path: str, *, retry, headers, **kwargs):
        url = token.instance_url + "/" + path.lstrip("/")
        all_headers = {"Authorization": f"Bearer {token.access_token}"}
        all_headers.update(headers or {})
        return self.http.send(method, url, retry=retry, headers=all_headers, **kwargs)
