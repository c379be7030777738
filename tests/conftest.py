"""Shared fixtures."""

import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django must allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytest_plugins = ["tests.salesforce_emulator.fixtures", "tests.sources.fixtures"]


@pytest.fixture
def workspace(db):
    """A workspace ("Acme") nobody belongs to yet."""
    from tests.factories import make_workspace  # models load once Django is set up

    return make_workspace()


@pytest.fixture
def connection(workspace):
    """A Salesforce connection (to login.salesforce.com, never called) in `workspace`."""
    from tests.factories import make_connection

    return make_connection(workspace=workspace)


@pytest.fixture
def keep_the_test_transaction_open():
    """For tests calling the real WSGI handler: it closes the database connection after each
    request when it is not in autocommit mode, which it never is inside a test's transaction;
    Django's own test client disconnects these receivers for the same reason."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
