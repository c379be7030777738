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
