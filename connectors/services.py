"""Creating, changing and testing connections; the one place their rules are checked."""

import contextlib
import copy
import math

from django.db import IntegrityError, transaction

from common import names
from common.masking import mask_secrets
from common.validation import ErrorCollector

from .base import ConnectorError
from .models import Connection
from .registry import CONNECTORS
from .salesforce.hosts import GENERIC_LOGIN_HOSTS, normalize_login_url
from .salesforce.hosts import validate_login_url as validate_login_url

MAX_RETRY_INITIAL_DELAY = 300.0
MAX_RETRY_LIMIT = 10
TEXT_FIELDS = ("name", "username", "client_id")
# The secrets each auth method uses. Secrets of other methods are cleared on save, so a
# connection never keeps a password it no longer needs.
SECRETS_BY_METHOD = {
    Connection.AuthMethod.CREDENTIALS: ("password", "security_token"),
    Connection.AuthMethod.OAUTH: ("client_secret", "refresh_token"),
    Connection.AuthMethod.CLIENT_CREDENTIALS: ("client_secret",),
    Connection.AuthMethod.SESSION_ID: ("session_id",),
}
REQUIRED_BY_METHOD = {
    Connection.AuthMethod.CREDENTIALS: ("username", "password"),
    Connection.AuthMethod.OAUTH: ("client_id", "client_secret"),
    Connection.AuthMethod.CLIENT_CREDENTIALS: ("client_id", "client_secret"),
    Connection.AuthMethod.SESSION_ID: ("session_id",),
}
FIELD_LABELS = {
    "username": "username",
    "password": "password",
    "client_id": "client id",
    "client_secret": "client secret",
    "session_id": "session id",
}


def create_connection(*, workspace, data: dict) -> Connection:
    """Validate `data` and create a connection in `workspace`.

    `data` holds name, login_url, auth_method, the method's fields (username, password,
    security_token, client_id, client_secret, refresh_token, session_id) and optionally
    kind, retry_initial_delay and retry_limit. Raises InvalidInput keyed by field name.
    """
    connection = Connection(workspace=workspace)
    _apply(connection, data, creating=True)
    _check_name_free(connection)
    with _unique_name(connection.name):
        connection.save()
    return connection


def update_connection(connection: Connection, *, data: dict) -> Connection:
    """Validate `data` and change the connection. A missing or blank secret keeps the stored
    one. Changing the login URL or client id of an OAuth connection drops its refresh token
    (it belongs to the old app or org), unless a new one is given."""
    draft = copy.copy(connection)  # the caller's object stays as it was if `data` is refused
    _apply(draft, data, creating=False)
    _check_name_free(draft)
    with _unique_name(draft.name), transaction.atomic():
        if draft.refresh_token == connection.refresh_token:
            # A run may have rotated the refresh token since `connection` was loaded (each
            # refresh retires the previous token); saving the loaded one would undo that.
            draft.save(update_fields=_fields_except("id", "refresh_token"))
        else:
            draft.save()
    connection.__dict__.update(draft.__dict__)
    return connection


def _check_name_free(connection: Connection) -> None:
    names.check_name_free(
        Connection.objects.filter(workspace_id=connection.workspace_id),
        name=connection.name,
        current_pk=connection.pk,
        noun="connection",
    )


@contextlib.contextmanager
def _unique_name(name: str):
    """A save that lost a race for its name to another says so, instead of a 500."""
    try:
        yield
    except IntegrityError as error:
        invalid = names.name_taken_error(error, name=name, noun="connection")
        if invalid is None:
            raise
        raise invalid from None


def _fields_except(*names: str) -> list[str]:
    return [field.name for field in Connection._meta.concrete_fields if field.name not in names]


def test_connection(connection: Connection) -> str | None:
    """Log in with the connection; None when it works, else a message saying what is wrong."""
    try:
        connection.connector.verify()
    except ConnectorError as exc:
        return without_secrets(connection, exc.message)
    return None


def without_secrets(connection: Connection, text: str) -> str:
    """`text` with any of the connection's stored secrets replaced by "[hidden]", should a
    server's error message quote one (the message is shown on a page and in the API), in
    any of the encodings a server may echo it in (common/masking.py)."""
    return mask_secrets(text, (getattr(connection, name) for name in Connection.SECRET_FIELDS))


test_connection.__test__ = False  # not a pytest test, despite the name


def _apply(connection: Connection, data: dict, *, creating: bool) -> None:
    errors = ErrorCollector()
    previous = {"login_url": connection.login_url, "client_id": connection.client_id}

    for name in TEXT_FIELDS:
        if name in data:
            value = data[name]
            if value is None:
                value = ""
            if not isinstance(value, str):
                errors.add(name, "Enter text.")
                continue
            setattr(connection, name, value.strip())
    if creating or "name" in data:
        if not connection.name:
            errors.add("name", "Enter a name.")
        elif len(connection.name) > 200:
            errors.add("name", "Use at most 200 characters.")

    if "kind" in data or creating:
        kind = data.get("kind") or "salesforce"
        if kind not in CONNECTORS:
            errors.add("kind", f"Unknown kind {kind!r}.")
        else:
            connection.kind = kind

    if "auth_method" in data or creating:
        method = data.get("auth_method") or Connection.AuthMethod.CREDENTIALS
        if method not in Connection.AuthMethod.values:
            choices = ", ".join(Connection.AuthMethod.values)
            errors.add("auth_method", f"Choose one of {choices}.")
        else:
            connection.auth_method = method

    if "login_url" in data or creating:
        url = data.get("login_url") or "https://login.salesforce.com"
        try:
            connection.login_url = normalize_login_url(url)
        except ValueError as exc:
            errors.add("login_url", str(exc))
        else:
            _check_login_url_fits_method(connection, errors)

    for name in Connection.SECRET_FIELDS:
        value = data.get(name)
        if value is None or value == "":
            continue  # blank keeps the stored secret
        if not isinstance(value, str):
            errors.add(name, "Enter text.")
        else:
            setattr(connection, name, value)  # as typed: a password may end in a space

    _apply_retry_settings(connection, data, errors)

    method = connection.auth_method
    if "auth_method" not in errors.errors:
        for name in REQUIRED_BY_METHOD[method]:
            if not getattr(connection, name) and name not in errors.errors:
                errors.add(name, f"Enter the {FIELD_LABELS[name]}.")
    errors.raise_if_any()

    moved = (connection.login_url, connection.client_id) != (
        previous["login_url"],
        previous["client_id"],
    )
    if not creating and moved and not data.get("refresh_token"):
        connection.refresh_token = ""
    kept = SECRETS_BY_METHOD.get(method, ())
    for name in Connection.SECRET_FIELDS:
        if name not in kept:
            setattr(connection, name, "")


def checked_login_url(url: str, auth_method: str) -> str:
    """The login URL normalised and checked as the API and UI check it (https, allowed
    hosts, fits the auth method); InvalidInput on `login_url`. For the admin's form."""
    errors = ErrorCollector()
    probe = Connection(auth_method=auth_method)
    try:
        probe.login_url = normalize_login_url(url)
    except ValueError as exc:
        errors.add("login_url", str(exc))
    else:
        _check_login_url_fits_method(probe, errors)
    errors.raise_if_any()
    return probe.login_url


def _check_login_url_fits_method(connection: Connection, errors: ErrorCollector) -> None:
    host = connection.login_url.removeprefix("https://")
    if host not in GENERIC_LOGIN_HOSTS:
        return
    if connection.auth_method == Connection.AuthMethod.CLIENT_CREDENTIALS:
        errors.add(
            "login_url",
            "The client credentials flow needs your My Domain URL "
            "(https://<domain>.my.salesforce.com), not " + connection.login_url + ".",
        )
    elif connection.auth_method == Connection.AuthMethod.SESSION_ID:
        errors.add(
            "login_url",
            "For a session id, enter the instance URL the session belongs to "
            "(e.g. https://<domain>.my.salesforce.com), not " + connection.login_url + ".",
        )


def _apply_retry_settings(connection: Connection, data: dict, errors: ErrorCollector) -> None:
    if "retry_initial_delay" in data:
        value = data["retry_initial_delay"]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            errors.add("retry_initial_delay", "Enter a number of seconds.")
        else:
            try:
                delay = float(value)
            except ValueError:
                errors.add("retry_initial_delay", "Enter a number of seconds.")
            else:
                if not math.isfinite(delay) or not 0 <= delay <= MAX_RETRY_INITIAL_DELAY:
                    errors.add(
                        "retry_initial_delay",
                        f"Enter between 0 and {MAX_RETRY_INITIAL_DELAY:g} seconds.",
                    )
                else:
                    connection.retry_initial_delay = delay
    if "retry_limit" in data:
        value = data["retry_limit"]
        try:
            limit = int(value) if not isinstance(value, bool | float) else None
        except (TypeError, ValueError):
            limit = None
        if limit is None or not 0 <= limit <= MAX_RETRY_LIMIT:
            errors.add("retry_limit", f"Enter a whole number from 0 to {MAX_RETRY_LIMIT}.")
        else:
            connection.retry_limit = limit
