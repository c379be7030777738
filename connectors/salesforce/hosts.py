"""Which hosts a connection may log in to: Salesforce's own, or ones named in the settings.

A login URL decides where we send credentials and which server's answers we trust, so it is
restricted to Salesforce's documented host forms; anything else (a private gateway, the
emulator) must be named in SALESFORCE_ALLOWED_HOSTS. That keeps the service from being pointed
at internal addresses. Only https is accepted: Salesforce serves nothing over http, and the
emulator speaks https with its own certificate, so there is no need for a plain-http escape.
"""

import re
from urllib.parse import urlsplit

from django.conf import settings

from common.validation import InvalidInput

# The documented host forms, all under salesforce.com (which Salesforce controls):
# - login / test: the generic production and sandbox login hosts;
# - My Domain: <domain>.my.salesforce.com, and its sandbox, developer-edition, scratch,
#   demo, patch and Trailhead forms (<domain>--<sandbox>.sandbox.my.salesforce.com, ...);
# - classic instance hosts (na1, cs42, eu12), which old sessions report as instance URLs.
# *.force.com hosts (Visualforce, Experience Cloud sites) serve no login or Bulk API, so
# they are refused like any other host.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
SALESFORCE_HOST_PATTERNS = [
    re.compile(r"login\.salesforce\.com"),
    re.compile(r"test\.salesforce\.com"),
    re.compile(
        rf"{_LABEL}(?:\.(?:sandbox|develop|scratch|demo|patch|trailblaze))?\.my\.salesforce\.com"
    ),
    re.compile(r"[a-z]{2,4}[0-9]{1,3}\.salesforce\.com"),
]
GENERIC_LOGIN_HOSTS = {"login.salesforce.com", "test.salesforce.com"}


def is_salesforce_host(host: str) -> bool:
    return any(pattern.fullmatch(host) for pattern in SALESFORCE_HOST_PATTERNS)


def allowed_hosts() -> set[str]:
    return {entry.strip().lower() for entry in settings.SALESFORCE_ALLOWED_HOSTS if entry.strip()}


def normalize_login_url(url: str) -> str:
    """Return the canonical form of an acceptable login URL ("https://host[:port]").

    Raises ValueError with a user-facing message when the URL is not acceptable: not https,
    carrying user info, a path, a query or a fragment, or naming a host that is neither a
    Salesforce host form nor listed (as host or host:port) in SALESFORCE_ALLOWED_HOSTS.
    IP literals are refused unless listed.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("Enter the login URL, e.g. https://login.salesforce.com.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError("This is not a valid URL.") from None
    if parts.scheme.lower() != "https":
        raise ValueError("The login URL must start with https://.")
    if not parts.hostname:
        raise ValueError("The login URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise ValueError("The login URL must not contain a user name or password.")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(
            "The login URL is just the scheme and host, e.g. https://login.salesforce.com "
            "(no path or query)."
        )
    host = parts.hostname.lower()
    host_port = f"{host}:{port}" if port is not None else host
    allowed = allowed_hosts()
    if port in (None, 443) and host in allowed:
        return f"https://{host}"
    if host_port in allowed:
        return f"https://{host_port}"
    if is_salesforce_host(host) and port in (None, 443):
        return f"https://{host}"
    raise ValueError(
        f"{host_port} is not a Salesforce login host. Use https://login.salesforce.com, "
        "https://test.salesforce.com or your My Domain URL (https://<domain>.my.salesforce.com); "
        "other hosts must be listed in SALESFORCE_ALLOWED_HOSTS."
    )


def validate_login_url(url: str) -> str:
    """Check a login URL (see normalize_login_url) and return its canonical form.

    Raises InvalidInput({"login_url": [message]}).
    """
    try:
        return normalize_login_url(url)
    except ValueError as exc:
        raise InvalidInput({"login_url": [str(exc)]}) from None
