"""The REST API contract of issue 5, end to end against the Salesforce emulator.

Each test reads one sentence of the contract and drives the API as a script would."""

import pytest

from tests.api.contract.helpers import (
    API,
    CONTACT_MAPPING,
    UPSERT_CONTACTS,
    contacts,
    create,
    create_activation,
    emulator_connection,
    failed_rows,
    upload,
)
from tests.factories import output_mapping


def test_end_to_end_append(emulator_activation, finished_run, client, salesforce_emulator):
    activation = emulator_activation(
        export={"mode": "append", "object": "Contact"},
        output_mapping=CONTACT_MAPPING,
    )

    run = finished_run(activation)

    assert run["status"] == "succeeded", run
    assert (run["rows_read"], run["rows_sent"], run["rows_succeeded"], run["rows_failed"]) == (
        4,
        4,
        4,
        0,
    )
    assert len(run["salesforce_job_ids"]) == 1
    assert run["started_at"] is not None
    assert run["finished_at"] is not None
    assert run["error"] == ""
    records = contacts(salesforce_emulator)
    assert sorted(records) == ["C001", "C002", "C003", "C004"]
    assert records["C001"]["Email"] == "hanako@example.jp"
    assert records["C001"]["Description"] == "From segment Everyone"
    assert records["C001"]["Lifetime_Value__c"] == 1200.5
    assert failed_rows(client, run["id"]) == []


def test_end_to_end_update_and_upsert_on_an_external_id(
    finished_run, client, everyone, salesforce_emulator
):
    salesforce_emulator.insert_records(
        "Contact",
        [{"Customer_Key__c": "C001", "LastName": "Old", "Email": "old@example.jp", "Title": "VIP"}],
    )
    connection = emulator_connection(client, salesforce_emulator)
    activation = create_activation(
        client, everyone, connection, export=UPSERT_CONTACTS, output_mapping=CONTACT_MAPPING
    )
    assert client.post(f"{API}/activations/{activation['id']}/validate/").json() == {"ok": True}

    run = finished_run(activation)
    again = finished_run(activation)

    assert run["status"] == "succeeded", run
    assert (run["rows_read"], run["rows_succeeded"], run["rows_failed"]) == (4, 4, 0)
    assert again["status"] == "succeeded", again
    records = contacts(salesforce_emulator)
    # Updated in place (Title kept), the others inserted, and no duplicates after a re-run.
    assert len(salesforce_emulator.records("Contact")) == 4
    assert (records["C001"]["LastName"], records["C001"]["Title"]) == ("Yamada", "VIP")
    assert records["C001"]["Email"] == "hanako@example.jp"
    assert records["C003"]["FirstName"] == "Ann"


def test_end_to_end_update_by_id(emulator_activation, finished_run, client, salesforce_emulator):
    ids = salesforce_emulator.insert_records(
        "Contact",
        [
            {"LastName": "One", "Email": "one@example.com"},
            {"LastName": "Two", "Email": "two@example.com"},
        ],
    )
    parent = create(
        client,
        "parent-segments",
        {
            "name": "Salesforce contacts",
            "key_column": "contact_id",
            "columns": [
                {"name": "contact_id", "type": "string"},
                {"name": "title", "type": "string"},
            ],
        },
    )
    csv_text = f"contact_id,title\n{ids[0]},Chief\n{ids[1]},Deputy\n"
    assert upload(client, parent["id"], csv_text).status_code == 200
    segment = create(client, "segments", {"parent_segment": parent["id"], "name": "All"})
    activation = emulator_activation(
        segment,
        export={"mode": "update", "object": "Contact", "key": "Id"},
        output_mapping=output_mapping(
            ("contact_id", "Id"), ("title", "Title"), export_all_columns=False
        ),
    )

    run = finished_run(activation)

    assert run["status"] == "succeeded", run
    assert (run["rows_read"], run["rows_succeeded"], run["rows_failed"]) == (2, 2, 0)
    titles = {record["Id"]: record["Title"] for record in salesforce_emulator.records("Contact")}
    assert titles == {ids[0]: "Chief", ids[1]: "Deputy"}


def test_end_to_end_update_by_email_without_upsert_fails_the_unmatched_row(
    emulator_activation, finished_run, client, everyone, salesforce_emulator
):
    salesforce_emulator.insert_records(
        "Contact",
        [
            {"LastName": "Old", "Email": "hanako@example.jp"},
            {"LastName": "Old", "Email": "taro@example.jp"},
        ],
    )
    japan = create(
        client,
        "segments",
        {
            "parent_segment": everyone["parent_segment"],
            "name": "Has email",
            "rules": {
                "type": "and",
                "conditions": [{"column": "email", "operator": "is_not_null"}],
            },
        },
    )
    activation = emulator_activation(
        japan,
        export={"mode": "update", "object": "Contact", "key": "Email"},
        output_mapping=output_mapping(
            ("email", "Email"), ("last_name", "LastName"), export_all_columns=False
        ),
    )

    run = finished_run(activation)

    assert run["status"] == "partially_failed", run
    assert (run["rows_read"], run["rows_succeeded"], run["rows_failed"]) == (3, 2, 1)
    rows = failed_rows(client, run["id"])
    assert [(row["Email"], row["LastName"]) for row in rows] == [("ann@example.com", "Lee")]
    assert rows[0]["sf__Error"]
    names = sorted(record["LastName"] for record in salesforce_emulator.records("Contact"))
    assert names == ["Suzuki", "Yamada"]


@pytest.mark.parametrize("hard_delete", [False, True])
def test_end_to_end_truncate(emulator_activation, finished_run, salesforce_emulator, hard_delete):
    salesforce_emulator.insert_records("Contact", [{"LastName": "Stale"}, {"LastName": "Older"}])
    activation = emulator_activation(
        export={"mode": "truncate", "object": "Contact", "hard_delete": hard_delete},
        output_mapping=CONTACT_MAPPING,
    )
    assert activation["export"]["hard_delete"] is hard_delete

    run = finished_run(activation)

    assert run["status"] == "succeeded", run
    assert (run["rows_read"], run["rows_succeeded"], run["rows_failed"]) == (4, 4, 0)
    assert sorted(contacts(salesforce_emulator)) == ["C001", "C002", "C003", "C004"]
    binned = sorted(record["LastName"] for record in salesforce_emulator.recycle_bin("Contact"))
    assert binned == ([] if hard_delete else ["Older", "Stale"])


def test_end_to_end_failed_rows_download_with_sf_error(
    emulator_activation, finished_run, client, salesforce_emulator
):
    # A string column may go into a date field (Salesforce judges its values row by row):
    # customer ids are no dates, so Salesforce refuses every row. (A mapping without the
    # required LastName is refused before the run; see tests/connectors/test_strict.py.)
    activation = emulator_activation(
        export={"mode": "append", "object": "Contact"},
        output_mapping=output_mapping(
            ("customer_id", "Customer_Key__c"),
            ("first_name", "LastName"),
            ("customer_id", "Birthdate"),
            export_all_columns=False,
        ),
    )

    run = finished_run(activation)

    assert run["status"] == "failed", run
    assert (run["rows_read"], run["rows_succeeded"], run["rows_failed"]) == (4, 0, 4)
    rows = failed_rows(client, run["id"])
    assert [row["Customer_Key__c"] for row in rows] == ["C001", "C002", "C003", "C004"]
    assert list(rows[0]) == ["Customer_Key__c", "LastName", "Birthdate", "sf__Error"]
    assert all("Birthdate" in row["sf__Error"] for row in rows), rows
    assert salesforce_emulator.records("Contact") == []


def test_a_connection_read_can_be_sent_back_with_put_keeping_its_secrets(client, connection):
    read = client.get(f"{API}/connections/{connection['id']}/").json()

    response = client.put(f"{API}/connections/{connection['id']}/", read, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["password"] is True
    assert response.json()["security_token"] is True


def test_a_string_part_keeps_its_spaces(new_activation, client):
    activation = new_activation(
        output_mapping={
            "export_all_columns": False,
            "strings": [
                {
                    "output": "Label__c",
                    "parts": [
                        {"type": "string", "value": " In "},
                        {"type": "segment_name"},
                        {"type": "string", "value": " "},
                    ],
                }
            ],
        },
    )

    parts = activation["output_mapping"]["strings"][0]["parts"]
    rows = client.post(f"{API}/activations/{activation['id']}/preview/").json()["rows"]

    assert [part.get("value") for part in parts] == [" In ", None, " "]
    assert rows[0] == [" In Everyone "]


@pytest.mark.parametrize(
    ("sent", "stored"), [(59, "59.0"), (59.0, "59.0"), ("59", "59.0"), ("v60.0", "60.0")]
)
def test_an_api_version_is_read_in_its_common_spellings(new_activation, sent, stored):
    body = new_activation(export={"mode": "append", "object": "Contact", "api_version": sent})

    assert body["export"]["api_version"] == stored


@pytest.mark.parametrize("sent", [40, "40", 32.0, "v32.0"])
def test_an_old_api_version_in_any_spelling_names_the_minimum(refused_activation, sent):
    errors = refused_activation(export={"mode": "append", "object": "Contact", "api_version": sent})

    assert errors == {"export.api_version": ["Bulk API 2.0 needs API version 41.0 or later."]}


@pytest.mark.parametrize("sent", ["latest", "59.0.1", "", True, [59]])
def test_a_malformed_api_version_is_a_400(refused_activation, sent):
    errors = refused_activation(export={"mode": "append", "object": "Contact", "api_version": sent})

    assert list(errors) == ["export.api_version"]


def test_deleting_a_segment_used_by_activations_is_a_409(new_activation, client, everyone):
    for _ in range(2):
        new_activation()

    response = client.delete(f"{API}/segments/{everyone['id']}/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Used by activation(s) Everyone to Contacts: delete those first."
    }


def test_output_mapping_is_answered_in_its_full_shape(new_activation):
    body = new_activation(
        output_mapping={
            "columns": [{"source": "email"}, {"source": "last_name", "output": "LastName"}]
        },
    )

    assert body["output_mapping"] == output_mapping(
        ("email", "email"), ("last_name", "LastName"), strings=[], export_all_columns=False
    )
