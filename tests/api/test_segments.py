"""Segments over the API: rules validated by path, `size` counted, filter by parent."""

import io

import pytest

from segments.loading import import_profiles
from segments.models import Segment
from tests.factories import IN_JAPAN, make_parent_segment, make_segment

URL = "/api/v1/segments/"
CSV = "customer_id,country,age\nC001,JP,34\nC002,JP,41\nC003,US,29\n"


@pytest.fixture
def parent(workspace):
    parent = make_parent_segment(workspace=workspace)
    import_profiles(parent_segment=parent, file=io.BytesIO(CSV.encode()))
    return parent


def test_creates_a_segment_and_counts_its_size(workspace, parent, owner_client):
    response = owner_client.post(
        URL,
        {"parent_segment": parent.pk, "name": "Japan", "folder": "Geo", "rules": IN_JAPAN},
        format="json",
    )

    assert response.status_code == 201
    segment = Segment.objects.get()
    assert response.json() == {
        "id": segment.pk,
        "workspace": workspace.pk,
        "parent_segment": parent.pk,
        "name": "Japan",
        "description": "",
        "folder": "Geo",
        "rules": IN_JAPAN,
        "size": 2,
        "created_at": response.json()["created_at"],
        "updated_at": response.json()["updated_at"],
    }


def test_rules_default_to_everyone(parent, owner_client):
    response = owner_client.post(URL, {"parent_segment": parent.pk, "name": "All"}, format="json")

    assert response.status_code == 201
    assert response.json()["rules"] == {"type": "and", "conditions": []}
    assert response.json()["size"] == 3


def test_rule_errors_point_at_the_condition(parent, owner_client):
    rules = {
        "type": "and",
        "conditions": [
            {"column": "country", "operator": "eq", "value": "JP"},
            {"type": "or", "conditions": [{"column": "shoe_size", "operator": "gt", "value": 3}]},
        ],
    }

    response = owner_client.post(
        URL, {"parent_segment": parent.pk, "name": "Bad", "rules": rules}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["rules.conditions[1].conditions[0].column"]
    assert not Segment.objects.exists()


def test_a_parent_segment_of_another_workspace_is_refused(other_workspace, owner_client):
    foreign = make_parent_segment(workspace=other_workspace)

    response = owner_client.post(URL, {"parent_segment": foreign.pk, "name": "X"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "parent_segment": [f'Invalid pk "{foreign.pk}" - object does not exist.']
    }


def test_a_parent_segment_of_another_of_my_workspaces_is_refused(
    workspace, other_workspace, owner, parent, owner_client
):
    from workspaces.models import Membership

    Membership.objects.create(workspace=other_workspace, user=owner, role="owner")

    response = owner_client.post(
        URL,
        {"workspace": other_workspace.pk, "parent_segment": parent.pk, "name": "X"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"parent_segment": ["must be a parent segment of the same workspace"]}


def test_filters_by_parent_segment(workspace, parent, owner_client):
    japan = make_segment(parent=parent, name="Japan", rules=IN_JAPAN)
    make_segment(parent=make_parent_segment(workspace=workspace, name="Leads"), name="Leads")

    response = owner_client.get(URL, {"parent_segment": parent.pk})

    assert response.status_code == 200
    assert [(item["id"], item["size"]) for item in response.json()["results"]] == [(japan.pk, 2)]


def test_an_invalid_filter_value_is_a_400(parent, owner_client):
    response = owner_client.get(URL, {"parent_segment": "abc"})

    assert response.status_code == 400
    assert list(response.json()) == ["parent_segment"]


def test_patch_changes_the_rules(parent, owner_client):
    segment = make_segment(parent=parent)

    response = owner_client.patch(f"{URL}{segment.pk}/", {"rules": IN_JAPAN}, format="json")

    assert response.status_code == 200
    assert response.json()["size"] == 2
    segment.refresh_from_db()
    assert segment.rules == IN_JAPAN
    assert segment.name == "Everyone"


def test_deletes_a_segment(parent, owner_client):
    segment = make_segment(parent=parent)

    response = owner_client.delete(f"{URL}{segment.pk}/")

    assert response.status_code == 204
    assert not Segment.objects.exists()


def test_filtering_by_another_teams_id_looks_like_filtering_by_an_unused_one(
    parent, other_workspace, owner_client
):
    foreign = make_parent_segment(workspace=other_workspace)
    make_segment(parent=foreign)

    foreign_answer = owner_client.get(URL, {"parent_segment": foreign.pk})
    unused_answer = owner_client.get(URL, {"parent_segment": 999_999})

    assert (foreign_answer.status_code, foreign_answer.json()["count"]) == (200, 0)
    assert (unused_answer.status_code, unused_answer.json()["count"]) == (200, 0)
