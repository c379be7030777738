"""The OAuth 2.0 web server flow with PKCE, by which a connection gets its refresh token.

The UI redirects the marketer to authorize_url(); Salesforce sends them back to our
callback with a code, which exchange_code() trades for a refresh token, so nobody ever
pastes a token.
"""

import base64
import hashlib
import secrets
from urllib.parse import urlencode

from connectors.base import ConnectorError

from .auth import login_policy, oauth_error
from .hosts import normalize_login_url
from .http import HttpClient

SCOPE = "api refresh_token"


def code_challenge(code_verifier: str) -> str:
    """The S256 PKCE challenge: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _login_url(connection) -> str:
    try:
        return normalize_login_url(connection.login_url)
    except ValueError as exc:
        raise ConnectorError(str(exc), field="login_url") from None


def authorize_url(connection, *, redirect_uri: str, state: str) -> tuple[str, str]:
    """The Salesforce authorization URL to redirect the user to, and the PKCE code verifier
    to keep (in the session) until the callback. Raises ConnectorError if the connection
    has no client id or an unacceptable login URL."""
    if not connection.client_id:
        raise ConnectorError("The connection has no client id.", field="client_id")
    code_verifier = secrets.token_urlsafe(64)  # 86 characters, within PKCE's 43..128
    query = urlencode(
        {
            "response_type": "code",
            "client_id": connection.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": SCOPE,
            "code_challenge": code_challenge(code_verifier),
            "code_challenge_method": "S256",
        }
    )
    return f"{_login_url(connection)}/services/oauth2/authorize?{query}", code_verifier


def exchange_code(connection, *, code: str, code_verifier: str, redirect_uri: str) -> None:
    """Trade the callback's authorization code for tokens and save the refresh token on the
    connection. Raises ConnectorError with a clear message if Salesforce refuses."""
    login_url = _login_url(connection)
    http = HttpClient()
    try:
        response = http.send(
            "POST",
            f"{login_url}/services/oauth2/token",
            retry=login_policy(connection),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": connection.client_id,
                "client_secret": connection.client_secret,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            headers={"Accept": "application/json"},
        )
    finally:
        http.close()
    if response.status_code in (400, 401, 403):
        raise oauth_error(response, grant_type="authorization_code")
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        raise ConnectorError(
            f"{login_url} did not answer like Salesforce (HTTP {response.status_code}) when "
            "asked for a token; check the login URL."
        )
    refresh_token = body.get("refresh_token")
    if not refresh_token:
        raise ConnectorError(
            'Salesforce gave no refresh token: allow the refresh_token scope ("Perform '
            'requests at any time") in the connected app, then connect again.'
        )
    connection.refresh_token = refresh_token
    connection.save(update_fields=["refresh_token", "updated_at"])
