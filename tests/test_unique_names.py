"""Names are unique per workspace, ignoring case, for segments, parent segments and
connections: a clear error, and a migration fix-up for duplicates saved before the rule."""

import pytest

from common.names import deduplicate_names
from common.validation import InvalidInput
from connectors import services as connection_services
from connectors.models import Connection
from segments import services as segment_services
from segments.models import Segment
from tests.api.conftest import client_for
from tests.factories import (
    make_connection,
    make_parent_segment,
    make_segment,
    make_user,
    make_workspace,
)

pytestmark = pytest.mark.django_db


def test_a_segment_name_taken_in_the_workspace_is_refused_ignoring_case():
    parent = make_parent_segment(workspace=make_workspace())
    make_segment(parent=parent, name="Japan")
    other = make_segment(parent=parent, name="US")

    with pytest.raises(InvalidInput) as raised:
        segment_services.create_segment(
            workspace=parent.workspace, data={"parent_segment": parent, "name": "japan"}
        )
    assert raised.value.errors == {
        "name": ["A segment named “Japan” already exists in this workspace."]
    }
    with pytest.raises(InvalidInput):
        segment_services.update_segment(other, data={"name": "JAPAN"})
    assert Segment.objects.get(pk=other.pk).name == "US"
    # Keeping its own name, or the same name in another workspace, is fine.
    segment_services.update_segment(other, data={"name": "US", "description": "d"})
    elsewhere = make_parent_segment(workspace=make_workspace("Globex"))
    segment_services.create_segment(
        workspace=elsewhere.workspace, data={"parent_segment": elsewhere, "name": "Japan"}
    )


def test_parent_segment_and_connection_names_are_unique_too():
    workspace = make_workspace()
    make_parent_segment(workspace=workspace, name="Customers")
    with pytest.raises(InvalidInput) as raised:
        segment_services.create_parent_segment(
            workspace=workspace,
            data={
                "name": "customers",
                "key_column": "id",
                "columns": [{"name": "id", "type": "string"}],
            },
        )
    assert raised.value.errors == {
        "name": ["A parent segment named “Customers” already exists in this workspace."]
    }

    make_connection(workspace=workspace, name="Production")
    data = {
        "name": "Production",
        "login_url": "https://login.salesforce.com",
        "auth_method": "credentials",
        "username": "u@example.com",
        "password": "pw",
    }
    with pytest.raises(InvalidInput) as raised:
        connection_services.create_connection(workspace=workspace, data=data)
    assert raised.value.errors == {
        "name": ["A connection named “Production” already exists in this workspace."]
    }
    assert Connection.objects.count() == 1


def test_the_api_answers_400_on_the_name():
    workspace = make_workspace()
    client = client_for(make_user("olivia", workspace=workspace, role="owner"))
    parent = make_parent_segment(workspace=workspace)
    make_segment(parent=parent, name="Japan")

    response = client.post(
        "/api/v1/segments/", {"parent_segment": parent.pk, "name": "Japan"}, format="json"
    )

    assert response.status_code == 400
    assert "already exists in this workspace" in str(response.json())


def test_deduplicate_names_numbers_the_later_rows(db):
    """On a plain list of rows shaped like the historical models."""

    class Row:
        def __init__(self, pk, workspace_id, name):
            self.pk, self.workspace_id, self.name = pk, workspace_id, name

    rows = [
        Row(1, 1, "Japan"),
        Row(2, 1, "japan"),
        Row(3, 2, "Japan"),
        Row(4, 1, "Japan (2)"),
        Row(5, 1, "JAPAN"),
    ]
    renamed = {}

    class Manager:
        def only(self, *fields):
            return rows

        def order_by(self, *fields):
            return self

        def filter(self, pk):
            class Update:
                def update(self, name):
                    renamed[pk] = name

            return Update()

    class Model:
        objects = Manager()

    deduplicate_names(Model)

    assert renamed == {2: "japan (3)", 5: "JAPAN (4)"}


def test_the_forms_show_the_error_at_the_name(client):
    workspace = make_workspace()
    client.force_login(make_user("olivia", workspace=workspace, role="owner"))
    parent = make_parent_segment(workspace=workspace)
    make_segment(parent=parent, name="Japan")
    make_connection(workspace=workspace, name="Production")

    response = client.post(
        "/segments/new/",
        {"parent_segment": parent.pk, "name": "Japan", "rules": '{"type":"and","conditions":[]}'},
    )
    assert response.status_code == 400
    assert "A segment named “Japan” already exists in this workspace." in response.content.decode()

    response = client.post(
        "/connections/new/",
        {
            "name": "production",
            "login_url": "https://login.salesforce.com",
            "auth_method": "credentials",
            "username": "u@example.com",
            "password": "pw",
            "retry_initial_delay": "1",
            "retry_limit": "3",
        },
    )
    assert "A connection named “Production” already exists" in response.content.decode()
    assert Connection.objects.count() == 1
