"""Shared fixtures."""

import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django must allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytest_plugins = ["tests.salesforce_emulator.fixtures", "tests.sources.fixtures"]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        # The Redis tests run on one xdist worker, one after the other (tests/redis_db.py).
        if item.get_closest_marker("redis"):
            item.add_marker(pytest.mark.xdist_group("redis"))
    if config.getoption("loadgroup", False):  # set by xdist in its workers
        for item in items:
            tag_for_loadgroup(item)


def tag_for_loadgroup(item):
    """Node ids as pytest-xdist's --dist loadgroup needs them: one per test, with its group.
    Under pytest 9.2 schemathesis gives every operation's test the same id (the scheduler
    would run one of them), and xdist 3.8 writes the group into item._nodeid, which pytest
    no longer reads (the groups would be ignored); so both go into the id pytest reads."""
    nodeid = (
        f"{item.parent.nodeid}::{item.name}" if hasattr(item, "operation_label") else item.nodeid
    )
    groups = {
        mark.args[0] if mark.args else mark.kwargs.get("name", "default")
        for mark in item.iter_markers("xdist_group")
    }
    if groups and "@" not in nodeid.rsplit("::", 1)[-1]:
        nodeid += "@" + "_".join(sorted(map(str, groups)))
    if nodeid != item.nodeid:
        item._id = type(item.id).parse(nodeid)


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
