"""The org's objects and fields for the mapping editor, from the emulator, cached per
connection; the JSON the editor and the API read."""

import pytest
from django.core.cache import cache

from connectors import catalog
from tests.api.conftest import client_for
from tests.factories import make_user


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_lists_the_writable_objects_by_label(salesforce_connection):
    objects = catalog.objects(salesforce_connection)

    names = [item["name"] for item in objects]
    assert {"Account", "Contact", "Lead", "Audience_Member__c"} <= set(names)
    contact = next(item for item in objects if item["name"] == "Contact")
    assert contact == {
        "name": "Contact",
        "label": "Contact",
        "custom": False,
        "createable": True,
        "updateable": True,
    }
    labels = [item["label"].lower() for item in objects]
    assert labels == sorted(labels)


def test_fields_carry_flags_types_and_accepted_source_types(salesforce_connection):
    fields = {item["name"]: item for item in catalog.fields(salesforce_connection, "Contact")}

    assert fields["LastName"]["required"] is True
    assert fields["FirstName"]["required"] is False
    assert fields["Customer_Key__c"]["external_id"] is True
    assert fields["Email"]["id_lookup"] is True
    assert fields["Birthdate"]["accepts"] == ["date"]
    assert fields["Age__c"]["accepts"] == ["integer", "number"]
    assert "boolean" in fields["Title"]["accepts"]
    assert fields["AccountId"]["relationship_name"] == "Account"
    # Fields nobody can write are left out.
    assert "Name" not in fields
    # Required fields come first.
    ordered = catalog.fields(salesforce_connection, "Contact")
    assert ordered[0]["required"] is True


def test_answers_come_from_the_cache_until_refreshed(salesforce_connection, salesforce_emulator):
    catalog.objects(salesforce_connection)
    calls = len(salesforce_emulator.org.requests_log)
    catalog.objects(salesforce_connection)
    assert len(salesforce_emulator.org.requests_log) == calls
    salesforce_emulator.org.schema.set_object("Lead", createable=False, updateable=False)
    assert "Lead" in [item["name"] for item in catalog.objects(salesforce_connection)]

    refreshed = catalog.objects(salesforce_connection, refresh=True)

    assert "Lead" not in [item["name"] for item in refreshed]


def test_unknown_object_is_a_clear_error(salesforce_connection):
    with pytest.raises(catalog.CatalogError) as raised:
        catalog.fields(salesforce_connection, "Nope__c")
    assert raised.value.field == "export.object"
    assert "no object named Nope__c" in raised.value.message


def test_editor_json_and_api_actions(salesforce_connection, client):
    user = make_user("olivia", workspace=salesforce_connection.workspace, role="viewer")
    client.force_login(user)

    response = client.get(f"/connections/{salesforce_connection.pk}/objects/")
    assert response.status_code == 200
    assert "Contact" in [item["name"] for item in response.json()["objects"]]
    response = client.get(f"/connections/{salesforce_connection.pk}/objects/Contact/fields/")
    assert response.status_code == 200
    assert response.json()["object"] == "Contact"
    response = client.get(f"/connections/{salesforce_connection.pk}/objects/Nope__c/fields/")
    assert response.status_code == 404
    assert "Nope__c" in response.json()["error"]

    api = client_for(user)
    response = api.get(f"/api/v1/connections/{salesforce_connection.pk}/objects/")
    assert response.status_code == 200
    assert "Contact" in [item["name"] for item in response.json()["objects"]]
    response = api.get(f"/api/v1/connections/{salesforce_connection.pk}/objects/Lead/fields/")
    assert response.status_code == 200
    assert "LastName" in [item["name"] for item in response.json()["fields"]]
    response = api.get(
        f"/api/v1/connections/{salesforce_connection.pk}/objects/Lead/fields/?api_version=x"
    )
    assert response.status_code == 400


def test_other_workspaces_cannot_read_the_catalog(salesforce_connection, client, db):
    from tests.factories import make_workspace

    outsider = make_user("oscar", workspace=make_workspace("Globex"), role="owner")
    client.force_login(outsider)
    assert client.get(f"/connections/{salesforce_connection.pk}/objects/").status_code == 404
