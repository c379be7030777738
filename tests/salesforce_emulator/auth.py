"""SOAP login and the OAuth 2.0 authorize and token endpoints, with Salesforce's error shapes."""

import base64
import hashlib
import hmac
import secrets
import time
from urllib.parse import urlencode
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from .state import Org, Session, User
from .web import Request, Response

# SOAP login() is gone from API 65.0 on; versions before 31.0 are retired altogether.
SOAP_LOGIN_VERSIONS = (31.0, 64.0)
INVALID_LOGIN = "Invalid username, password, security token; or user locked out."
MUST_USE_TOKEN = (
    "Invalid username, password, security token; or user locked out. Are you at a new location? "
    "When accessing Salesforce--either via a desktop client or the API--from outside of your "
    "company’s trusted networks, you must add a security token to your password to log in. To "
    "get your new security token, log in to Salesforce. From your personal settings, enter Reset "
    "My Security Token in the Quick Find box, then select Reset My Security Token."
)
SOAP_LOGIN_DISABLED = "SOAP API login() is disabled in this organization"
API_DISABLED = "API is not enabled for this Organization or Partner"


def soap_fault(code: str, message: str, fault_type: str = "LoginFault") -> Response:
    """HTTP 500 with the SOAP fault Salesforce sends for a failed login."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>sf:{code}</faultcode>"
        f"<faultstring>{code}: {escape(message)}</faultstring>"
        f'<detail><sf:{fault_type} xsi:type="sf:{fault_type}">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
        f"</sf:{fault_type}></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response.xml(body, status=500)


def check_password(user: User | None, password: str) -> tuple[str, str] | None:
    """None when `password` (password + token) logs `user` in, else (fault code, message)."""
    if user is None or user.locked:
        return ("INVALID_LOGIN", INVALID_LOGIN)
    if password == user.password + user.security_token:
        pass
    elif password == user.password and user.token_required:
        return ("LOGIN_MUST_USE_SECURITY_TOKEN", MUST_USE_TOKEN)
    elif password != user.password:
        return ("INVALID_LOGIN", INVALID_LOGIN)
    if not user.api_enabled:
        return ("API_DISABLED_FOR_ORG", API_DISABLED)
    return None


def soap_login(org: Org, request: Request, version: str) -> Response:
    """POST /services/Soap/u/{version}: the partner API login() call."""
    try:
        number = float(version)
    except ValueError:
        number = 0.0
    low, high = SOAP_LOGIN_VERSIONS
    if not low <= number <= high:
        return soap_fault(
            "UNSUPPORTED_API_VERSION",
            "Invalid Api version specified on URL",
            fault_type="UnexpectedErrorFault",
        )
    try:
        # Test-only server on loopback; the body comes from our own clients.
        envelope = ElementTree.fromstring(request.body)  # noqa: S314
    except ElementTree.ParseError:
        return soap_fault(
            "INVALID_REQUEST", "Unable to parse the request", fault_type="UnexpectedErrorFault"
        )
    texts = {element.tag.rsplit("}", 1)[-1]: element.text or "" for element in envelope.iter()}
    username, password = texts.get("username", ""), texts.get("password", "")
    user = org.user(username)
    failure = check_password(user, password)
    if failure:
        return soap_fault(*failure)
    if not org.settings.soap_login_enabled:
        # [inf] The code is the one the issue names; the wording is ours.
        return soap_fault("INSUFFICIENT_ACCESS", SOAP_LOGIN_DISABLED)
    session = org.open_session(user.username)
    return Response.xml(login_response(org, request, user, session, version))


def login_response(org: Org, request: Request, user: User, session: Session, version: str) -> str:
    base = request.base_url
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns="urn:partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{base}/services/Soap/m/{version}/{org.org_id[:15]}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired>"
        "<sandbox>false</sandbox>"
        f"<serverUrl>{base}/services/Soap/u/{version}/{org.org_id[:15]}</serverUrl>"
        f"<sessionId>{session.token}</sessionId>"
        f"<userId>{user.user_id}</userId>"
        "<userInfo>"
        "<accessibilityMode>false</accessibilityMode>"
        "<currencySymbol>$</currencySymbol>"
        "<orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit>"
        "<orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode>"
        "<orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments>"
        "<orgHasPersonAccounts>false</orgHasPersonAccounts>"
        f"<organizationId>{org.org_id}</organizationId>"
        "<organizationMultiCurrency>false</organizationMultiCurrency>"
        "<organizationName>Emulated Org</organizationName>"
        "<profileId>00e5g000000AbCdAAK</profileId>"
        '<roleId xsi:nil="true"/>'
        f"<sessionSecondsValid>{org.settings.session_seconds}</sessionSecondsValid>"
        '<userDefaultCurrencyIsoCode xsi:nil="true"/>'
        f"<userEmail>{escape(user.username)}</userEmail>"
        f"<userFullName>{escape(user.full_name)}</userFullName>"
        f"<userId>{user.user_id}</userId>"
        "<userLanguage>en_US</userLanguage>"
        "<userLocale>en_US</userLocale>"
        f"<userName>{escape(user.username)}</userName>"
        "<userTimeZone>America/Los_Angeles</userTimeZone>"
        "<userType>Standard</userType>"
        "<userUiSkin>Theme3</userUiSkin>"
        "</userInfo>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    return Response.json({"error": error, "error_description": description}, status=status)


def authorize(org: Org, request: Request) -> Response:
    """GET /services/oauth2/authorize: approves at once as the configured OAuth user."""
    query = request.query
    app = org.apps.get(query.get("client_id", ""))
    if app is None:
        return Response(
            status=400,
            body=b"error=invalid_client_id&error_description=client%20identifier%20invalid",
            headers={"Content-Type": "text/plain;charset=UTF-8"},
        )
    redirect_uri = query.get("redirect_uri", "")
    if not redirect_uri or (
        app.callback_urls is not None and redirect_uri not in app.callback_urls
    ):
        return Response(
            status=400,
            body=b"error=redirect_uri_mismatch&error_description=redirect_uri%20must%20match%20configuration",
            headers={"Content-Type": "text/plain;charset=UTF-8"},
        )
    separator = "&" if "?" in redirect_uri else "?"
    if query.get("response_type") != "code":
        params = {
            "error": "unsupported_response_type",
            "error_description": "response type not supported",
        }
    elif query.get("code_challenge") and query.get("code_challenge_method", "S256") != "S256":
        params = {"error": "invalid_request", "error_description": "invalid code_challenge_method"}
    else:
        code = "aPrx" + secrets.token_urlsafe(32)
        with org.lock:
            org.authorization_codes[code] = {
                "client_id": app.client_id,
                "redirect_uri": redirect_uri,
                "code_challenge": query.get("code_challenge"),
                "username": org.settings.oauth_user,
                "expires_at": time.time() + 900,
            }
        params = {"code": code}
    if "state" in query:
        params["state"] = query["state"]
    return Response(status=302, headers={"Location": redirect_uri + separator + urlencode(params)})


def token(org: Org, request: Request) -> Response:
    """POST /services/oauth2/token for the authorization_code, refresh_token,
    client_credentials and password grants."""
    form = request.form()
    grant_type = form.get("grant_type", "")
    grants = {
        "authorization_code": authorization_code_grant,
        "refresh_token": refresh_token_grant,
        "client_credentials": client_credentials_grant,
        "password": password_grant,
    }
    if grant_type not in grants:
        return oauth_error("unsupported_grant_type", "grant type not supported")
    app = org.apps.get(form.get("client_id", ""))
    if app is None:
        return oauth_error("invalid_client_id", "client identifier invalid")
    secret = form.get("client_secret")
    secret_optional = grant_type == "refresh_token" or (
        grant_type == "authorization_code" and not app.secret_required_for_web_server
    )
    if not (secret is None and secret_optional) and secret != app.client_secret:
        return oauth_error("invalid_client", "invalid client credentials")
    return grants[grant_type](org, request, form, app)


def token_response(org: Org, request: Request, session: Session, app, **extra) -> Response:
    user = org.user(session.username)
    issued_at = str(int(session.issued_at * 1000))
    identity = f"{request.base_url}/id/{org.org_id}/{user.user_id}"
    digest = hmac.new(
        app.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
    ).digest()
    body = {
        "access_token": session.token,
        **extra,
        "signature": base64.b64encode(digest).decode(),
        "scope": "api refresh_token",
        "instance_url": request.base_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }
    return Response.json(body)


def authorization_code_grant(org: Org, request: Request, form: dict, app) -> Response:
    with org.lock:
        grant = org.authorization_codes.pop(form.get("code", ""), None)
    if grant is None or grant["client_id"] != app.client_id or grant["expires_at"] < time.time():
        return oauth_error("invalid_grant", "invalid authorization code")
    if grant["redirect_uri"] != form.get("redirect_uri"):
        return oauth_error("invalid_grant", "redirect_uri must match configuration")
    if grant["code_challenge"]:
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if not verifier or not hmac.compare_digest(expected, grant["code_challenge"]):
            return oauth_error("invalid_grant", "invalid code verifier")
    user = org.user(grant["username"])
    if user is None or user.locked:
        return oauth_error("invalid_grant", "authentication failure")
    session = org.open_session(user.username, client_id=app.client_id)
    refresh_token = f"5Aep{secrets.token_urlsafe(40)}"
    with org.lock:
        org.refresh_tokens[refresh_token] = (user.username, app.client_id)
    return token_response(org, request, session, app, refresh_token=refresh_token)


def refresh_token_grant(org: Org, request: Request, form: dict, app) -> Response:
    holder = org.refresh_tokens.get(form.get("refresh_token", ""))
    if holder is None or holder[1] != app.client_id:
        return oauth_error("invalid_grant", "expired access/refresh token")
    user = org.user(holder[0])
    if user is None or user.locked:
        return oauth_error("invalid_grant", "inactive user")
    session = org.open_session(user.username, client_id=app.client_id)
    if app.refresh_token_rotation:
        rotated = f"5Aep{secrets.token_urlsafe(40)}"
        with org.lock:
            org.refresh_tokens.pop(form["refresh_token"], None)
            org.refresh_tokens[rotated] = holder
        return token_response(org, request, session, app, refresh_token=rotated)
    return token_response(org, request, session, app)


def client_credentials_grant(org: Org, request: Request, form: dict, app) -> Response:
    if org.settings.generic_login_host:
        return oauth_error("invalid_grant", "request not supported on this domain")
    user = org.user(app.run_as) if app.run_as else None
    if user is None:
        return oauth_error("invalid_grant", "no client credentials user enabled")
    session = org.open_session(user.username, client_id=app.client_id)
    return token_response(org, request, session, app)


def password_grant(org: Org, request: Request, form: dict, app) -> Response:
    user = org.user(form.get("username", ""))
    if check_password(user, form.get("password", "")):
        return oauth_error("invalid_grant", "authentication failure")
    session = org.open_session(user.username, client_id=app.client_id)
    return token_response(org, request, session, app)


def revoke(org: Org, request: Request) -> Response:
    """POST /services/oauth2/revoke: ends a session or a refresh token."""
    value = request.form().get("token") or request.query.get("token", "")
    with org.lock:
        if value in org.sessions:
            org.sessions[value].expired = True
        elif org.refresh_tokens.pop(value, None) is None:
            return oauth_error("unsupported_token_type", "this token type is not supported")
    return Response.empty(200)
