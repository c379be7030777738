"""The permission matrix: owner, editor, viewer and outsider against every resource and verb.

Members see their workspace's objects; owners and editors change and run them; viewers only
look; everyone else gets 404 for the objects (and an empty list), as if they did not exist.
"""

import pytest

from activations.models import Activation, Run
from connectors.models import Connection
from segments.models import ParentSegment, Segment
from tests.api.conftest import client_for
from tests.factories import (
    make_activation,
    make_connection,
    make_parent_segment,
    make_segment,
)

ROLES = ["owner", "editor", "viewer", "outsider"]
WRITERS = {"owner", "editor"}
MEMBERS = {"owner", "editor", "viewer"}


def build(workspace) -> dict:
    """One object of every kind in the workspace, and what it takes to create another."""
    parent = make_parent_segment(workspace=workspace)
    segment = make_segment(parent=parent)
    connection = make_connection(workspace=workspace)
    activation = make_activation(segment=segment, connection=connection)
    return {
        "parent-segments": {
            "object": make_parent_segment(workspace=workspace, name="Spare"),
            "model": ParentSegment,
            "create": {
                "workspace": workspace.pk,
                "name": "New",
                "key_column": "id",
                "columns": [{"name": "id", "type": "string"}],
            },
            "update": {"name": "Renamed"},
        },
        "segments": {
            "object": make_segment(parent=parent, name="Spare"),
            "model": Segment,
            "create": {"workspace": workspace.pk, "parent_segment": parent.pk, "name": "New"},
            "update": {"name": "Renamed"},
        },
        "connections": {
            "object": make_connection(workspace=workspace, name="Spare"),
            "model": Connection,
            "create": {
                "workspace": workspace.pk,
                "name": "New",
                "username": "someone@example.com",
                "password": "secret",
            },
            "update": {"name": "Renamed"},
        },
        "activations": {
            "object": make_activation(segment=segment, connection=connection, name="Spare"),
            "model": Activation,
            "create": {
                "workspace": workspace.pk,
                "name": "New",
                "segment": segment.pk,
                "connection": connection.pk,
                "export": {"mode": "append", "object": "Contact"},
                "output_mapping": {"export_all_columns": True},
            },
            "update": {"name": "Renamed"},
        },
        "activation": activation,
    }


@pytest.fixture
def clients(owner, editor, viewer, outsider):
    users = {"owner": owner, "editor": editor, "viewer": viewer, "outsider": outsider}
    return {role: client_for(user) for role, user in users.items()}


RESOURCES = ["parent-segments", "segments", "connections", "activations"]


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_list(workspace, clients, resource, role):
    objects = build(workspace)
    model = objects[resource]["model"]

    response = clients[role].get(f"/api/v1/{resource}/")

    assert response.status_code == 200
    expected = model.objects.filter(workspace=workspace).count() if role in MEMBERS else 0
    assert response.json()["count"] == expected


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_retrieve(workspace, clients, resource, role):
    target = build(workspace)[resource]["object"]

    response = clients[role].get(f"/api/v1/{resource}/{target.pk}/")

    assert response.status_code == (200 if role in MEMBERS else 404)


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_create(workspace, clients, resource, role):
    spec = build(workspace)[resource]
    before = spec["model"].objects.count()

    response = clients[role].post(f"/api/v1/{resource}/", spec["create"], format="json")

    if role in WRITERS:
        assert response.status_code == 201, response.json()
        assert spec["model"].objects.count() == before + 1
    elif role == "viewer":
        assert response.status_code == 403
        assert response.json() == {
            "detail": f"You have the viewer role in workspace {workspace.pk}: "
            "creating needs the owner or editor role."
        }
        assert spec["model"].objects.count() == before
    else:
        assert response.status_code == 400
        assert response.json() == {"workspace": [f"No workspace {workspace.pk} among yours."]}
        assert spec["model"].objects.count() == before


@pytest.mark.parametrize("method", ["patch", "put"])
@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_update(workspace, clients, resource, role, method):
    spec = build(workspace)[resource]
    target = spec["object"]
    body = spec["update"]
    if method == "put":
        current = clients["owner"].get(f"/api/v1/{resource}/{target.pk}/").json()
        body = {**current, **body}

    response = getattr(clients[role], method)(
        f"/api/v1/{resource}/{target.pk}/", body, format="json"
    )

    target.refresh_from_db()
    if role in WRITERS:
        assert response.status_code == 200, response.json()
        assert target.name == "Renamed"
    else:
        assert response.status_code == (403 if role == "viewer" else 404)
        assert target.name == "Spare"


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_delete(workspace, clients, resource, role):
    spec = build(workspace)[resource]
    target = spec["object"]

    response = clients[role].delete(f"/api/v1/{resource}/{target.pk}/")

    exists = spec["model"].objects.filter(pk=target.pk).exists()
    if role in WRITERS:
        assert response.status_code == 204
        assert not exists
    else:
        assert response.status_code == (403 if role == "viewer" else 404)
        assert exists


@pytest.mark.parametrize("role", ROLES)
def test_run(workspace, clients, role):
    activation = build(workspace)["activation"]

    response = clients[role].post(f"/api/v1/activations/{activation.pk}/runs/")

    if role in WRITERS:
        assert response.status_code == 202
        assert Run.objects.filter(activation=activation).count() == 1
    else:
        assert response.status_code == (403 if role == "viewer" else 404)
        assert not Run.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_runs_are_visible_to_members_only(workspace, clients, role):
    run = Run.objects.create(activation=build(workspace)["activation"], status="succeeded")

    listing = clients[role].get("/api/v1/runs/")
    detail = clients[role].get(f"/api/v1/runs/{run.pk}/")

    assert listing.json()["count"] == (1 if role in MEMBERS else 0)
    assert detail.status_code == (200 if role in MEMBERS else 404)


@pytest.mark.parametrize("role", ROLES)
def test_cancel(workspace, clients, role):
    run = Run.objects.create(activation=build(workspace)["activation"], status="queued")

    response = clients[role].post(f"/api/v1/runs/{run.pk}/cancel/")

    run.refresh_from_db()
    if role in WRITERS:
        assert response.status_code == 200
        assert run.status == "cancelled"
    else:
        assert response.status_code == (403 if role == "viewer" else 404)
        assert run.status == "queued"


@pytest.mark.parametrize("role", ROLES)
def test_preview_is_for_members(workspace, clients, role):
    activation = build(workspace)["activation"]

    response = clients[role].post(f"/api/v1/activations/{activation.pk}/preview/")

    assert response.status_code == (200 if role in MEMBERS else 404)
