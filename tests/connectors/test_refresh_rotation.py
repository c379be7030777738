"""Refresh token rotation: each refresh hands out a new token and retires the old one
(Salesforce Help, "OAuth 2.0 Refresh Token Flow for Renewed Sessions"), so whoever refreshes
must save the new token, and everyone else must pick it up."""

import pytest

from connectors.models import Connection
from connectors.salesforce.oauth import exchange_code
from connectors.services import test_connection as check
from tests.connectors.recording import RecordingSink, export, speed_up
from tests.connectors.test_auth import REDIRECT_URI, authorize, oauth_connection
from tests.factories import make_workspace

# Job threads write the rotated token over their own database connections, which see (and
# can write) only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def connection(salesforce_emulator):
    salesforce_emulator.connected_app().refresh_token_rotation = True
    connection = oauth_connection(salesforce_emulator, make_workspace(), retry_initial_delay=0.01)
    code, verifier = authorize(salesforce_emulator, connection)
    exchange_code(connection, code=code, code_verifier=verifier, redirect_uri=REDIRECT_URI)
    return Connection.objects.get(pk=connection.pk)


def stored_token(connection) -> str:
    return Connection.objects.get(pk=connection.pk).refresh_token


def live_tokens(emulator) -> set[str]:
    return set(emulator.org.refresh_tokens)


def test_token_rotated_by_a_job_thread_is_saved(salesforce_emulator, connection, monkeypatch):
    speed_up(monkeypatch)
    # The session expires while the job threads poll, so one of them logs in again.
    salesforce_emulator.inject("session_expired", path=r"/jobs/ingest/750\w+$", method="GET")

    result = connection.connector.write(
        export(batch_size=1), ["LastName"], [["A"], ["B"], ["C"]], RecordingSink()
    )

    assert result.rows_succeeded == 3
    token_requests = [p for _, p in salesforce_emulator.requests_log if p.endswith("/token")]
    assert len(token_requests) == 3  # the code exchange, the run's login, the thread's login
    assert live_tokens(salesforce_emulator) == {stored_token(connection)}
    assert check(Connection.objects.get(pk=connection.pk)) is None


def test_a_run_holding_a_token_another_run_rotated_uses_the_saved_one(
    salesforce_emulator, connection
):
    # Two runs of the same connection load it before either logs in.
    first = Connection.objects.get(pk=connection.pk)
    second = Connection.objects.get(pk=connection.pk)

    assert check(first) is None  # rotates the token and saves the new one
    assert check(second) is None  # its token was retired; it reads the saved one

    assert live_tokens(salesforce_emulator) == {stored_token(connection)}
    assert second.refresh_token == stored_token(connection)


def test_a_revoked_token_is_asked_for_once_more_only_when_a_newer_one_was_saved(
    salesforce_emulator, connection
):
    salesforce_emulator.org.refresh_tokens.clear()  # revoked in Salesforce

    assert check(connection) == (
        "Salesforce refused the refresh token (it was revoked or has expired): connect to "
        "Salesforce again. (expired access/refresh token)"
    )
    token_requests = [p for _, p in salesforce_emulator.requests_log if p.endswith("/token")]
    assert len(token_requests) == 2  # the code exchange and one refresh: no pointless retry
