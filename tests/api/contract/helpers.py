"""A script's view of the API: the data, requests and checks the contract tests share."""

import csv
import datetime
import io
import itertools

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from segments.models import Profile
from tests.factories import concat, connection_body, output_mapping
from workspaces.models import Membership, Workspace

API = "/api/v1"


PASSWORD = "correct horse battery staple"


CUSTOMERS_CSV = (
    "customer_id,email,first_name,last_name,country,age,lifetime_value,consent,signup_date,"
    "last_seen_at\n"
    "C001,hanako@example.jp,Hanako,Yamada,JP,34,1200.5,true,2024-01-15,2025-06-01T09:00:00Z\n"
    "C002,taro@example.jp,Taro,Suzuki,JP,41,80,false,2023-11-02,\n"
    "C003,ann@example.com,Ann,Lee,US,29,450,true,2022-05-30,2025-05-20T12:30:00Z\n"
    "C004,,Bob,Smith,,,,,,\n"
)


def login(username: str, password: str = PASSWORD) -> APIClient:
    """A client holding a token obtained from the token endpoint, as a script does."""
    client = APIClient()
    response = client.post(
        f"{API}/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def member(username: str, workspace: Workspace, role: str) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD)
    Membership.objects.create(user=user, workspace=workspace, role=role)
    return user


def create(client, resource: str, body: dict) -> dict:
    response = client.post(f"{API}/{resource}/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def upload(client, parent_id: int, text: str, **extra):
    return client.post(
        f"{API}/parent-segments/{parent_id}/profiles/",
        data=text.encode("utf-8") if isinstance(text, str) else text,
        content_type="text/csv",
        **extra,
    )


def minimal_activation(segment: dict, connection: dict, /, **overrides) -> dict:
    body = {
        "name": "Everyone to Contacts",
        "segment": segment["id"],
        "connection": connection["id"],
        "export": {"mode": "append", "object": "Contact"},
        "output_mapping": {"export_all_columns": True},
    }
    body.update(overrides)
    return body


def create_activation(client, segment: dict, connection: dict, /, **overrides) -> dict:
    """The body of an activation created with minimal_activation's fields and `overrides`."""
    return create(client, "activations", minimal_activation(segment, connection, **overrides))


# An upsert of Contacts keyed by the customer id, the export most end-to-end tests use.
UPSERT_CONTACTS = {"mode": "update", "object": "Contact", "upsert": True, "key": "Customer_Key__c"}


PROBES = itertools.count(1)


def segment_size(client, parent, rules) -> int:
    response = client.post(
        f"{API}/segments/",
        # Segment names are unique per workspace: one probe name per call.
        {"parent_segment": parent["id"], "name": f"Probe {next(PROBES)}", "rules": rules},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["size"]


def condition(column, operator, value=None, *, with_value=True) -> dict:
    rule = {"type": "and", "conditions": [{"column": column, "operator": operator}]}
    if with_value:
        rule["conditions"][0]["value"] = value
    return rule


SECRET_FIELDS = ("password", "security_token", "client_secret", "refresh_token", "session_id")


# What every activation the API answers has.
ACTIVATION_FIELDS = {
    "id",
    "name",
    "description",
    "segment",
    "connection",
    "enabled",
    "export",
    "output_mapping",
    "schedule",
    "notifications",
}

EXPORT_KEYS = {
    "mode",
    "object",
    "upsert",
    "key",
    "hard_delete",
    "concurrency_mode",
    "batch_size",
    "api_version",
    "retry_initial_delay",
    "retry_limit",
}


def activation_errors(client, everyone, connection, **overrides) -> dict:
    response = client.post(
        f"{API}/activations/", minimal_activation(everyone, connection, **overrides), format="json"
    )
    assert response.status_code == 400, response.json()
    return response.json()


def scheduled(client, everyone, connection, schedule: dict) -> dict:
    response = client.post(
        f"{API}/activations/",
        minimal_activation(everyone, connection, schedule=schedule),
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["schedule"]


def parse_runs(next_runs: list[str]) -> list[datetime.datetime]:
    moments = [datetime.datetime.fromisoformat(text) for text in next_runs]
    assert all(moment.tzinfo is not None for moment in moments), next_runs
    return moments


SEED_CRON_CASES = [
    # The seed's table and examples.
    ("0 * * * *", "2026-01-01T00:00:00Z", ["01:00", "02:00", "03:00", "04:00", "05:00"], None),
    (
        "0 0 * * *",
        "2026-01-01T00:00:00Z",
        None,
        ["2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05", "2026-01-06"],
    ),
    (
        "0 0 1 * *",
        "2026-01-01T00:00:00Z",
        None,
        ["2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01", "2026-06-01"],
    ),
    (
        "0 0 1-10 * *",
        "2026-01-07T12:00:00Z",
        None,
        ["2026-01-08", "2026-01-09", "2026-01-10", "2026-02-01", "2026-02-02"],
    ),
    (
        "0 0 1,11,21 * *",
        "2026-01-01T12:00:00Z",
        None,
        ["2026-01-11", "2026-01-21", "2026-02-01", "2026-02-11", "2026-02-21"],
    ),
    # Both restricted: the more frequent (Mondays) wins.
    (
        "0 0 1 * 1",
        "2026-01-01T12:00:00Z",
        None,
        ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26", "2026-02-02"],
    ),
    # A day-of-month step means multiples: the 5th, 10th, ..., 30th.
    (
        "0 0 */5 * *",
        "2026-01-01T12:00:00Z",
        None,
        ["2026-01-05", "2026-01-10", "2026-01-15", "2026-01-20", "2026-01-25"],
    ),
    (
        "0 0 */5 * *",
        "2026-01-26T12:00:00Z",
        None,
        ["2026-01-30", "2026-02-05", "2026-02-10", "2026-02-15", "2026-02-20"],
    ),
    (
        "0 0 5,*/10,25 * *",
        "2026-01-01T12:00:00Z",
        None,
        ["2026-01-05", "2026-01-10", "2026-01-20", "2026-01-25", "2026-01-30"],
    ),
    # The 1st of every month, every 2 hours from 00:30.
    ("30 */2 1 * *", "2025-12-31T23:00:00Z", ["00:30", "02:30", "04:30", "06:30", "08:30"], None),
    # Named days and months.
    (
        "0 9 * * mon-fri",
        "2026-01-03T12:00:00Z",
        None,
        ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08", "2026-01-09"],
    ),
    (
        "0 9 * * SAT,sun",
        "2026-01-05T12:00:00Z",
        None,
        ["2026-01-10", "2026-01-11", "2026-01-17", "2026-01-18", "2026-01-24"],
    ),
    (
        "0 0 1 jan,jul *",
        "2026-01-05T12:00:00Z",
        None,
        ["2026-07-01", "2027-01-01", "2027-07-01", "2028-01-01", "2028-07-01"],
    ),
    (
        "0 0 15 feb-apr *",
        "2026-01-05T12:00:00Z",
        None,
        ["2026-02-15", "2026-03-15", "2026-04-15", "2027-02-15", "2027-03-15"],
    ),
    (
        "2,*/20,40-41 0 1 1 *",
        "2025-12-31T23:00:00Z",
        ["00:00", "00:02", "00:20", "00:40", "00:41"],
        None,
    ),
    # Sunday is 0 (and 7).
    (
        "0 0 * * 0",
        "2026-01-01T12:00:00Z",
        None,
        ["2026-01-04", "2026-01-11", "2026-01-18", "2026-01-25", "2026-02-01"],
    ),
    (
        "0 0 * * 7",
        "2026-01-01T12:00:00Z",
        None,
        ["2026-01-04", "2026-01-11", "2026-01-18", "2026-01-25", "2026-02-01"],
    ),
]


RUN_FIELDS = {
    "id",
    "activation",
    "trigger",
    "status",
    "started_at",
    "finished_at",
    "rows_read",
    "rows_sent",
    "rows_succeeded",
    "rows_failed",
    "salesforce_job_ids",
    "error",
}


def client_state_unchanged(client, parent, everyone, connection, activation) -> bool:
    return (
        client.get(f"{API}/parent-segments/{parent['id']}/").json()["name"] == parent["name"]
        and client.get(f"{API}/segments/{everyone['id']}/").json()["name"] == everyone["name"]
        and client.get(f"{API}/connections/{connection['id']}/").json()["name"]
        == connection["name"]
        and client.get(f"{API}/activations/{activation['id']}/").json()["name"]
        == activation["name"]
        and client.get(f"{API}/runs/").json()["count"] == 0
        and Profile.objects.count() == 4
    )


CONTACT_MAPPING = output_mapping(
    ("customer_id", "Customer_Key__c"),
    ("email", "Email"),
    ("first_name", "FirstName"),
    ("last_name", "LastName"),
    ("lifetime_value", "Lifetime_Value__c"),
    strings=[concat("Description", "From segment ", {"type": "segment_name"})],
    export_all_columns=False,
)


def emulator_connection(client, salesforce_emulator, **changes) -> dict:
    """A connection to the emulator (with connection_body's fields and `changes`): its body."""
    body = connection_body(name="Emulator", login_url=salesforce_emulator.url, **changes)
    return create(client, "connections", body)


def run_to_the_end(client, activation_id: int, capture) -> dict:
    with capture(execute=True):
        response = client.post(f"{API}/activations/{activation_id}/runs/")
    assert response.status_code == 202, response.json()
    run = client.get(f"{API}/runs/{response.json()['id']}/").json()
    assert run["trigger"] == "api"
    return run


def failed_rows(client, run_id: int) -> list[dict]:
    response = client.get(f"{API}/runs/{run_id}/failed-rows/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def contacts(salesforce_emulator) -> dict[str, dict]:
    return {record["Customer_Key__c"]: record for record in salesforce_emulator.records("Contact")}


def resolve(openapi: dict, schema: dict) -> dict:
    while "$ref" in schema or "allOf" in schema:
        if "allOf" in schema:
            schema = schema["allOf"][0]
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = openapi["components"]["schemas"][name]
    return schema
