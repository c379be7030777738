"""Fixtures of the connector tests that write to the emulator."""

import pytest

from tests.connectors.recording import speed_up
from tests.factories import make_connection, make_workspace


@pytest.fixture
def fast(monkeypatch):
    """Jobs polled every few hundredths of a second (`usefixtures("fast")` in a module)."""
    speed_up(monkeypatch)


@pytest.fixture
def connector(salesforce_emulator, db):
    """The Salesforce connector of a connection to the emulator, retrying at once."""
    connection = make_connection(
        workspace=make_workspace(), login_url=salesforce_emulator.url, retry_initial_delay=0.01
    )
    return connection.connector
