"""The REST API contract of issue 5, the OpenAPI schema.

Each test reads one sentence of the contract and drives the API as a script would."""

import pytest
from rest_framework.test import APIClient

from tests.api.contract.helpers import (
    ACTIVATION_FIELDS,
    API,
    CONTACT_MAPPING,
    EXPORT_KEYS,
    SECRET_FIELDS,
    create_activation,
    emulator_connection,
    resolve,
    upload,
)
from tests.factories import RULE_OPERATORS, output_mapping


def test_schema_documents_the_nested_activation_objects(openapi):
    activation = openapi["components"]["schemas"]["Activation"]
    properties = activation["properties"]

    export = resolve(openapi, properties["export"])
    output_mapping = resolve(openapi, properties["output_mapping"])
    schedule = resolve(openapi, properties["schedule"])
    notifications = resolve(openapi, properties["notifications"])
    column = resolve(openapi, output_mapping["properties"]["columns"]["items"])
    string = resolve(openapi, output_mapping["properties"]["strings"]["items"])
    part = resolve(openapi, string["properties"]["parts"]["items"])

    assert set(export["properties"]) >= EXPORT_KEYS
    assert set(export["required"]) >= EXPORT_KEYS
    assert set(output_mapping["properties"]) == {"export_all_columns", "columns", "strings"}
    assert set(column["properties"]) == {"source", "output"}
    assert set(part["properties"]) == {"type", "value", "format"}
    assert set(schedule["properties"]) >= {"type", "cron", "timezone", "delay_seconds", "next_runs"}
    assert schedule["properties"]["next_runs"]["readOnly"] is True
    assert schedule["properties"]["next_runs"]["items"]["format"] == "date-time"
    assert set(notifications["properties"]) == {"emails", "on"}
    assert set(activation["required"]) >= ACTIVATION_FIELDS - {"description"}


def test_schema_documents_the_rule_tree(openapi):
    segment = openapi["components"]["schemas"]["Segment"]
    group = resolve(openapi, segment["properties"]["rules"])
    condition = openapi["components"]["schemas"]["RuleCondition"]
    operator = resolve(openapi, condition["properties"]["operator"])

    assert set(group["properties"]) == {"type", "conditions"}
    assert set(condition["properties"]) == {"column", "operator", "value"}
    assert set(operator["enum"]) == set(RULE_OPERATORS)


def test_schema_documents_the_profiles_upload_and_its_answers(openapi):
    operation = openapi["paths"][f"{API}/parent-segments/{{id}}/profiles/"]["post"]

    assert set(operation["requestBody"]["content"]) == {"multipart/form-data", "text/csv"}
    upload_form = resolve(
        openapi, operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    )
    assert upload_form["properties"]["file"]["format"] == "binary"
    result = resolve(
        openapi, operation["responses"]["200"]["content"]["application/json"]["schema"]
    )
    assert set(result["properties"]) >= {"rows_imported", "errors"}
    error = resolve(openapi, result["properties"]["errors"]["items"])
    assert set(error["properties"]) == {"line", "column", "message"}
    assert "400" in operation["responses"]


def test_schema_documents_the_error_shapes(openapi):
    error = openapi["components"]["schemas"]["Error"]
    responses = openapi["paths"][f"{API}/activations/"]["post"]["responses"]

    assert error["properties"]["detail"]["type"] == "string"
    assert error["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
    assert {"201", "400", "401", "403"} <= set(responses)
    run_create = openapi["paths"][f"{API}/activations/{{id}}/runs/"]["post"]["responses"]
    assert {"202", "409", "429"} <= set(run_create)


def test_schema_documents_secrets_as_write_only_strings_answered_as_booleans(openapi):
    request = openapi["components"]["schemas"]["ConnectionRequest"]["properties"]
    response = openapi["components"]["schemas"]["Connection"]["properties"]

    for name in SECRET_FIELDS:
        assert request[name]["type"] == "string"
        assert request[name]["writeOnly"] is True
        assert response[name]["type"] == "boolean"


def test_schema_is_the_same_on_every_request(db):
    first = APIClient().get(f"{API}/schema/", {"format": "json"}).json()
    second = APIClient().get(f"{API}/schema/", {"format": "json"}).json()

    assert first == second


def test_an_empty_text_csv_body_says_the_body_is_empty(client, parent):
    response = upload(client, parent["id"], b"")

    assert response.status_code == 400
    assert "empty" in response.json()["file"][0]


@pytest.mark.parametrize("concurrency_mode", ["parallel", "serial"])
def test_end_to_end_batch_size_splits_the_rows_into_jobs(
    emulator_activation, finished_run, salesforce_emulator, concurrency_mode
):
    activation = emulator_activation(
        export={
            "mode": "append",
            "object": "Contact",
            "batch_size": 3,
            "concurrency_mode": concurrency_mode,
        },
        output_mapping=CONTACT_MAPPING,
    )

    run = finished_run(activation)

    assert run["status"] == "succeeded", run
    assert len(run["salesforce_job_ids"]) == 2
    assert {job.id for job in salesforce_emulator.jobs} == set(run["salesforce_job_ids"])
    assert sorted(
        job.full_info()["numberRecordsProcessed"] for job in salesforce_emulator.jobs
    ) == [
        1,
        3,
    ]
    assert len(salesforce_emulator.records("Contact")) == 4


def test_end_to_end_uses_the_activations_api_version(
    emulator_activation, finished_run, salesforce_emulator
):
    activation = emulator_activation(
        export={"mode": "append", "object": "Contact", "api_version": "60.0"},
        output_mapping=CONTACT_MAPPING,
    )

    run = finished_run(activation)

    assert run["status"] == "succeeded", run
    ingest = [path for _, path in salesforce_emulator.requests_log if "/jobs/ingest" in path]
    assert ingest
    assert all(path.startswith("/services/data/v60.0/") for path in ingest)


def test_end_to_end_null_value_clear_sends_na(new_activation, client):
    activation = new_activation(
        export={"mode": "append", "object": "Contact", "null_value": "clear"},
        output_mapping=output_mapping(("email", "Email"), export_all_columns=False),
    )

    rows = client.post(f"{API}/activations/{activation['id']}/preview/").json()["rows"]

    assert rows[-1] == ["#N/A"]


def test_a_run_with_bad_credentials_fails_without_revealing_them(
    finished_run, client, everyone, salesforce_emulator
):
    connection = emulator_connection(client, salesforce_emulator, password="not-the-password")
    activation = create_activation(client, everyone, connection, output_mapping=CONTACT_MAPPING)

    run = finished_run(activation)
    validation = client.post(f"{API}/activations/{activation['id']}/validate/")

    assert run["status"] == "failed"
    assert run["error"]
    assert "not-the-password" not in str(run)
    assert validation.status_code == 200
    assert validation.json()["ok"] is False
    assert "not-the-password" not in validation.content.decode()
    assert salesforce_emulator.records("Contact") == []


@pytest.mark.parametrize("key", ["Id", "CreatedDate", "LastModifiedDate", "CreatedById", "id"])
def test_upsert_refuses_a_system_field_as_its_key(refused_activation, key):
    errors = refused_activation(
        export={"mode": "update", "object": "Contact", "upsert": True, "key": key},
        output_mapping={
            "export_all_columns": False,
            "columns": [{"source": "customer_id", "output": key}],
        },
    )

    assert list(errors) == ["export.key"]
    assert "External ID" in errors["export.key"][0]


def test_update_by_id_without_upsert_is_accepted(new_activation):
    body = new_activation(
        export={"mode": "update", "object": "Contact", "key": "Id"},
        output_mapping=output_mapping(("customer_id", "Id"), export_all_columns=False),
    )

    assert (body["export"]["key"], body["export"]["upsert"]) == ("Id", False)
