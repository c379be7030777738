"""The REST API contract of issue 5, workspaces.

Each test reads one sentence of the contract and drives the API as a script would."""

from django.contrib.auth.models import User

from tests.api.contract.helpers import API, PASSWORD, create, login
from workspaces.models import Membership, Workspace


def test_workspaces_lists_the_users_workspaces_with_their_role(team, owner):
    other = Workspace.objects.create(name="Sales")
    Membership.objects.create(user=owner, workspace=other, role="viewer")
    Workspace.objects.create(name="Not mine")

    response = login("owner").get(f"{API}/workspaces/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert {(item["id"], item["name"], item["role"]) for item in results} == {
        (team.pk, "Marketing", "owner"),
        (other.pk, "Sales", "viewer"),
    }


def test_a_new_superuser_gets_a_personal_workspace_on_first_use(db):
    User.objects.create_superuser("root", "root@example.com", PASSWORD)
    client = login("root")

    workspaces = client.get(f"{API}/workspaces/").json()["results"]
    created = client.post(
        f"{API}/parent-segments/",
        {"name": "Customers", "key_column": "id", "columns": [{"name": "id", "type": "string"}]},
        format="json",
    )

    assert len(workspaces) == 1
    assert workspaces[0]["role"] == "owner"
    assert created.status_code == 201
    assert created.json()["workspace"] == workspaces[0]["id"]


def test_a_new_superuser_can_create_without_listing_workspaces_first(db):
    User.objects.create_superuser("root", "root@example.com", PASSWORD)

    created = login("root").post(
        f"{API}/connections/",
        {
            "name": "Sandbox",
            "login_url": "https://test.salesforce.com",
            "username": "u",
            "password": "p",
        },
        format="json",
    )

    assert created.status_code == 201
    assert Workspace.objects.filter(pk=created.json()["workspace"]).exists()


def test_workspace_may_be_left_out_with_one_workspace(team, client):
    body = create(
        client,
        "parent-segments",
        {"name": "Customers", "key_column": "id", "columns": [{"name": "id", "type": "string"}]},
    )

    assert body["workspace"] == team.pk


def test_workspace_is_required_with_several_workspaces(team, owner, client):
    Membership.objects.create(
        user=owner, workspace=Workspace.objects.create(name="B"), role="owner"
    )

    missing = client.post(
        f"{API}/parent-segments/",
        {"name": "Customers", "key_column": "id", "columns": [{"name": "id", "type": "string"}]},
        format="json",
    )
    given = client.post(
        f"{API}/parent-segments/",
        {
            "workspace": team.pk,
            "name": "Customers",
            "key_column": "id",
            "columns": [{"name": "id", "type": "string"}],
        },
        format="json",
    )

    assert missing.status_code == 400
    assert list(missing.json()) == ["workspace"]
    assert given.status_code == 201
    assert given.json()["workspace"] == team.pk
