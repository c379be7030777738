"""pytest fixtures that start the Salesforce emulator once and reset it for every test."""

import pytest

from tests.connectors.recording import speed_up

from .server import SalesforceEmulator


@pytest.fixture(scope="session")
def salesforce_emulator_server():
    """The HTTPS server, shared by the whole test session."""
    with SalesforceEmulator() as emulator:
        yield emulator


@pytest.fixture
def salesforce_emulator(salesforce_emulator_server, settings, monkeypatch):
    """A fresh org on the shared server, allowed as a login host and trusted by requests."""
    emulator = salesforce_emulator_server
    emulator.reset()
    settings.SALESFORCE_ALLOWED_HOSTS = [*settings.SALESFORCE_ALLOWED_HOSTS, emulator.host]
    # requests lets REQUESTS_CA_BUNDLE override a session's verify=True, so this is how the
    # connector (which verifies certificates) comes to trust the emulator's certificate.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_path)
    monkeypatch.setenv("CURL_CA_BUNDLE", emulator.ca_path)
    # Its jobs finish in hundredths of a second: polled at the production pace (0.5 s, then
    # doubling) each job would wait half a second for nothing, minutes over the suite.
    speed_up(monkeypatch)
    yield emulator
    emulator.reset()


@pytest.fixture
def salesforce_connection(salesforce_emulator, db):
    """A saved Connection (SOAP credentials) pointing at the emulator, in its own workspace."""
    from tests.factories import make_connection, make_workspace

    return make_connection(workspace=make_workspace("Emulated"), login_url=salesforce_emulator.url)
