"""The contract tests' fixtures: a team with its owner logged in by token, and the
objects most tests start from, created through the API."""

import functools

import pytest
from rest_framework.test import APIClient

from tests.api.contract.helpers import (
    API,
    CUSTOMERS_CSV,
    activation_errors,
    create,
    create_activation,
    emulator_connection,
    login,
    member,
    run_to_the_end,
    scheduled,
    upload,
)
from tests.factories import CUSTOMER_COLUMNS
from workspaces.models import Workspace


@pytest.fixture
def team(db):
    return Workspace.objects.create(name="Marketing")


@pytest.fixture
def owner(team):
    return member("owner", team, "owner")


@pytest.fixture
def client(owner):
    return login("owner")


@pytest.fixture
def parent(client):
    body = create(
        client,
        "parent-segments",
        {"name": "Customers", "key_column": "customer_id", "columns": CUSTOMER_COLUMNS},
    )
    assert upload(client, body["id"], CUSTOMERS_CSV).status_code == 200
    return body


@pytest.fixture
def everyone(client, parent):
    return create(
        client,
        "segments",
        {
            "parent_segment": parent["id"],
            "name": "Everyone",
            "rules": {"type": "and", "conditions": []},
        },
    )


@pytest.fixture
def connection(client):
    return create(
        client,
        "connections",
        {
            "name": "Production",
            "login_url": "https://login.salesforce.com",
            "auth_method": "credentials",
            "username": "marketer@example.com",
            "password": "hunter2",
            "security_token": "TOKEN123",
        },
    )


@pytest.fixture
def activation(client, everyone, connection):
    return create_activation(client, everyone, connection)


@pytest.fixture
def viewer(team):
    member("viewer", team, "viewer")
    return login("viewer")


@pytest.fixture
def editor(team):
    member("editor", team, "editor")
    return login("editor")


@pytest.fixture
def stranger(db):
    member("stranger", Workspace.objects.create(name="Competitor"), "owner")
    return login("stranger")


@pytest.fixture
def openapi(db):
    response = APIClient().get(f"{API}/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def new_activation(client, everyone, connection):
    """Creates an activation of Everyone through the connection, with minimal_activation's
    fields and the changes given; answers its body."""
    return functools.partial(create_activation, client, everyone, connection)


@pytest.fixture
def refused_activation(client, everyone, connection):
    """Posts an activation of Everyone through the connection that the API must refuse;
    answers its errors by field."""
    return functools.partial(activation_errors, client, everyone, connection)


@pytest.fixture
def schedule_for(client, everyone, connection):
    """Creates an activation of Everyone with the schedule given; answers its schedule."""
    return functools.partial(scheduled, client, everyone, connection)


@pytest.fixture
def emulator_activation(client, everyone, salesforce_emulator):
    """Creates an activation of a segment (Everyone unless given) through a new connection to
    the emulator, with minimal_activation's fields and the changes given; answers its body."""

    def create(segment=None, **changes):
        connection = emulator_connection(client, salesforce_emulator)
        return create_activation(client, segment or everyone, connection, **changes)

    return create


@pytest.fixture
def finished_run(client, django_capture_on_commit_callbacks):
    """Runs an activation (its body) now; answers the run once it has finished."""
    return lambda activation: run_to_the_end(
        client, activation["id"], django_capture_on_commit_callbacks
    )
