"""The workspaces endpoint: the user's workspaces with their role, and the personal one."""

from rest_framework.test import APIClient

from tests.api.conftest import client_for
from tests.factories import make_user, make_workspace
from workspaces.models import Membership, Workspace


def test_lists_the_users_workspaces_with_their_role(workspace, other_workspace, viewer):
    Membership.objects.create(workspace=other_workspace, user=viewer, role="editor")
    make_workspace("Initech")

    response = client_for(viewer).get("/api/v1/workspaces/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(item["id"], item["name"], item["role"]) for item in body["results"]] == [
        (workspace.pk, "Acme", "viewer"),
        (other_workspace.pk, "Globex", "editor"),
    ]
    assert set(body["results"][0]) == {"id", "name", "role", "created_at", "updated_at"}


def test_role_is_the_requesting_users_own(workspace, owner, viewer):
    response = client_for(owner).get(f"/api/v1/workspaces/{workspace.pk}/")

    assert response.status_code == 200
    assert response.json()["role"] == "owner"


def test_another_teams_workspace_is_not_found(other_workspace, owner):
    response = client_for(owner).get(f"/api/v1/workspaces/{other_workspace.pk}/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No Workspace matches the given query."}


def test_a_user_without_a_workspace_gets_a_personal_one_on_first_use(db):
    admin = make_user("root", is_superuser=True, is_staff=True)

    response = client_for(admin).get("/api/v1/workspaces/")

    assert response.status_code == 200
    assert response.json()["count"] == 1
    workspace = Workspace.objects.get()
    assert response.json()["results"][0] == {
        "id": workspace.pk,
        "name": "root's workspace",
        "role": "owner",
        "created_at": response.json()["results"][0]["created_at"],
        "updated_at": response.json()["results"][0]["updated_at"],
    }


def test_workspaces_are_read_only(workspace, owner):
    client = client_for(owner)

    assert client.post("/api/v1/workspaces/", {"name": "X"}, format="json").status_code == 405
    assert (
        client.patch(f"/api/v1/workspaces/{workspace.pk}/", {"name": "X"}, format="json")
    ).status_code == 405
    assert client.delete(f"/api/v1/workspaces/{workspace.pk}/").status_code == 405
    assert Workspace.objects.get(pk=workspace.pk).name == "Acme"


def test_anonymous_requests_see_no_workspaces(db):
    assert APIClient().get("/api/v1/workspaces/").status_code == 401
