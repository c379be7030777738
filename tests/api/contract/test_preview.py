"""The REST API contract of issue 5, preview and validate.

Each test reads one sentence of the contract and drives the API as a script would."""

import datetime

from tests.api.contract.helpers import (
    API,
    CONTACT_MAPPING,
    UPSERT_CONTACTS,
    create,
    create_activation,
    emulator_connection,
)
from tests.factories import IN_JAPAN, concat, output_mapping


def test_preview_answers_columns_and_rows_as_they_would_be_sent(client, parent, connection):
    japan = create(
        client,
        "segments",
        {
            "parent_segment": parent["id"],
            "name": "Japan",
            "rules": IN_JAPAN,
        },
    )
    activation = create_activation(
        client,
        japan,
        connection,
        output_mapping=output_mapping(
            ("customer_id", "Customer_Key__c"),
            ("consent", "Consent__c"),
            ("signup_date", "Signup__c"),
            ("last_seen_at", "Last_Seen_At__c"),
            ("lifetime_value", "Lifetime_Value__c"),
            strings=[
                concat(
                    "Source__c",
                    "seg-",
                    {"type": "segment_id"},
                    "-",
                    {"type": "segment_name"},
                    "-",
                    {"type": "audience_id"},
                )
            ],
            export_all_columns=False,
        ),
    )

    response = client.post(f"{API}/activations/{activation['id']}/preview/")

    assert response.status_code == 200
    source = f"seg-{japan['id']}-Japan-{parent['id']}"
    assert response.json() == {
        "columns": [
            "Customer_Key__c",
            "Consent__c",
            "Signup__c",
            "Last_Seen_At__c",
            "Lifetime_Value__c",
            "Source__c",
        ],
        "rows": [
            ["C001", "true", "2024-01-15", "2025-06-01T09:00:00Z", "1200.5", source],
            ["C002", "false", "2023-11-02", "", "80", source],
        ],
    }


def test_preview_renders_the_export_timestamp_in_iso_8601_by_default(
    new_activation, client, time_machine
):
    time_machine.move_to(datetime.datetime(2026, 2, 3, 4, 5, 6, tzinfo=datetime.UTC), tick=False)
    activation = new_activation(
        output_mapping=output_mapping(
            ("customer_id", "Customer_Key__c"),
            strings=[
                concat("Exported_At__c", {"type": "timestamp"}),
                concat("Exported_On__c", {"type": "timestamp", "format": "%Y/%m/%d"}),
            ],
            export_all_columns=False,
        ),
    )

    rows = client.post(f"{API}/activations/{activation['id']}/preview/").json()["rows"]

    assert rows[0][1:] == ["2026-02-03T04:05:06Z", "2026/02/03"]
    assert {tuple(row[1:]) for row in rows} == {("2026-02-03T04:05:06Z", "2026/02/03")}


def test_validate_accepts_a_mapping_the_object_can_take(client, everyone, salesforce_emulator):
    connection = emulator_connection(client, salesforce_emulator)
    activation = create_activation(
        client, everyone, connection, export=UPSERT_CONTACTS, output_mapping=CONTACT_MAPPING
    )

    response = client.post(f"{API}/activations/{activation['id']}/validate/")

    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_validate_refuses_an_upsert_key_that_is_not_an_external_id(emulator_activation, client):
    activation = emulator_activation(
        export={"mode": "update", "object": "Contact", "upsert": True, "key": "LastName"},
        output_mapping=CONTACT_MAPPING,
    )

    body = client.post(f"{API}/activations/{activation['id']}/validate/").json()

    assert body["ok"] is False
    assert "External ID" in body["error"]
    assert "LastName" in body["error"]


def test_validate_names_an_output_column_the_object_lacks(emulator_activation, client):
    activation = emulator_activation(
        output_mapping=output_mapping(
            ("last_name", "LastName"), ("age", "Shoe_Size__c"), export_all_columns=False
        ),
    )

    body = client.post(f"{API}/activations/{activation['id']}/validate/").json()

    assert body["ok"] is False
    assert "Shoe_Size__c" in body["error"]


def test_validate_names_an_object_the_org_lacks(client, everyone, salesforce_emulator):
    connection = emulator_connection(client, salesforce_emulator)
    activation = create_activation(
        client, everyone, connection, export={"mode": "append", "object": "Spaceship__c"}
    )

    body = client.post(f"{API}/activations/{activation['id']}/validate/").json()

    assert body["ok"] is False
    assert "Spaceship__c" in body["error"]
