"""Activations over the API: nested payload, errors by path, preview, validate and runs."""

import io
import re

import pytest
from django_celery_beat.models import PeriodicTask

from activations.models import Activation, Run
from connectors.base import ConnectorError
from connectors.salesforce.connector import SalesforceConnector
from segments.loading import import_profiles
from tests.api.conftest import client_for
from tests.api.contract.helpers import ACTIVATION_FIELDS
from tests.factories import (
    IN_JAPAN,
    make_activation,
    make_connection,
    make_parent_segment,
    make_segment,
    make_workspace,
    output_mapping,
    upsert_export,
)

URL = "/api/v1/activations/"
CUSTOMERS_CSV = (
    "customer_id,email,first_name,last_name,country,age\n"
    "C001,hanako@example.jp,Hanako,Yamada,JP,34\n"
    "C002,taro@example.jp,Taro,Suzuki,JP,41\n"
    "C003,ann@example.com,Ann,Lee,US,29\n"
)
MAPPING = output_mapping(
    ("customer_id", "Customer_Key__c"),
    ("email", "Email"),
    ("first_name", "FirstName"),
    ("last_name", "LastName"),
    strings=[],
    export_all_columns=False,
)


@pytest.fixture
def parent(workspace):
    parent = make_parent_segment(workspace=workspace)
    result = import_profiles(parent_segment=parent, file=io.BytesIO(CUSTOMERS_CSV.encode()))
    assert result.errors == []
    return parent


@pytest.fixture
def segment(parent):
    return make_segment(
        parent=parent,
        name="Japan",
        rules=IN_JAPAN,
    )


@pytest.fixture
def activation(segment, connection):
    return make_activation(segment=segment, connection=connection, output_mapping=MAPPING)


def payload(segment, connection, **overrides) -> dict:
    data = {
        "name": "Japan to Contacts",
        "description": "Daily sync",
        "segment": segment.pk,
        "connection": connection.pk,
        "enabled": True,
        "export": upsert_export(),
        "output_mapping": MAPPING,
        "schedule": {
            "type": "cron",
            "cron": "30 9 * * 1",
            "timezone": "Asia/Tokyo",
            "delay_seconds": 60,
        },
        "notifications": {"emails": ["ops@example.com"], "on": "always"},
    }
    data.update(overrides)
    return data


def test_creates_an_activation_from_the_nested_payload(
    workspace, segment, connection, owner_client
):
    response = owner_client.post(URL, payload(segment, connection), format="json")

    assert response.status_code == 201, response.json()
    activation = Activation.objects.get()
    body = response.json()
    assert body["id"] == activation.pk
    assert body["workspace"] == workspace.pk
    assert body["export"] == payload(segment, connection)["export"]
    assert body["output_mapping"] == MAPPING
    assert body["notifications"] == {"emails": ["ops@example.com"], "on": "always"}
    schedule = body["schedule"]
    assert {key: schedule[key] for key in ("type", "cron", "timezone", "delay_seconds")} == {
        "type": "cron",
        "cron": "30 9 * * 1",
        "timezone": "Asia/Tokyo",
        "delay_seconds": 60,
    }
    assert len(schedule["next_runs"]) == 5
    assert all(moment.endswith("09:30:00+09:00") for moment in schedule["next_runs"])
    assert (activation.object_name, activation.key, activation.null_value) == (
        "Contact",
        "Customer_Key__c",
        "clear",
    )
    assert PeriodicTask.objects.filter(pk=activation.periodic_task_id).exists()


def test_reading_returns_the_same_payload(activation, owner_client):
    response = owner_client.get(f"{URL}{activation.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["segment"] == activation.segment_id
    assert body["connection"] == activation.connection_id
    assert body["export"]["object"] == "Contact"
    assert body["schedule"]["next_runs"] == []
    assert set(body) >= ACTIVATION_FIELDS | {"workspace", "created_at", "updated_at"}


def test_nested_errors_carry_their_path(segment, connection, owner_client):
    data = payload(segment, connection)
    data["output_mapping"] = output_mapping(
        ("email", "Email"),
        ("first_name", "FirstName"),
        ("no_such_column", "LastName"),
        strings=[],
        export_all_columns=False,
    )
    data["schedule"] = {"type": "cron", "cron": "61 * * * *", "timezone": "Asia/Tokyo"}

    response = owner_client.post(URL, data, format="json")

    assert response.status_code == 400
    body = response.json()
    assert "output_mapping.columns[2].source" in body
    assert any(key.startswith("schedule.cron") for key in body)
    assert not Activation.objects.exists()


def test_shape_errors_carry_their_path(segment, connection, owner_client):
    data = payload(segment, connection)
    data["export"] = {**data["export"], "batch_size": "many", "colour": "red"}
    data["output_mapping"] = {"columns": [{"source": "email"}, {"source": 5, "outptu": "X"}]}
    data["notifications"] = "daily"

    response = owner_client.post(URL, data, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "export.batch_size": ["A valid integer is required."],
        "export.colour": ["unknown field"],
        "output_mapping.columns[1].outptu": ["unknown field"],
        "notifications": ["Invalid data. Expected a dictionary, but got str."],
    }
    assert not Activation.objects.exists()


def test_unknown_top_level_fields_are_refused(segment, connection, owner_client):
    response = owner_client.post(URL, payload(segment, connection, colour="red"), format="json")

    assert response.status_code == 400
    assert response.json() == {"colour": ["unknown field"]}


def test_a_segment_or_connection_of_another_workspace_is_named(
    segment, connection, other_workspace, owner_client
):
    foreign_segment = make_segment(workspace=other_workspace)
    foreign_connection = make_connection(workspace=other_workspace)

    response = owner_client.post(
        URL,
        payload(foreign_segment, foreign_connection),
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"segment", "connection"}
    assert not Activation.objects.exists()


def test_patch_changes_only_what_is_sent(activation, owner_client):
    response = owner_client.patch(
        f"{URL}{activation.pk}/",
        {"schedule": {"type": "daily", "timezone": "Europe/Paris"}, "description": "New"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    activation.refresh_from_db()
    assert (activation.schedule_type, activation.timezone, activation.description) == (
        "daily",
        "Europe/Paris",
        "New",
    )
    assert activation.name == "Push to Contacts"
    assert activation.output_mapping == MAPPING
    midnights = response.json()["schedule"]["next_runs"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00\+0[12]:00", item) for item in midnights)


def test_a_rejected_update_changes_nothing(activation, owner_client):
    before = Activation.objects.filter(pk=activation.pk).values().get()

    response = owner_client.patch(
        f"{URL}{activation.pk}/",
        {"name": "Renamed", "export": {"mode": "update", "key": ""}},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["export.key"]
    assert Activation.objects.filter(pk=activation.pk).values().get() == before


def test_delete_removes_the_activation_and_its_schedule(segment, connection, owner_client):
    created = owner_client.post(URL, payload(segment, connection), format="json").json()

    response = owner_client.delete(f"{URL}{created['id']}/")

    assert response.status_code == 204
    assert not Activation.objects.exists()
    assert not PeriodicTask.objects.filter(name__startswith="activation:").exists()


def test_list_filters_by_segment(activation, parent, connection, owner_client):
    other_segment = make_segment(parent=parent, name="Other")
    make_activation(segment=other_segment, connection=connection, name="Other push")

    response = owner_client.get(URL, {"segment": activation.segment_id})

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [activation.pk]


def test_preview_shows_the_first_rows_as_they_would_be_sent(activation, owner_client):
    response = owner_client.post(f"{URL}{activation.pk}/preview/", {"limit": 1}, format="json")

    assert response.status_code == 200
    assert response.json() == {
        "columns": ["Customer_Key__c", "Email", "FirstName", "LastName"],
        "rows": [["C001", "hanako@example.jp", "Hanako", "Yamada"]],
    }


def test_preview_limit_is_checked(activation, owner_client):
    response = owner_client.post(f"{URL}{activation.pk}/preview/", {"limit": 0}, format="json")

    assert response.status_code == 400
    assert response.json() == {"limit": ["Ensure this value is greater than or equal to 1."]}


def test_validate_accepts_a_mapping_that_fits_the_object(
    workspace, segment, owner_client, salesforce_emulator
):
    connection = make_connection(workspace=workspace, login_url=salesforce_emulator.url)
    activation = make_activation(segment=segment, connection=connection, output_mapping=MAPPING)

    response = owner_client.post(f"{URL}{activation.pk}/validate/")

    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_validate_names_a_field_the_object_does_not_have(
    workspace, segment, owner_client, salesforce_emulator
):
    connection = make_connection(workspace=workspace, login_url=salesforce_emulator.url)
    mapping = {**MAPPING, "columns": [*MAPPING["columns"], {"source": "age", "output": "Shoe__c"}]}
    activation = make_activation(segment=segment, connection=connection, output_mapping=mapping)

    response = owner_client.post(f"{URL}{activation.pk}/validate/")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert "Shoe__c" in body["error"]


def test_run_is_queued_with_202(activation, owner, owner_client):
    response = owner_client.post(f"{URL}{activation.pk}/runs/")

    assert response.status_code == 202
    run = Run.objects.get()
    body = response.json()
    assert body["id"] == run.pk
    assert body["activation"] == activation.pk
    assert body["workspace"] == activation.workspace_id
    assert (body["trigger"], body["status"]) == ("api", "queued")
    assert run.requested_by == owner


def test_a_second_run_while_one_is_active_is_a_conflict(activation, owner_client):
    first = owner_client.post(f"{URL}{activation.pk}/runs/").json()

    response = owner_client.post(f"{URL}{activation.pk}/runs/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Activation Push to Contacts already has a run in progress (run {first['id']}). "
        f"Wait for it to finish, or cancel it (POST /api/v1/runs/{first['id']}/cancel/)."
    }
    assert Run.objects.count() == 1


def run_with_key(client, activation, key: str):
    return client.post(f"{URL}{activation.pk}/runs/", HTTP_IDEMPOTENCY_KEY=key)


def finished_run_with_key(client, activation, key: str):
    """The answer to a run request with `key`; the run has finished since."""
    response = run_with_key(client, activation, key)
    Run.objects.filter(pk=response.json()["id"]).update(status="succeeded")
    return response


def test_the_same_idempotency_key_returns_the_same_run(activation, owner_client):
    first = finished_run_with_key(owner_client, activation, "job-42")

    second = run_with_key(owner_client, activation, "job-42")

    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert Run.objects.count() == 1


def test_a_new_idempotency_key_starts_a_new_run(activation, owner_client):
    first = finished_run_with_key(owner_client, activation, "job-42")

    second = run_with_key(owner_client, activation, "job-43")

    assert second.status_code == 202
    assert second.json()["id"] != first.json()["id"]


@pytest.mark.parametrize("key", ["with space", "x" * 256, "é"])
def test_a_malformed_idempotency_key_is_refused(activation, owner_client, key):
    response = owner_client.post(
        f"{URL}{activation.pk}/runs/", HTTP_IDEMPOTENCY_KEY=key.encode().decode("latin-1")
    )

    assert response.status_code == 400
    assert response.json() == {
        "Idempotency-Key": ["Must be 1 to 255 printable ASCII characters without spaces."]
    }
    assert not Run.objects.exists()


def test_a_run_request_takes_no_options(activation, owner_client):
    response = owner_client.post(f"{URL}{activation.pk}/runs/", {"dry_run": True}, format="json")

    assert response.status_code == 400
    assert response.json() == {"dry_run": ["unknown field"]}
    assert not Run.objects.exists()


def test_run_creation_is_throttled_per_user(activation, owner_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "100/min", "run_create": "2/min"},
    }
    statuses = []
    for number in range(3):
        response = owner_client.post(
            f"{URL}{activation.pk}/runs/", HTTP_IDEMPOTENCY_KEY=f"key-{number}"
        )
        statuses.append(response.status_code)
        Run.objects.update(status="succeeded")

    assert statuses == [202, 202, 429]
    assert Run.objects.count() == 2
    # Reading runs is not throttled.
    assert owner_client.get(f"{URL}{activation.pk}/runs/").status_code == 200


def test_lists_the_runs_of_an_activation(activation, owner_client):
    older = Run.objects.create(activation=activation, status="succeeded")
    newer = Run.objects.create(activation=activation, status="failed")

    response = owner_client.get(f"{URL}{activation.pk}/runs/")

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [newer.pk, older.pk]


def test_an_api_run_pushes_the_segment_to_salesforce(
    workspace, segment, owner_client, salesforce_emulator, django_capture_on_commit_callbacks
):
    connection = make_connection(workspace=workspace, login_url=salesforce_emulator.url)
    activation = make_activation(segment=segment, connection=connection, output_mapping=MAPPING)

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"{URL}{activation.pk}/runs/")
    run = owner_client.get(f"/api/v1/runs/{response.json()['id']}/").json()

    assert response.status_code == 202
    assert run["status"] == "succeeded", run
    assert (run["rows_read"], run["rows_sent"], run["rows_succeeded"], run["rows_failed"]) == (
        2,
        2,
        2,
        0,
    )
    assert len(run["salesforce_job_ids"]) == 1
    keys = sorted(record["Customer_Key__c"] for record in salesforce_emulator.records("Contact"))
    assert keys == ["C001", "C002"]


def test_another_workspaces_activation_is_not_found(activation, outsider_client):
    assert outsider_client.get(f"{URL}{activation.pk}/").status_code == 404
    assert outsider_client.post(f"{URL}{activation.pk}/runs/").status_code == 404
    assert not Run.objects.exists()


def test_workspace_of_a_new_activation_defaults_to_the_only_one(
    workspace, segment, connection, owner
):
    make_workspace("Unrelated")

    response = client_for(owner).post(URL, payload(segment, connection), format="json")

    assert response.status_code == 201
    assert response.json()["workspace"] == workspace.pk


def test_validate_hides_a_secret_the_server_quotes_in_its_answer(
    workspace, segment, owner_client, monkeypatch
):
    connection = make_connection(workspace=workspace, password="s3cret-password")
    activation = make_activation(segment=segment, connection=connection, output_mapping=MAPPING)

    def refuse_quoting_the_password(connector, params, columns):
        raise ConnectorError("Salesforce refused: bad value s3cret-password", field="login")

    monkeypatch.setattr(SalesforceConnector, "validate_export", refuse_quoting_the_password)

    response = owner_client.post(f"{URL}{activation.pk}/validate/")

    assert response.json() == {
        "ok": False,
        "error": "Salesforce refused: bad value [hidden]",
        "field": "login",
    }


def test_the_catch_up_policy_is_part_of_the_schedule(segment, connection, owner_client):
    data = payload(segment, connection)
    response = owner_client.post(URL, data, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["schedule"]["catch_up"] == "run_once"  # the default

    data["schedule"]["catch_up"] = "skip"
    activation_id = response.json()["id"]
    response = owner_client.put(f"{URL}{activation_id}/", data, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["schedule"]["catch_up"] == "skip"
    assert Activation.objects.get().catch_up == "skip"

    data["schedule"]["catch_up"] = "twice"
    response = owner_client.put(f"{URL}{activation_id}/", data, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["schedule.catch_up"]
    assert Activation.objects.get().catch_up == "skip"


@pytest.mark.parametrize(
    ("schedule", "refused"),
    [
        ({"type": "hourly", "delay_seconds": 3600}, True),
        ({"type": "hourly", "delay_seconds": 3599}, False),
        ({"type": "cron", "cron": "*/15 * * * *", "delay_seconds": 900}, True),
        ({"type": "cron", "cron": "0 9,17 * * *", "delay_seconds": 28_800}, True),
        ({"type": "cron", "cron": "0 9 * * 1", "delay_seconds": 86_400}, False),
        ({"type": "none", "delay_seconds": 86_400}, False),
    ],
)
def test_a_delay_as_long_as_the_time_between_runs_is_refused(
    segment, connection, owner_client, schedule, refused
):
    data = payload(segment, connection)
    data["schedule"] = {"cron": "", "timezone": "Europe/London", **schedule}

    response = owner_client.post(URL, data, format="json")

    if not refused:
        assert response.status_code == 201, response.json()
        return
    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["schedule.delay_seconds"]
    assert (
        "must be shorter than the shortest time between two runs"
        in body["schedule.delay_seconds"][0]
    )
    assert not Activation.objects.exists()
