"""The REST API contract of issue 5, activations: shape, defaults and validation errors by path.

Each test reads one sentence of the contract and drives the API as a script would."""

import pytest

from tests.api.contract.helpers import (
    ACTIVATION_FIELDS,
    API,
    EXPORT_KEYS,
    create,
    minimal_activation,
)
from tests.factories import concat, output_mapping, upsert_export


def test_a_minimal_activation_is_created_with_sensible_defaults(client, everyone, connection):
    response = client.post(
        f"{API}/activations/", minimal_activation(everyone, connection), format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) >= ACTIVATION_FIELDS
    assert (body["segment"], body["connection"], body["enabled"]) == (
        everyone["id"],
        connection["id"],
        True,
    )
    export = body["export"]
    assert set(export) >= EXPORT_KEYS
    assert export["mode"] == "append"
    assert export["object"] == "Contact"
    assert export["upsert"] is False
    assert export["key"] in ("", None)
    assert export["hard_delete"] is False
    assert export["concurrency_mode"] == "parallel"
    assert export["batch_size"] == 10000
    assert float(export["api_version"]) >= 41.0
    assert export["api_version"] == "59.0"
    assert body["output_mapping"]["export_all_columns"] is True
    assert body["output_mapping"].get("columns", []) == []
    assert body["output_mapping"].get("strings", []) == []
    assert body["schedule"]["type"] == "none"
    assert body["schedule"]["next_runs"] == []
    assert body["notifications"] == {"emails": [], "on": "failure"}


@pytest.mark.parametrize("missing", ["name", "segment", "connection", "export"])
def test_activation_required_fields_are_named(client, everyone, connection, missing):
    body = minimal_activation(everyone, connection)
    del body[missing]

    response = client.post(f"{API}/activations/", body, format="json")

    assert response.status_code == 400
    assert any(key == missing or key.startswith(f"{missing}.") for key in response.json())


def test_activation_without_export_object_names_export_object(client, everyone, connection):
    response = client.post(
        f"{API}/activations/",
        minimal_activation(everyone, connection, export={"mode": "append"}),
        format="json",
    )

    assert response.status_code == 400
    assert "export.object" in response.json()


def test_activation_export_mode_defaults_to_append(new_activation):
    body = new_activation(export={"object": "Lead"})

    assert body["export"]["mode"] == "append"


def test_activation_full_payload_round_trips(client, everyone, connection):
    sent = {
        "name": "Japan to Contacts",
        "description": "Nightly",
        "segment": everyone["id"],
        "connection": connection["id"],
        "enabled": False,
        "export": upsert_export(
            batch_size=2000, api_version="60.0", retry_initial_delay=5, retry_limit=2
        ),
        "output_mapping": output_mapping(
            ("customer_id", "Customer_Key__c"),
            ("email", "Email"),
            ("last_name", "LastName"),
            strings=[
                concat(
                    "Description",
                    "Synced ",
                    {"type": "timestamp", "format": "%Y-%m-%d"},
                    " from ",
                    {"type": "segment_name"},
                    "/",
                    {"type": "segment_id"},
                    "/",
                    {"type": "audience_id"},
                )
            ],
            export_all_columns=False,
        ),
        "schedule": {
            "type": "cron",
            "cron": "0 9 * * *",
            "timezone": "Asia/Tokyo",
            "delay_seconds": 120,
        },
        "notifications": {"emails": ["ops@example.com"], "on": "always"},
    }

    body = create(client, "activations", sent)
    fetched = client.get(f"{API}/activations/{body['id']}/").json()

    for key in ("name", "description", "segment", "connection", "enabled", "notifications"):
        assert fetched[key] == sent[key]
    assert set(sent["export"]) >= EXPORT_KEYS
    assert {key: fetched["export"][key] for key in sent["export"]} == {
        **sent["export"],
        "retry_initial_delay": 5.0,
    }
    assert fetched["output_mapping"]["columns"] == sent["output_mapping"]["columns"]
    assert [part["type"] for part in fetched["output_mapping"]["strings"][0]["parts"]] == [
        "string",
        "timestamp",
        "string",
        "segment_name",
        "string",
        "segment_id",
        "string",
        "audience_id",
    ]
    schedule = fetched["schedule"]
    assert {key: schedule[key] for key in ("type", "cron", "timezone", "delay_seconds")} == sent[
        "schedule"
    ]


def test_activation_answer_can_be_sent_back_with_put(new_activation, client):
    body = new_activation()

    response = client.put(f"{API}/activations/{body['id']}/", body, format="json")

    assert response.status_code == 200, response.json()


def test_activation_delete_answers_204(new_activation, client):
    body = new_activation()

    response = client.delete(f"{API}/activations/{body['id']}/")

    assert response.status_code == 204
    assert client.get(f"{API}/activations/{body['id']}/").status_code == 404


def test_output_column_errors_name_the_column_by_index(refused_activation):
    errors = refused_activation(
        output_mapping=output_mapping(
            ("email", "Email"),
            ("first_name", "FirstName"),
            ("last_name", "Last Name"),
            export_all_columns=False,
        ),
    )

    assert list(errors) == ["output_mapping.columns[2].output"]


@pytest.mark.parametrize("output", ["", "1stName", "First-Name", "Name__", "_Name", "Na__me__c__"])
def test_output_names_must_be_salesforce_api_names(refused_activation, output):
    errors = refused_activation(
        output_mapping=output_mapping(
            ("email", "Email"), ("first_name", output), export_all_columns=False
        ),
    )

    assert "output_mapping.columns[1].output" in errors


def test_duplicate_output_names_are_refused(refused_activation):
    errors = refused_activation(
        output_mapping=output_mapping(
            ("email", "Email"), ("first_name", "Email"), export_all_columns=False
        ),
    )

    assert list(errors) == ["output_mapping.columns[1].output"]


def test_a_string_may_not_reuse_an_output_name(refused_activation):
    errors = refused_activation(
        output_mapping=output_mapping(
            ("email", "Email"), strings=[concat("Email", "x")], export_all_columns=False
        ),
    )

    assert list(errors) == ["output_mapping.strings[0].output"]


def test_unknown_source_columns_are_refused(refused_activation):
    errors = refused_activation(
        output_mapping=output_mapping(("shoe_size", "Shoe__c"), export_all_columns=False)
    )

    assert list(errors) == ["output_mapping.columns[0].source"]
    assert "shoe_size" in errors["output_mapping.columns[0].source"][0]


def test_output_name_defaults_to_the_source_name(new_activation, client):
    body = new_activation(
        output_mapping={"export_all_columns": False, "columns": [{"source": "email"}]}
    )

    preview = client.post(f"{API}/activations/{body['id']}/preview/").json()
    assert preview["columns"] == ["email"]


def test_update_mode_needs_a_key(refused_activation):
    errors = refused_activation(export={"mode": "update", "object": "Contact"})

    assert "export.key" in errors


def test_upsert_outside_update_mode_is_refused(refused_activation):
    errors = refused_activation(export={"mode": "append", "object": "Contact", "upsert": True})

    assert "export.upsert" in errors


def test_hard_delete_outside_truncate_mode_is_refused(refused_activation):
    errors = refused_activation(export={"mode": "append", "object": "Contact", "hard_delete": True})

    assert "export.hard_delete" in errors


@pytest.mark.parametrize("version", ["32.0", "40.0", "40.9"])
def test_api_versions_below_41_are_refused_clearly(refused_activation, version):
    errors = refused_activation(
        export={"mode": "append", "object": "Contact", "api_version": version}
    )

    assert list(errors) == ["export.api_version"]
    assert "41.0" in errors["export.api_version"][0]


@pytest.mark.parametrize("version", ["41.0", "59.0", "62.0"])
def test_api_versions_from_41_are_accepted(new_activation, version):
    body = new_activation(export={"mode": "append", "object": "Contact", "api_version": version})

    assert body["export"]["api_version"] == version


@pytest.mark.parametrize(
    ("export", "path"),
    [
        ({"mode": "merge", "object": "Contact"}, "export.mode"),
        (
            {"mode": "append", "object": "Contact", "concurrency_mode": "turbo"},
            "export.concurrency_mode",
        ),
        ({"mode": "append", "object": "Contact", "batch_size": 0}, "export.batch_size"),
        ({"mode": "append", "object": "Contact", "batch_size": "many"}, "export.batch_size"),
        ({"mode": "append", "object": "Contact", "retry_limit": -1}, "export.retry_limit"),
        (
            {"mode": "append", "object": "Contact", "retry_initial_delay": -1},
            "export.retry_initial_delay",
        ),
        ({"mode": "append", "object": "Con tact"}, "export.object"),
        ({"mode": "append", "object": "Contact", "colour": "red"}, "export.colour"),
    ],
)
def test_bad_export_settings_are_named_by_path(refused_activation, export, path):
    errors = refused_activation(export=export)

    assert path in errors, errors


def test_a_rejected_activation_changes_nothing(new_activation, client):
    body = new_activation()

    response = client.patch(
        f"{API}/activations/{body['id']}/",
        {"name": "Renamed", "export": {"api_version": "30.0"}},
        format="json",
    )

    assert response.status_code == 400
    assert client.get(f"{API}/activations/{body['id']}/").json()["name"] == body["name"]


@pytest.mark.parametrize(
    ("notifications", "path"),
    [
        ({"emails": ["not-an-address"], "on": "failure"}, "notifications.emails[0]"),
        ({"emails": [], "on": "sometimes"}, "notifications.on"),
    ],
)
def test_bad_notifications_are_named_by_path(refused_activation, notifications, path):
    errors = refused_activation(notifications=notifications)

    assert path in errors, errors


@pytest.mark.parametrize("on", ["failure", "success", "always"])
def test_notifications_on_each_choice(new_activation, on):
    body = new_activation(notifications={"emails": ["a@example.com"], "on": on})

    assert body["notifications"] == {"emails": ["a@example.com"], "on": on}
