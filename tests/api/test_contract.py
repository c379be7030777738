"""The REST API contract of issue 5, checked statement by statement from the outside.

Each test reads one sentence of the contract (URLs with their trailing slash, methods,
status codes, field names, defaults, error paths) and drives the API the way a script
would: a token from /api/v1/auth/token/, JSON bodies, and only what the answers say.
"""

import csv
import datetime
import io

import pytest
from django.contrib.auth.models import User
from knox.models import AuthToken
from rest_framework.test import APIClient

from segments.models import Profile
from workspaces.models import Membership, Workspace

API = "/api/v1"
PASSWORD = "correct horse battery staple"
CUSTOMER_COLUMNS = [
    {"name": "customer_id", "type": "string"},
    {"name": "email", "type": "string"},
    {"name": "first_name", "type": "string"},
    {"name": "last_name", "type": "string"},
    {"name": "country", "type": "string"},
    {"name": "age", "type": "integer"},
    {"name": "lifetime_value", "type": "number"},
    {"name": "consent", "type": "boolean"},
    {"name": "signup_date", "type": "date"},
    {"name": "last_seen_at", "type": "timestamp"},
]
CUSTOMERS_CSV = (
    "customer_id,email,first_name,last_name,country,age,lifetime_value,consent,signup_date,"
    "last_seen_at\n"
    "C001,hanako@example.jp,Hanako,Yamada,JP,34,1200.5,true,2024-01-15,2025-06-01T09:00:00Z\n"
    "C002,taro@example.jp,Taro,Suzuki,JP,41,80,false,2023-11-02,\n"
    "C003,ann@example.com,Ann,Lee,US,29,450,true,2022-05-30,2025-05-20T12:30:00Z\n"
    "C004,,Bob,Smith,,,,,,\n"
)


# --- Helpers: a script's view of the API -----------------------------------------------------


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


@pytest.fixture
def team(db):
    return Workspace.objects.create(name="Marketing")


@pytest.fixture
def owner(team):
    return member("owner", team, "owner")


@pytest.fixture
def client(owner):
    return login("owner")


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


@pytest.fixture
def parent(client):
    body = create(
        client,
        "parent-segments",
        {"name": "Customers", "key_column": "customer_id", "columns": CUSTOMER_COLUMNS},
    )
    assert upload(client, body["id"], CUSTOMERS_CSV).status_code == 200
    return body


@pytest.fixture
def everyone(client, parent):
    return create(
        client,
        "segments",
        {
            "parent_segment": parent["id"],
            "name": "Everyone",
            "rules": {"type": "and", "conditions": []},
        },
    )


@pytest.fixture
def connection(client):
    return create(
        client,
        "connections",
        {
            "name": "Production",
            "login_url": "https://login.salesforce.com",
            "auth_method": "credentials",
            "username": "marketer@example.com",
            "password": "hunter2",
            "security_token": "TOKEN123",
        },
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


# --- Authentication ----------------------------------------------------------------------------


def test_token_endpoint_answers_token_and_expiry(owner):
    response = APIClient().post(
        f"{API}/auth/token/", {"username": "owner", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"token", "expiry"}
    assert isinstance(body["token"], str)
    assert len(body["token"]) >= 32
    expiry = datetime.datetime.fromisoformat(body["expiry"].replace("Z", "+00:00"))
    assert expiry > datetime.datetime.now(datetime.UTC)


def test_token_is_used_as_authorization_token_header(owner):
    token = (
        APIClient()
        .post(f"{API}/auth/token/", {"username": "owner", "password": PASSWORD}, format="json")
        .json()["token"]
    )
    client = APIClient()

    anonymous = client.get(f"{API}/workspaces/")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    authenticated = client.get(f"{API}/workspaces/")

    assert anonymous.status_code == 401
    assert authenticated.status_code == 200


def test_tokens_are_stored_hashed(owner):
    token = (
        APIClient()
        .post(f"{API}/auth/token/", {"username": "owner", "password": PASSWORD}, format="json")
        .json()["token"]
    )

    stored = AuthToken.objects.get(user=owner)
    assert token not in (stored.digest, stored.token_key)
    assert stored.digest != token


def test_an_expired_token_is_refused(owner, time_machine):
    client = login("owner")
    stored = AuthToken.objects.get(user=owner)

    time_machine.move_to(stored.expiry + datetime.timedelta(minutes=1))
    response = client.get(f"{API}/workspaces/")

    assert response.status_code == 401
    assert "detail" in response.json()


def test_wrong_password_is_a_400_without_token(owner):
    response = APIClient().post(
        f"{API}/auth/token/", {"username": "owner", "password": "nope"}, format="json"
    )

    assert response.status_code == 400
    assert "token" not in response.json()


def test_token_endpoint_is_rate_limited(owner, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "token": "3/min",
        },
    }
    client = APIClient()
    codes = [
        client.post(
            f"{API}/auth/token/", {"username": "owner", "password": "nope"}, format="json"
        ).status_code
        for _ in range(4)
    ]

    assert codes == [400, 400, 400, 429]


def test_session_authentication_works_for_the_browser(owner):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(owner)

    read = browser.get(f"{API}/workspaces/")
    write_without_csrf = browser.post(
        f"{API}/parent-segments/",
        {"name": "X", "key_column": "id", "columns": [{"name": "id", "type": "string"}]},
        format="json",
    )

    assert read.status_code == 200
    assert write_without_csrf.status_code == 403


# --- Workspaces --------------------------------------------------------------------------------


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


# --- Parent segments and their CSV -------------------------------------------------------------


def test_parent_segment_has_the_contract_fields(client):
    body = create(
        client,
        "parent-segments",
        {
            "name": "Customers",
            "description": "CRM",
            "key_column": "customer_id",
            "columns": CUSTOMER_COLUMNS,
        },
    )

    assert set(body) >= {
        "id",
        "workspace",
        "name",
        "description",
        "key_column",
        "columns",
        "row_count",
        "created_at",
        "updated_at",
    }
    assert body["columns"] == CUSTOMER_COLUMNS
    assert body["row_count"] == 0
    fetched = client.get(f"{API}/parent-segments/{body['id']}/").json()
    assert fetched == body


def test_profiles_upload_as_multipart_file_field(client):
    parent = create(
        client,
        "parent-segments",
        {"name": "Customers", "key_column": "customer_id", "columns": CUSTOMER_COLUMNS},
    )
    file = io.BytesIO(CUSTOMERS_CSV.encode())
    file.name = "customers.csv"

    response = client.post(
        f"{API}/parent-segments/{parent['id']}/profiles/", {"file": file}, format="multipart"
    )

    assert response.status_code == 200
    assert response.json()["rows_imported"] == 4
    assert response.json()["errors"] == []
    assert client.get(f"{API}/parent-segments/{parent['id']}/").json()["row_count"] == 4


def test_profiles_upload_as_text_csv_body(client):
    parent = create(
        client,
        "parent-segments",
        {"name": "Customers", "key_column": "customer_id", "columns": CUSTOMER_COLUMNS},
    )

    response = upload(client, parent["id"], CUSTOMERS_CSV)

    assert response.status_code == 200
    assert response.json()["rows_imported"] == 4
    assert response.json()["errors"] == []


def test_profiles_upload_text_csv_with_charset(client):
    parent = create(
        client,
        "parent-segments",
        {"name": "Customers", "key_column": "customer_id", "columns": CUSTOMER_COLUMNS},
    )

    response = client.post(
        f"{API}/parent-segments/{parent['id']}/profiles/",
        data=CUSTOMERS_CSV.encode(),
        content_type="text/csv; charset=utf-8",
    )

    assert response.status_code == 200
    assert response.json()["rows_imported"] == 4


def test_a_csv_with_errors_is_400_and_imports_nothing(client, parent):
    bad = (
        "customer_id,email,age,signup_date\n"
        "C100,new@example.com,34,2024-01-15\n"
        "C101,other@example.com,old,2024-01-15\n"
        "C102,third@example.com,20,2024-02-30\n"
    )

    response = upload(client, parent["id"], bad)

    assert response.status_code == 400
    body = response.json()
    assert body["rows_imported"] == 0
    assert [(error["line"], error["column"]) for error in body["errors"]] == [
        (3, "age"),
        (4, "signup_date"),
    ]
    assert all(isinstance(error["message"], str) and error["message"] for error in body["errors"])
    # Nothing imported: the previous rows are intact.
    assert sorted(Profile.objects.values_list("key", flat=True)) == ["C001", "C002", "C003", "C004"]
    assert client.get(f"{API}/parent-segments/{parent['id']}/").json()["row_count"] == 4


def test_a_csv_that_is_not_utf8_is_a_400(client, parent):
    response = upload(
        client, parent["id"], "customer_id,email\nC9,caf\xe9@example.com\n".encode("latin-1")
    )

    assert response.status_code == 400
    body = response.json()
    assert body["rows_imported"] == 0
    assert body["errors"]
    assert Profile.objects.count() == 4


def test_a_broken_csv_is_a_400(client, parent):
    response = upload(client, parent["id"], 'customer_id,email\nC9,"unterminated\n')

    assert response.status_code == 400
    assert response.json()["errors"]
    assert Profile.objects.count() == 4


def test_a_csv_without_the_key_column_is_a_400(client, parent):
    response = upload(client, parent["id"], "email\nx@example.com\n")

    assert response.status_code == 400
    assert response.json()["errors"][0]["line"] == 1


def test_an_upload_without_a_file_is_a_400(client, parent):
    response = client.post(
        f"{API}/parent-segments/{parent['id']}/profiles/", {}, format="multipart"
    )

    assert response.status_code == 400
    assert "file" in response.json()


def test_an_empty_csv_body_is_a_400(client, parent):
    response = upload(client, parent["id"], b"")

    assert response.status_code == 400
    assert Profile.objects.count() == 4


# --- Segments --------------------------------------------------------------------------------


def segment_size(client, parent, rules) -> int:
    response = client.post(
        f"{API}/segments/",
        {"parent_segment": parent["id"], "name": "Probe", "rules": rules},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["size"]


def condition(column, operator, value=None, *, with_value=True) -> dict:
    rule = {"type": "and", "conditions": [{"column": column, "operator": operator}]}
    if with_value:
        rule["conditions"][0]["value"] = value
    return rule


def test_segment_has_the_contract_fields(client, parent):
    body = create(
        client,
        "segments",
        {
            "parent_segment": parent["id"],
            "name": "Japan",
            "description": "JP customers",
            "folder": "Regions",
            "rules": {
                "type": "and",
                "conditions": [{"column": "country", "operator": "eq", "value": "JP"}],
            },
        },
    )

    assert set(body) >= {
        "id",
        "workspace",
        "parent_segment",
        "name",
        "description",
        "folder",
        "rules",
        "size",
    }
    assert body["parent_segment"] == parent["id"]
    assert body["size"] == 2
    assert body["folder"] == "Regions"


def test_segments_filter_by_parent_segment(client, parent, everyone):
    other = create(
        client,
        "parent-segments",
        {"name": "Other", "key_column": "id", "columns": [{"name": "id", "type": "string"}]},
    )
    create(client, "segments", {"parent_segment": other["id"], "name": "Other everyone"})

    mine = client.get(f"{API}/segments/", {"parent_segment": parent["id"]}).json()["results"]
    theirs = client.get(f"{API}/segments/", {"parent_segment": other["id"]}).json()["results"]

    assert [item["id"] for item in mine] == [everyone["id"]]
    assert [item["name"] for item in theirs] == ["Other everyone"]


def test_an_empty_and_group_matches_every_row(client, parent):
    assert segment_size(client, parent, {"type": "and", "conditions": []}) == 4


@pytest.mark.parametrize(
    ("rules", "size"),
    [
        (condition("country", "eq", "JP"), 2),
        # Null matches only is_null (SQL semantics): C004 has no country.
        (condition("country", "ne", "JP"), 1),
        (condition("country", "in", ["JP", "US"]), 3),
        (condition("country", "not_in", ["JP"]), 1),
        (condition("age", "gt", 34), 1),
        (condition("age", "gte", 34), 2),
        (condition("age", "lt", 34), 1),
        (condition("age", "lte", 34), 2),
        (condition("age", "between", [29, 34]), 2),
        (condition("lifetime_value", "between", [80, 450]), 2),
        (condition("email", "contains", "example.jp"), 2),
        (condition("email", "starts_with", "ann"), 1),
        (condition("email", "is_null", with_value=False), 1),
        (condition("email", "is_not_null", with_value=False), 3),
        (condition("signup_date", "before", "2024-01-01"), 2),
        (condition("signup_date", "after", "2023-11-02"), 1),
        (condition("consent", "eq", True), 2),
        (
            {
                "type": "or",
                "conditions": [
                    {"column": "country", "operator": "eq", "value": "US"},
                    {
                        "type": "and",
                        "conditions": [
                            {"column": "country", "operator": "eq", "value": "JP"},
                            {"column": "age", "operator": "gt", "value": 40},
                        ],
                    },
                ],
            },
            2,
        ),
    ],
)
def test_rule_operators_select_the_documented_rows(client, parent, rules, size):
    assert segment_size(client, parent, rules) == size


def test_between_is_inclusive_at_both_ends(client, parent):
    assert segment_size(client, parent, condition("age", "between", [29, 41])) == 3


def test_is_null_accepts_an_explicit_null_value(client, parent):
    assert segment_size(client, parent, condition("email", "is_null", None)) == 1


def test_within_last_days_takes_a_number_of_days(client, parent, time_machine):
    time_machine.move_to(datetime.datetime(2024, 1, 20, 12, tzinfo=datetime.UTC))

    assert segment_size(client, parent, condition("signup_date", "within_last_days", 10)) == 1
    assert segment_size(client, parent, condition("last_seen_at", "within_last_days", 30)) == 0


def test_within_last_days_on_timestamps(client, parent, time_machine):
    time_machine.move_to(datetime.datetime(2025, 6, 2, 12, tzinfo=datetime.UTC))

    assert segment_size(client, parent, condition("last_seen_at", "within_last_days", 7)) == 1


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        (condition("country", "in", "JP"), "rules.conditions[0].value"),
        (condition("age", "between", [1]), "rules.conditions[0].value"),
        (condition("age", "between", 5), "rules.conditions[0].value"),
        (condition("signup_date", "within_last_days", "a week"), "rules.conditions[0].value"),
        (condition("shoe_size", "eq", 42), "rules.conditions[0].column"),
        (condition("country", "resembles", "JP"), "rules.conditions[0].operator"),
        (
            {
                "type": "and",
                "conditions": [
                    {"type": "or", "conditions": [condition("age", "gt", "x")["conditions"][0]]}
                ],
            },
            "rules.conditions[0].conditions[0].value",
        ),
    ],
)
def test_bad_rules_are_a_400_naming_the_condition(client, parent, rules, path):
    response = client.post(
        f"{API}/segments/",
        {"parent_segment": parent["id"], "name": "Bad", "rules": rules},
        format="json",
    )

    assert response.status_code == 400
    assert path in response.json(), response.json()


# --- Connections -------------------------------------------------------------------------------

SECRET_FIELDS = ("password", "security_token", "client_secret", "refresh_token", "session_id")


def test_connection_has_the_contract_fields(client):
    body = create(
        client,
        "connections",
        {
            "name": "Production",
            "type": "salesforce",
            "login_url": "https://login.salesforce.com",
            "auth_method": "credentials",
            "username": "marketer@example.com",
            "password": "hunter2",
            "security_token": "TOKEN123",
            "retry_initial_delay": 2,
            "retry_limit": 5,
        },
    )

    assert set(body) >= {
        "id",
        "workspace",
        "name",
        "type",
        "login_url",
        "auth_method",
        "username",
        "client_id",
        "retry_initial_delay",
        "retry_limit",
    }
    assert body["type"] == "salesforce"
    assert body["auth_method"] == "credentials"
    assert (body["retry_initial_delay"], body["retry_limit"]) == (2, 5)


def test_connection_type_defaults_to_salesforce(connection):
    assert connection["type"] == "salesforce"


def test_connection_secrets_are_write_only_and_say_whether_they_are_set(client, connection):
    for response in (
        client.get(f"{API}/connections/{connection['id']}/"),
        client.get(f"{API}/connections/"),
    ):
        text = response.content.decode()
        assert "hunter2" not in text
        assert "TOKEN123" not in text
    body = client.get(f"{API}/connections/{connection['id']}/").json()
    assert {name: body[name] for name in SECRET_FIELDS} == {
        "password": True,
        "security_token": True,
        "client_secret": False,
        "refresh_token": False,
        "session_id": False,
    }


@pytest.mark.parametrize(
    ("auth_method", "fields"),
    [
        ("credentials", {"username": "u@example.com", "password": "pw", "security_token": "t"}),
        ("oauth", {"client_id": "id", "client_secret": "s", "refresh_token": "r"}),
        ("client_credentials", {"client_id": "id", "client_secret": "s"}),
        ("session_id", {"session_id": "00Dxx!AQ"}),
    ],
)
def test_connection_accepts_every_auth_method(client, auth_method, fields):
    login_url = (
        "https://login.salesforce.com"
        if auth_method in ("credentials", "oauth")
        else "https://acme.my.salesforce.com"
    )

    response = client.post(
        f"{API}/connections/",
        {"name": auth_method, "login_url": login_url, "auth_method": auth_method, **fields},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["auth_method"] == auth_method
    assert {name: body[name] for name in SECRET_FIELDS} == {
        name: name in fields for name in SECRET_FIELDS
    }
    for name in SECRET_FIELDS:
        if name in fields:
            assert f'"{fields[name]}"' not in response.content.decode()


def test_connection_update_without_secrets_keeps_them(client, connection):
    response = client.patch(
        f"{API}/connections/{connection['id']}/", {"name": "Renamed"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert response.json()["password"] is True


def test_connection_test_answers_ok_true(client, salesforce_emulator):
    body = create(
        client,
        "connections",
        {
            "name": "Emulator",
            "login_url": salesforce_emulator.url,
            "auth_method": "credentials",
            "username": "marketer@example.com",
            "password": "hunter2",
            "security_token": "TOKEN123",
        },
    )

    response = client.post(f"{API}/connections/{body['id']}/test/")

    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_connection_test_answers_ok_false_with_the_error(client, salesforce_emulator):
    body = create(
        client,
        "connections",
        {
            "name": "Emulator",
            "login_url": salesforce_emulator.url,
            "auth_method": "credentials",
            "username": "marketer@example.com",
            "password": "wrong",
            "security_token": "TOKEN123",
        },
    )

    response = client.post(f"{API}/connections/{body['id']}/test/")

    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert isinstance(response.json()["error"], str)
    assert response.json()["error"]
    assert "wrong" not in response.json()["error"]


def test_connection_with_an_unknown_auth_method_is_a_400(client):
    response = client.post(
        f"{API}/connections/",
        {"name": "X", "auth_method": "kerberos", "username": "u", "password": "p"},
        format="json",
    )

    assert response.status_code == 400
    assert "auth_method" in response.json()


def test_connection_delete_answers_204(client, connection):
    response = client.delete(f"{API}/connections/{connection['id']}/")

    assert response.status_code == 204
    assert client.get(f"{API}/connections/{connection['id']}/").status_code == 404


# --- Activations: shape and defaults ---------------------------------------------------------------

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


def test_a_minimal_activation_is_created_with_sensible_defaults(client, everyone, connection):
    response = client.post(
        f"{API}/activations/", minimal_activation(everyone, connection), format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) >= {
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


def test_activation_export_mode_defaults_to_append(client, everyone, connection):
    body = create(
        client, "activations", minimal_activation(everyone, connection, export={"object": "Lead"})
    )

    assert body["export"]["mode"] == "append"


def test_activation_full_payload_round_trips(client, everyone, connection):
    sent = {
        "name": "Japan to Contacts",
        "description": "Nightly",
        "segment": everyone["id"],
        "connection": connection["id"],
        "enabled": False,
        "export": {
            "mode": "update",
            "object": "Contact",
            "upsert": True,
            "key": "Customer_Key__c",
            "hard_delete": False,
            "concurrency_mode": "serial",
            "batch_size": 2000,
            "api_version": "60.0",
            "retry_initial_delay": 5,
            "retry_limit": 2,
        },
        "output_mapping": {
            "export_all_columns": False,
            "columns": [
                {"source": "customer_id", "output": "Customer_Key__c"},
                {"source": "email", "output": "Email"},
                {"source": "last_name", "output": "LastName"},
            ],
            "strings": [
                {
                    "output": "Description",
                    "parts": [
                        {"type": "string", "value": "Synced "},
                        {"type": "timestamp", "format": "%Y-%m-%d"},
                        {"type": "string", "value": " from "},
                        {"type": "segment_name"},
                        {"type": "string", "value": "/"},
                        {"type": "segment_id"},
                        {"type": "string", "value": "/"},
                        {"type": "audience_id"},
                    ],
                }
            ],
        },
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
    assert {key: fetched["export"][key] for key in EXPORT_KEYS} == {
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


def test_activation_answer_can_be_sent_back_with_put(client, everyone, connection):
    body = create(client, "activations", minimal_activation(everyone, connection))

    response = client.put(f"{API}/activations/{body['id']}/", body, format="json")

    assert response.status_code == 200, response.json()


def test_activation_delete_answers_204(client, everyone, connection):
    body = create(client, "activations", minimal_activation(everyone, connection))

    response = client.delete(f"{API}/activations/{body['id']}/")

    assert response.status_code == 204
    assert client.get(f"{API}/activations/{body['id']}/").status_code == 404


# --- Activations: validation errors by path ----------------------------------------------------


def activation_errors(client, everyone, connection, **overrides) -> dict:
    response = client.post(
        f"{API}/activations/", minimal_activation(everyone, connection, **overrides), format="json"
    )
    assert response.status_code == 400, response.json()
    return response.json()


def test_output_column_errors_name_the_column_by_index(client, everyone, connection):
    errors = activation_errors(
        client,
        everyone,
        connection,
        output_mapping={
            "export_all_columns": False,
            "columns": [
                {"source": "email", "output": "Email"},
                {"source": "first_name", "output": "FirstName"},
                {"source": "last_name", "output": "Last Name"},
            ],
        },
    )

    assert list(errors) == ["output_mapping.columns[2].output"]


@pytest.mark.parametrize("output", ["", "1stName", "First-Name", "Name__", "_Name", "Na__me__c__"])
def test_output_names_must_be_salesforce_api_names(client, everyone, connection, output):
    errors = activation_errors(
        client,
        everyone,
        connection,
        output_mapping={
            "export_all_columns": False,
            "columns": [
                {"source": "email", "output": "Email"},
                {"source": "first_name", "output": output},
            ],
        },
    )

    assert "output_mapping.columns[1].output" in errors


def test_duplicate_output_names_are_refused(client, everyone, connection):
    errors = activation_errors(
        client,
        everyone,
        connection,
        output_mapping={
            "export_all_columns": False,
            "columns": [
                {"source": "email", "output": "Email"},
                {"source": "first_name", "output": "Email"},
            ],
        },
    )

    assert list(errors) == ["output_mapping.columns[1].output"]


def test_a_string_may_not_reuse_an_output_name(client, everyone, connection):
    errors = activation_errors(
        client,
        everyone,
        connection,
        output_mapping={
            "export_all_columns": False,
            "columns": [{"source": "email", "output": "Email"}],
            "strings": [{"output": "Email", "parts": [{"type": "string", "value": "x"}]}],
        },
    )

    assert list(errors) == ["output_mapping.strings[0].output"]


def test_unknown_source_columns_are_refused(client, everyone, connection):
    errors = activation_errors(
        client,
        everyone,
        connection,
        output_mapping={
            "export_all_columns": False,
            "columns": [{"source": "shoe_size", "output": "Shoe__c"}],
        },
    )

    assert list(errors) == ["output_mapping.columns[0].source"]
    assert "shoe_size" in errors["output_mapping.columns[0].source"][0]


def test_output_name_defaults_to_the_source_name(client, everyone, connection):
    body = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            output_mapping={"export_all_columns": False, "columns": [{"source": "email"}]},
        ),
    )

    preview = client.post(f"{API}/activations/{body['id']}/preview/").json()
    assert preview["columns"] == ["email"]


def test_update_mode_needs_a_key(client, everyone, connection):
    errors = activation_errors(
        client, everyone, connection, export={"mode": "update", "object": "Contact"}
    )

    assert "export.key" in errors


def test_upsert_outside_update_mode_is_refused(client, everyone, connection):
    errors = activation_errors(
        client, everyone, connection, export={"mode": "append", "object": "Contact", "upsert": True}
    )

    assert "export.upsert" in errors


def test_hard_delete_outside_truncate_mode_is_refused(client, everyone, connection):
    errors = activation_errors(
        client,
        everyone,
        connection,
        export={"mode": "append", "object": "Contact", "hard_delete": True},
    )

    assert "export.hard_delete" in errors


@pytest.mark.parametrize("version", ["32.0", "40.0", "40.9"])
def test_api_versions_below_41_are_refused_clearly(client, everyone, connection, version):
    errors = activation_errors(
        client,
        everyone,
        connection,
        export={"mode": "append", "object": "Contact", "api_version": version},
    )

    assert list(errors) == ["export.api_version"]
    assert "41.0" in errors["export.api_version"][0]


@pytest.mark.parametrize("version", ["41.0", "59.0", "62.0"])
def test_api_versions_from_41_are_accepted(client, everyone, connection, version):
    body = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            export={"mode": "append", "object": "Contact", "api_version": version},
        ),
    )

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
def test_bad_export_settings_are_named_by_path(client, everyone, connection, export, path):
    errors = activation_errors(client, everyone, connection, export=export)

    assert path in errors, errors


def test_a_rejected_activation_changes_nothing(client, everyone, connection):
    body = create(client, "activations", minimal_activation(everyone, connection))

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
def test_bad_notifications_are_named_by_path(client, everyone, connection, notifications, path):
    errors = activation_errors(client, everyone, connection, notifications=notifications)

    assert path in errors, errors


@pytest.mark.parametrize("on", ["failure", "success", "always"])
def test_notifications_on_each_choice(client, everyone, connection, on):
    body = create(
        client,
        "activations",
        minimal_activation(
            everyone, connection, notifications={"emails": ["a@example.com"], "on": on}
        ),
    )

    assert body["notifications"] == {"emails": ["a@example.com"], "on": on}


# --- Schedules ---------------------------------------------------------------------------------


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


def test_next_runs_are_five_iso_strings_with_offset_in_the_time_zone(
    client, everyone, connection, time_machine
):
    time_machine.move_to(datetime.datetime(2026, 1, 10, 3, 0, tzinfo=datetime.UTC))

    schedule = scheduled(
        client,
        everyone,
        connection,
        {"type": "cron", "cron": "0 9 * * *", "timezone": "Asia/Tokyo"},
    )

    assert schedule["next_runs"] == [
        "2026-01-11T09:00:00+09:00",
        "2026-01-12T09:00:00+09:00",
        "2026-01-13T09:00:00+09:00",
        "2026-01-14T09:00:00+09:00",
        "2026-01-15T09:00:00+09:00",
    ]


def test_next_runs_do_not_include_the_delay(client, everyone, connection, time_machine):
    time_machine.move_to(datetime.datetime(2026, 1, 10, 3, 0, tzinfo=datetime.UTC))

    schedule = scheduled(
        client,
        everyone,
        connection,
        {"type": "hourly", "timezone": "UTC", "delay_seconds": 900},
    )

    assert schedule["delay_seconds"] == 900
    assert schedule["next_runs"] == [
        "2026-01-10T04:00:00+00:00",
        "2026-01-10T05:00:00+00:00",
        "2026-01-10T06:00:00+00:00",
        "2026-01-10T07:00:00+00:00",
        "2026-01-10T08:00:00+00:00",
    ]


def test_next_runs_is_read_only(client, everyone, connection, time_machine):
    time_machine.move_to(datetime.datetime(2026, 1, 10, 3, 0, tzinfo=datetime.UTC))

    schedule = scheduled(
        client,
        everyone,
        connection,
        {"type": "daily", "timezone": "UTC", "next_runs": ["2030-01-01T00:00:00+00:00"]},
    )

    assert schedule["next_runs"][0] == "2026-01-11T00:00:00+00:00"


def test_daily_runs_at_midnight_in_the_time_zone(client, everyone, connection, time_machine):
    time_machine.move_to(datetime.datetime(2026, 1, 10, 3, 0, tzinfo=datetime.UTC))

    schedule = scheduled(
        client, everyone, connection, {"type": "daily", "timezone": "America/New_York"}
    )

    # 03:00 UTC is 22:00 the day before in New York.
    assert schedule["next_runs"][:2] == [
        "2026-01-10T00:00:00-05:00",
        "2026-01-11T00:00:00-05:00",
    ]


def test_next_runs_follow_daylight_saving_time(client, everyone, connection, time_machine):
    # The United States move their clocks forward on 8 March 2026.
    time_machine.move_to(datetime.datetime(2026, 3, 6, 12, 0, tzinfo=datetime.UTC))

    schedule = scheduled(
        client,
        everyone,
        connection,
        {"type": "cron", "cron": "30 1 * * *", "timezone": "America/New_York"},
    )

    assert schedule["next_runs"] == [
        "2026-03-07T01:30:00-05:00",
        "2026-03-08T01:30:00-05:00",
        "2026-03-09T01:30:00-04:00",
        "2026-03-10T01:30:00-04:00",
        "2026-03-11T01:30:00-04:00",
    ]


def test_a_time_skipped_by_daylight_saving_runs_once_after_the_gap(
    client, everyone, connection, time_machine
):
    time_machine.move_to(datetime.datetime(2026, 3, 7, 12, 0, tzinfo=datetime.UTC))

    schedule = scheduled(
        client,
        everyone,
        connection,
        {"type": "cron", "cron": "30 2 * * *", "timezone": "America/New_York"},
    )

    runs = parse_runs(schedule["next_runs"])
    assert [run.date().isoformat() for run in runs] == [
        "2026-03-08",
        "2026-03-09",
        "2026-03-10",
        "2026-03-11",
        "2026-03-12",
    ]
    assert schedule["next_runs"][0] == "2026-03-08T03:30:00-04:00"
    assert schedule["next_runs"][1] == "2026-03-09T02:30:00-04:00"


def test_a_repeated_hour_in_autumn_runs_once(client, everyone, connection, time_machine):
    # Europe/Berlin goes back from 03:00 to 02:00 on 25 October 2026.
    time_machine.move_to(datetime.datetime(2026, 10, 24, 12, 0, tzinfo=datetime.UTC))

    schedule = scheduled(
        client,
        everyone,
        connection,
        {"type": "cron", "cron": "30 2 * * *", "timezone": "Europe/Berlin"},
    )

    assert schedule["next_runs"][:3] == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
    ]


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


@pytest.mark.parametrize(("cron", "now", "times", "dates"), SEED_CRON_CASES)
def test_seed_cron_examples_through_the_api(
    client, everyone, connection, time_machine, cron, now, times, dates
):
    time_machine.move_to(datetime.datetime.fromisoformat(now.replace("Z", "+00:00")))

    schedule = scheduled(
        client, everyone, connection, {"type": "cron", "cron": cron, "timezone": "UTC"}
    )

    runs = parse_runs(schedule["next_runs"])
    assert len(runs) == 5
    assert all(run.utcoffset() == datetime.timedelta(0) for run in runs)
    if times is not None:
        assert [run.strftime("%H:%M") for run in runs] == times
    if dates is not None:
        assert [run.date().isoformat() for run in runs] == dates
        if cron.startswith("0 0 "):
            assert {run.strftime("%H:%M:%S") for run in runs} == {"00:00:00"}


@pytest.mark.parametrize(
    ("cron", "schedule_type"), [("@hourly", "hourly"), ("@daily", "daily"), ("@HOURLY", "hourly")]
)
def test_a_cron_shortcut_is_accepted_as_its_schedule_type(
    client, everyone, connection, time_machine, cron, schedule_type
):
    time_machine.move_to(datetime.datetime(2026, 1, 10, 3, 0, tzinfo=datetime.UTC))

    schedule = scheduled(
        client, everyone, connection, {"type": "cron", "cron": cron, "timezone": "UTC"}
    )

    assert schedule["type"] == schedule_type
    expected_first = (
        "2026-01-10T04:00:00+00:00" if schedule_type == "hourly" else "2026-01-11T00:00:00+00:00"
    )
    assert schedule["next_runs"][0] == expected_first


def test_a_cron_without_a_type_is_a_cron_schedule(client, everyone, connection, time_machine):
    time_machine.move_to(datetime.datetime(2026, 1, 10, 3, 0, tzinfo=datetime.UTC))

    schedule = scheduled(client, everyone, connection, {"cron": "0 9 * * *", "timezone": "UTC"})

    assert schedule["type"] == "cron"
    assert schedule["cron"] == "0 9 * * *"
    assert schedule["next_runs"][0] == "2026-01-10T09:00:00+00:00"


def test_the_time_zone_defaults_to_utc(client, everyone, connection, time_machine):
    time_machine.move_to(datetime.datetime(2026, 1, 10, 3, 0, tzinfo=datetime.UTC))

    schedule = scheduled(client, everyone, connection, {"type": "daily"})

    assert schedule["timezone"] == "UTC"
    assert schedule["next_runs"][0] == "2026-01-11T00:00:00+00:00"


@pytest.mark.parametrize(
    "cron",
    [
        "0 25 * * *",
        "61 * * * *",
        "0 0 32 * *",
        "0 0 * 13 *",
        "0 0 * * 8",
        "0 0 * *",
        "a b c d e",
        "0 0 * * funday",
        "0 0 31 2 *",
    ],
)
def test_a_bad_cron_is_a_400_on_schedule_cron(client, everyone, connection, cron):
    errors = activation_errors(
        client, everyone, connection, schedule={"type": "cron", "cron": cron, "timezone": "UTC"}
    )

    assert list(errors) == ["schedule.cron"], errors
    assert all(isinstance(message, str) and message for message in errors["schedule.cron"])


def test_a_cron_schedule_without_cron_is_a_400_on_schedule_cron(client, everyone, connection):
    errors = activation_errors(
        client, everyone, connection, schedule={"type": "cron", "timezone": "UTC"}
    )

    assert list(errors) == ["schedule.cron"]


def test_an_unknown_time_zone_is_a_400_on_schedule_timezone(client, everyone, connection):
    errors = activation_errors(
        client, everyone, connection, schedule={"type": "daily", "timezone": "Mars/Olympus"}
    )

    assert list(errors) == ["schedule.timezone"]


def test_an_unknown_schedule_type_is_a_400_on_schedule_type(client, everyone, connection):
    errors = activation_errors(
        client, everyone, connection, schedule={"type": "weekly", "timezone": "UTC"}
    )

    assert "schedule.type" in errors


def test_a_negative_delay_is_a_400_on_schedule_delay_seconds(client, everyone, connection):
    errors = activation_errors(
        client,
        everyone,
        connection,
        schedule={"type": "daily", "timezone": "UTC", "delay_seconds": -5},
    )

    assert list(errors) == ["schedule.delay_seconds"]


def test_changing_the_schedule_changes_next_runs(client, everyone, connection, time_machine):
    time_machine.move_to(datetime.datetime(2026, 1, 10, 3, 0, tzinfo=datetime.UTC))
    body = create(
        client,
        "activations",
        minimal_activation(everyone, connection, schedule={"type": "daily", "timezone": "UTC"}),
    )

    response = client.patch(
        f"{API}/activations/{body['id']}/",
        {"schedule": {"type": "cron", "cron": "15 6 * * *", "timezone": "Asia/Tokyo"}},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["schedule"]["next_runs"][0] == "2026-01-11T06:15:00+09:00"
    none = client.patch(
        f"{API}/activations/{body['id']}/", {"schedule": {"type": "none"}}, format="json"
    )
    assert none.json()["schedule"]["next_runs"] == []


def test_a_cron_error_says_which_cron_field_is_wrong(client, everyone, connection):
    errors = activation_errors(
        client, everyone, connection, schedule={"type": "cron", "cron": "0 25 * * *"}
    )

    assert errors == {"schedule.cron": ["hour: 25 is out of range 0-23"]}


# --- Preview and validate --------------------------------------------------------------------------


def test_preview_answers_columns_and_rows_as_they_would_be_sent(client, parent, connection):
    japan = create(
        client,
        "segments",
        {
            "parent_segment": parent["id"],
            "name": "Japan",
            "rules": {
                "type": "and",
                "conditions": [{"column": "country", "operator": "eq", "value": "JP"}],
            },
        },
    )
    activation = create(
        client,
        "activations",
        minimal_activation(
            japan,
            connection,
            output_mapping={
                "export_all_columns": False,
                "columns": [
                    {"source": "customer_id", "output": "Customer_Key__c"},
                    {"source": "consent", "output": "Consent__c"},
                    {"source": "signup_date", "output": "Signup__c"},
                    {"source": "last_seen_at", "output": "Last_Seen_At__c"},
                    {"source": "lifetime_value", "output": "Lifetime_Value__c"},
                ],
                "strings": [
                    {
                        "output": "Source__c",
                        "parts": [
                            {"type": "string", "value": "seg-"},
                            {"type": "segment_id"},
                            {"type": "string", "value": "-"},
                            {"type": "segment_name"},
                            {"type": "string", "value": "-"},
                            {"type": "audience_id"},
                        ],
                    }
                ],
            },
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
    client, everyone, connection, time_machine
):
    time_machine.move_to(datetime.datetime(2026, 2, 3, 4, 5, 6, tzinfo=datetime.UTC), tick=False)
    activation = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            output_mapping={
                "export_all_columns": False,
                "columns": [{"source": "customer_id", "output": "Customer_Key__c"}],
                "strings": [
                    {"output": "Exported_At__c", "parts": [{"type": "timestamp"}]},
                    {
                        "output": "Exported_On__c",
                        "parts": [{"type": "timestamp", "format": "%Y/%m/%d"}],
                    },
                ],
            },
        ),
    )

    rows = client.post(f"{API}/activations/{activation['id']}/preview/").json()["rows"]

    assert rows[0][1:] == ["2026-02-03T04:05:06Z", "2026/02/03"]
    assert {tuple(row[1:]) for row in rows} == {("2026-02-03T04:05:06Z", "2026/02/03")}


def test_validate_accepts_a_mapping_the_object_can_take(client, everyone, salesforce_emulator):
    connection = emulator_connection(client, salesforce_emulator)
    activation = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            export={
                "mode": "update",
                "object": "Contact",
                "upsert": True,
                "key": "Customer_Key__c",
            },
            output_mapping=CONTACT_MAPPING,
        ),
    )

    response = client.post(f"{API}/activations/{activation['id']}/validate/")

    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_validate_refuses_an_upsert_key_that_is_not_an_external_id(
    client, everyone, salesforce_emulator
):
    connection = emulator_connection(client, salesforce_emulator)
    activation = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            export={"mode": "update", "object": "Contact", "upsert": True, "key": "LastName"},
            output_mapping=CONTACT_MAPPING,
        ),
    )

    body = client.post(f"{API}/activations/{activation['id']}/validate/").json()

    assert body["ok"] is False
    assert "External ID" in body["error"]
    assert "LastName" in body["error"]


def test_validate_names_an_output_column_the_object_lacks(client, everyone, salesforce_emulator):
    connection = emulator_connection(client, salesforce_emulator)
    activation = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            output_mapping={
                "export_all_columns": False,
                "columns": [
                    {"source": "last_name", "output": "LastName"},
                    {"source": "age", "output": "Shoe_Size__c"},
                ],
            },
        ),
    )

    body = client.post(f"{API}/activations/{activation['id']}/validate/").json()

    assert body["ok"] is False
    assert "Shoe_Size__c" in body["error"]


def test_validate_names_an_object_the_org_lacks(client, everyone, salesforce_emulator):
    connection = emulator_connection(client, salesforce_emulator)
    activation = create(
        client,
        "activations",
        minimal_activation(
            everyone, connection, export={"mode": "append", "object": "Spaceship__c"}
        ),
    )

    body = client.post(f"{API}/activations/{activation['id']}/validate/").json()

    assert body["ok"] is False
    assert "Spaceship__c" in body["error"]


# --- Runs --------------------------------------------------------------------------------------

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


@pytest.fixture
def activation(client, everyone, connection):
    return create(client, "activations", minimal_activation(everyone, connection))


def test_run_creation_answers_202_with_the_queued_run(client, activation):
    response = client.post(f"{API}/activations/{activation['id']}/runs/")

    assert response.status_code == 202
    run = response.json()
    assert set(run) >= RUN_FIELDS
    assert run["activation"] == activation["id"]
    assert run["trigger"] == "api"
    assert run["status"] == "queued"
    assert (run["rows_read"], run["rows_sent"], run["rows_succeeded"], run["rows_failed"]) == (
        0,
        0,
        0,
        0,
    )
    assert run["salesforce_job_ids"] == []
    assert run["finished_at"] is None


def test_run_creation_accepts_an_empty_json_body(client, activation):
    response = client.post(f"{API}/activations/{activation['id']}/runs/", {}, format="json")

    assert response.status_code == 202


def test_runs_are_read_by_id_and_listed(client, activation):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()

    detail = client.get(f"{API}/runs/{run['id']}/")
    listing = client.get(f"{API}/runs/")

    assert detail.status_code == 200
    assert detail.json()["id"] == run["id"]
    assert set(detail.json()) >= RUN_FIELDS
    assert [item["id"] for item in listing.json()["results"]] == [run["id"]]


def test_runs_filter_by_activation_and_status(client, everyone, connection, activation):
    other = create(client, "activations", minimal_activation(everyone, connection, name="Other"))
    first = client.post(f"{API}/activations/{activation['id']}/runs/").json()
    client.post(f"{API}/runs/{first['id']}/cancel/")
    second = client.post(f"{API}/activations/{other['id']}/runs/").json()

    by_activation = client.get(f"{API}/runs/", {"activation": activation["id"]}).json()
    by_status = client.get(f"{API}/runs/", {"status": "queued"}).json()
    cancelled = client.get(f"{API}/runs/", {"status": "cancelled"}).json()

    assert [item["id"] for item in by_activation["results"]] == [first["id"]]
    assert [item["id"] for item in by_status["results"]] == [second["id"]]
    assert [item["id"] for item in cancelled["results"]] == [first["id"]]


def test_runs_are_read_only(client, activation):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()

    assert (
        client.post(f"{API}/runs/", {"activation": activation["id"]}, format="json").status_code
        == 405
    )
    assert (
        client.patch(f"{API}/runs/{run['id']}/", {"status": "succeeded"}, format="json").status_code
        == 405
    )
    assert client.delete(f"{API}/runs/{run['id']}/").status_code == 405


def test_cancel_cancels_a_queued_run(client, activation):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()

    response = client.post(f"{API}/runs/{run['id']}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["finished_at"] is not None
    assert client.get(f"{API}/runs/{run['id']}/").json()["status"] == "cancelled"


def test_cancelling_a_finished_run_is_a_409(client, activation):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()
    client.post(f"{API}/runs/{run['id']}/cancel/")

    response = client.post(f"{API}/runs/{run['id']}/cancel/")

    assert response.status_code == 409
    assert "detail" in response.json()


def test_a_second_run_while_one_is_queued_is_a_409(client, activation):
    client.post(f"{API}/activations/{activation['id']}/runs/")

    response = client.post(f"{API}/activations/{activation['id']}/runs/")

    assert response.status_code == 409
    assert "detail" in response.json()
    assert len(client.get(f"{API}/runs/").json()["results"]) == 1


def test_an_idempotency_key_makes_a_retried_request_return_the_same_run(client, activation):
    first = client.post(
        f"{API}/activations/{activation['id']}/runs/", HTTP_IDEMPOTENCY_KEY="nightly-2026-01-10"
    )
    retry = client.post(
        f"{API}/activations/{activation['id']}/runs/", HTTP_IDEMPOTENCY_KEY="nightly-2026-01-10"
    )

    assert first.status_code == 202
    assert retry.status_code in (200, 202)
    assert retry.json()["id"] == first.json()["id"]
    assert len(client.get(f"{API}/runs/").json()["results"]) == 1


def test_an_idempotency_key_still_returns_the_run_after_it_finished(client, activation):
    first = client.post(
        f"{API}/activations/{activation['id']}/runs/", HTTP_IDEMPOTENCY_KEY="k-1"
    ).json()
    client.post(f"{API}/runs/{first['id']}/cancel/")

    retry = client.post(f"{API}/activations/{activation['id']}/runs/", HTTP_IDEMPOTENCY_KEY="k-1")

    assert retry.json()["id"] == first["id"]
    assert len(client.get(f"{API}/runs/").json()["results"]) == 1


def test_run_creation_is_rate_limited(client, activation, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "run_create": "2/min",
        },
    }
    codes = []
    for _ in range(3):
        response = client.post(f"{API}/activations/{activation['id']}/runs/")
        codes.append(response.status_code)
        if response.status_code == 202:
            client.post(f"{API}/runs/{response.json()['id']}/cancel/")

    assert codes == [202, 202, 429]
    assert client.post(f"{API}/activations/{activation['id']}/runs/").has_header("Retry-After")


def test_failed_rows_of_a_run_without_failures_is_a_csv_header(client, activation):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()

    response = client.get(f"{API}/runs/{run['id']}/failed-rows/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")


# --- Permissions ---------------------------------------------------------------------------------


@pytest.fixture
def viewer(team):
    member("viewer", team, "viewer")
    return login("viewer")


@pytest.fixture
def editor(team):
    member("editor", team, "editor")
    return login("editor")


@pytest.fixture
def stranger(db):
    member("stranger", Workspace.objects.create(name="Competitor"), "owner")
    return login("stranger")


def test_a_viewer_reads_everything(viewer, parent, everyone, connection, activation):
    for resource, body in (
        ("parent-segments", parent),
        ("segments", everyone),
        ("connections", connection),
        ("activations", activation),
    ):
        assert viewer.get(f"{API}/{resource}/").json()["count"] == 1
        assert viewer.get(f"{API}/{resource}/{body['id']}/").status_code == 200


def test_a_viewer_cannot_create_change_delete_or_run(
    viewer, parent, everyone, connection, activation
):
    attempts = [
        viewer.post(
            f"{API}/parent-segments/",
            {"name": "X", "key_column": "id", "columns": [{"name": "id", "type": "string"}]},
            format="json",
        ),
        viewer.patch(f"{API}/parent-segments/{parent['id']}/", {"name": "X"}, format="json"),
        upload(viewer, parent["id"], CUSTOMERS_CSV),
        viewer.post(
            f"{API}/segments/", {"parent_segment": parent["id"], "name": "X"}, format="json"
        ),
        viewer.patch(f"{API}/segments/{everyone['id']}/", {"name": "X"}, format="json"),
        viewer.delete(f"{API}/segments/{everyone['id']}/"),
        viewer.post(
            f"{API}/connections/",
            {"name": "X", "username": "u", "password": "p"},
            format="json",
        ),
        viewer.patch(f"{API}/connections/{connection['id']}/", {"name": "X"}, format="json"),
        viewer.delete(f"{API}/connections/{connection['id']}/"),
        viewer.post(f"{API}/activations/", minimal_activation(everyone, connection), format="json"),
        viewer.patch(f"{API}/activations/{activation['id']}/", {"name": "X"}, format="json"),
        viewer.put(f"{API}/activations/{activation['id']}/", activation, format="json"),
        viewer.delete(f"{API}/activations/{activation['id']}/"),
        viewer.post(f"{API}/activations/{activation['id']}/runs/"),
    ]

    assert [response.status_code for response in attempts] == [403] * len(attempts)
    assert all("detail" in response.json() for response in attempts)
    assert client_state_unchanged(viewer, parent, everyone, connection, activation)


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


def test_a_viewer_cannot_cancel_a_run(viewer, client, activation):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()

    response = viewer.post(f"{API}/runs/{run['id']}/cancel/")

    assert response.status_code == 403
    assert client.get(f"{API}/runs/{run['id']}/").json()["status"] == "queued"


def test_a_viewer_may_preview(viewer, activation):
    assert viewer.post(f"{API}/activations/{activation['id']}/preview/").status_code == 200


def test_an_editor_creates_changes_and_runs(editor, everyone, connection):
    created = editor.post(
        f"{API}/activations/", minimal_activation(everyone, connection), format="json"
    )
    changed = editor.patch(
        f"{API}/activations/{created.json()['id']}/", {"name": "Renamed"}, format="json"
    )
    run = editor.post(f"{API}/activations/{created.json()['id']}/runs/")

    assert (created.status_code, changed.status_code, run.status_code) == (201, 200, 202)


def test_another_workspaces_objects_are_404(
    stranger, client, parent, everyone, connection, activation
):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()
    attempts = [
        stranger.get(f"{API}/parent-segments/{parent['id']}/"),
        upload(stranger, parent["id"], CUSTOMERS_CSV),
        stranger.get(f"{API}/segments/{everyone['id']}/"),
        stranger.patch(f"{API}/segments/{everyone['id']}/", {"name": "X"}, format="json"),
        stranger.get(f"{API}/connections/{connection['id']}/"),
        stranger.post(f"{API}/connections/{connection['id']}/test/"),
        stranger.delete(f"{API}/connections/{connection['id']}/"),
        stranger.get(f"{API}/activations/{activation['id']}/"),
        stranger.post(f"{API}/activations/{activation['id']}/preview/"),
        stranger.post(f"{API}/activations/{activation['id']}/validate/"),
        stranger.post(f"{API}/activations/{activation['id']}/runs/"),
        stranger.delete(f"{API}/activations/{activation['id']}/"),
        stranger.get(f"{API}/runs/{run['id']}/"),
        stranger.get(f"{API}/runs/{run['id']}/failed-rows/"),
        stranger.post(f"{API}/runs/{run['id']}/cancel/"),
    ]

    assert [response.status_code for response in attempts] == [404] * len(attempts)
    for resource in ("parent-segments", "segments", "connections", "activations", "runs"):
        assert stranger.get(f"{API}/{resource}/").json()["count"] == 0


def test_another_workspaces_segment_cannot_be_referenced(stranger, everyone, connection):
    own = stranger.post(
        f"{API}/connections/", {"name": "Mine", "username": "u", "password": "p"}, format="json"
    ).json()

    response = stranger.post(
        f"{API}/activations/", minimal_activation(everyone, own), format="json"
    )

    assert response.status_code == 400
    assert "segment" in response.json()


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"name": "\xff\xfe"}', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"null", "application/json"),
        (b"name=x", "application/x-www-form-urlencoded"),
        (b"<xml/>", "application/xml"),
    ],
)
def test_malformed_bodies_are_4xx_json(client, body, content_type):
    for resource in ("parent-segments", "segments", "connections", "activations"):
        response = client.post(f"{API}/{resource}/", data=body, content_type=content_type)
        assert 400 <= response.status_code < 500, (resource, response.status_code)
        assert isinstance(response.json(), dict)


@pytest.mark.parametrize(
    "overrides",
    [
        {"export": "append"},
        {"export": {"mode": 1, "object": ["Contact"]}},
        {"output_mapping": []},
        {"output_mapping": {"columns": "email"}},
        {"output_mapping": {"columns": [{"source": 5, "output": None}]}},
        {"output_mapping": {"strings": [{"output": "X__c", "parts": "abc"}]}},
        {"output_mapping": {"strings": [{"output": "X__c", "parts": [{"type": "moon"}]}]}},
        {"schedule": "daily"},
        {"schedule": {"type": "cron", "cron": 5}},
        {"notifications": {"emails": "a@example.com"}},
        {"segment": "one"},
        {"segment": 10**30},
        {"name": ""},
        {"name": "x" * 10_000},
        {"enabled": "maybe"},
        {"colour": "red"},
    ],
)
def test_wrong_types_are_a_400_not_a_500(client, everyone, connection, overrides):
    response = client.post(
        f"{API}/activations/", minimal_activation(everyone, connection, **overrides), format="json"
    )

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert response.json()


def test_unknown_fields_are_named(client, everyone, connection):
    response = client.post(
        f"{API}/activations/",
        minimal_activation(everyone, connection, colour="red"),
        format="json",
    )

    assert response.status_code == 400
    assert "colour" in response.json()


def test_a_huge_body_is_refused(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = client.post(
        f"{API}/segments/",
        data=b'{"name": "' + b"x" * 5000 + b'"}',
        content_type="application/json",
    )

    assert response.status_code == 413
    assert "detail" in response.json()


def test_a_missing_trailing_slash_is_a_json_404(client):
    response = client.get(f"{API}/activations")

    assert response.status_code == 404
    assert "detail" in response.json()


# --- End to end against the Salesforce emulator --------------------------------------------------

CONTACT_MAPPING = {
    "export_all_columns": False,
    "columns": [
        {"source": "customer_id", "output": "Customer_Key__c"},
        {"source": "email", "output": "Email"},
        {"source": "first_name", "output": "FirstName"},
        {"source": "last_name", "output": "LastName"},
        {"source": "lifetime_value", "output": "Lifetime_Value__c"},
    ],
    "strings": [
        {
            "output": "Description",
            "parts": [
                {"type": "string", "value": "From segment "},
                {"type": "segment_name"},
            ],
        }
    ],
}


def emulator_connection(client, salesforce_emulator) -> dict:
    return create(
        client,
        "connections",
        {
            "name": "Emulator",
            "type": "salesforce",
            "login_url": salesforce_emulator.url,
            "auth_method": "credentials",
            "username": "marketer@example.com",
            "password": "hunter2",
            "security_token": "TOKEN123",
        },
    )


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


def test_end_to_end_append(
    client, everyone, salesforce_emulator, django_capture_on_commit_callbacks
):
    connection = emulator_connection(client, salesforce_emulator)
    activation = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            export={"mode": "append", "object": "Contact"},
            output_mapping=CONTACT_MAPPING,
        ),
    )

    run = run_to_the_end(client, activation["id"], django_capture_on_commit_callbacks)

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
    client, everyone, salesforce_emulator, django_capture_on_commit_callbacks
):
    salesforce_emulator.insert_records(
        "Contact",
        [{"Customer_Key__c": "C001", "LastName": "Old", "Email": "old@example.jp", "Title": "VIP"}],
    )
    connection = emulator_connection(client, salesforce_emulator)
    activation = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            export={
                "mode": "update",
                "object": "Contact",
                "upsert": True,
                "key": "Customer_Key__c",
            },
            output_mapping=CONTACT_MAPPING,
        ),
    )
    assert client.post(f"{API}/activations/{activation['id']}/validate/").json() == {"ok": True}

    run = run_to_the_end(client, activation["id"], django_capture_on_commit_callbacks)
    again = run_to_the_end(client, activation["id"], django_capture_on_commit_callbacks)

    assert run["status"] == "succeeded", run
    assert (run["rows_read"], run["rows_succeeded"], run["rows_failed"]) == (4, 4, 0)
    assert again["status"] == "succeeded", again
    records = contacts(salesforce_emulator)
    # Updated in place (Title kept), the others inserted, and no duplicates after a re-run.
    assert len(salesforce_emulator.records("Contact")) == 4
    assert (records["C001"]["LastName"], records["C001"]["Title"]) == ("Yamada", "VIP")
    assert records["C001"]["Email"] == "hanako@example.jp"
    assert records["C003"]["FirstName"] == "Ann"


def test_end_to_end_update_by_id(client, salesforce_emulator, django_capture_on_commit_callbacks):
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
    connection = emulator_connection(client, salesforce_emulator)
    activation = create(
        client,
        "activations",
        minimal_activation(
            segment,
            connection,
            export={"mode": "update", "object": "Contact", "key": "Id"},
            output_mapping={
                "export_all_columns": False,
                "columns": [
                    {"source": "contact_id", "output": "Id"},
                    {"source": "title", "output": "Title"},
                ],
            },
        ),
    )

    run = run_to_the_end(client, activation["id"], django_capture_on_commit_callbacks)

    assert run["status"] == "succeeded", run
    assert (run["rows_read"], run["rows_succeeded"], run["rows_failed"]) == (2, 2, 0)
    titles = {record["Id"]: record["Title"] for record in salesforce_emulator.records("Contact")}
    assert titles == {ids[0]: "Chief", ids[1]: "Deputy"}


def test_end_to_end_update_by_email_without_upsert_fails_the_unmatched_row(
    client, everyone, salesforce_emulator, django_capture_on_commit_callbacks
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
    connection = emulator_connection(client, salesforce_emulator)
    activation = create(
        client,
        "activations",
        minimal_activation(
            japan,
            connection,
            export={"mode": "update", "object": "Contact", "key": "Email"},
            output_mapping={
                "export_all_columns": False,
                "columns": [
                    {"source": "email", "output": "Email"},
                    {"source": "last_name", "output": "LastName"},
                ],
            },
        ),
    )

    run = run_to_the_end(client, activation["id"], django_capture_on_commit_callbacks)

    assert run["status"] == "partially_failed", run
    assert (run["rows_read"], run["rows_succeeded"], run["rows_failed"]) == (3, 2, 1)
    rows = failed_rows(client, run["id"])
    assert [(row["Email"], row["LastName"]) for row in rows] == [("ann@example.com", "Lee")]
    assert rows[0]["sf__Error"]
    names = sorted(record["LastName"] for record in salesforce_emulator.records("Contact"))
    assert names == ["Suzuki", "Yamada"]


@pytest.mark.parametrize("hard_delete", [False, True])
def test_end_to_end_truncate(
    client, everyone, salesforce_emulator, django_capture_on_commit_callbacks, hard_delete
):
    salesforce_emulator.insert_records("Contact", [{"LastName": "Stale"}, {"LastName": "Older"}])
    connection = emulator_connection(client, salesforce_emulator)
    activation = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            export={"mode": "truncate", "object": "Contact", "hard_delete": hard_delete},
            output_mapping=CONTACT_MAPPING,
        ),
    )
    assert activation["export"]["hard_delete"] is hard_delete

    run = run_to_the_end(client, activation["id"], django_capture_on_commit_callbacks)

    assert run["status"] == "succeeded", run
    assert (run["rows_read"], run["rows_succeeded"], run["rows_failed"]) == (4, 4, 0)
    assert sorted(contacts(salesforce_emulator)) == ["C001", "C002", "C003", "C004"]
    binned = sorted(record["LastName"] for record in salesforce_emulator.recycle_bin("Contact"))
    assert binned == ([] if hard_delete else ["Older", "Stale"])


def test_end_to_end_failed_rows_download_with_sf_error(
    client, everyone, salesforce_emulator, django_capture_on_commit_callbacks
):
    connection = emulator_connection(client, salesforce_emulator)
    # A string column may go into a date field (Salesforce judges its values row by row):
    # customer ids are no dates, so Salesforce refuses every row.
    activation = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            export={"mode": "append", "object": "Contact"},
            output_mapping={
                "export_all_columns": False,
                "columns": [
                    {"source": "customer_id", "output": "Customer_Key__c"},
                    {"source": "first_name", "output": "LastName"},
                    {"source": "customer_id", "output": "Birthdate"},
                ],
            },
        ),
    )

    run = run_to_the_end(client, activation["id"], django_capture_on_commit_callbacks)

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


def test_a_string_part_keeps_its_spaces(client, everyone, connection):
    activation = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
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
        ),
    )

    parts = activation["output_mapping"]["strings"][0]["parts"]
    rows = client.post(f"{API}/activations/{activation['id']}/preview/").json()["rows"]

    assert [part.get("value") for part in parts] == [" In ", None, " "]
    assert rows[0] == [" In Everyone "]


@pytest.mark.parametrize(
    ("sent", "stored"), [(59, "59.0"), (59.0, "59.0"), ("59", "59.0"), ("v60.0", "60.0")]
)
def test_an_api_version_is_read_in_its_common_spellings(client, everyone, connection, sent, stored):
    body = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            export={"mode": "append", "object": "Contact", "api_version": sent},
        ),
    )

    assert body["export"]["api_version"] == stored


@pytest.mark.parametrize("sent", [40, "40", 32.0, "v32.0"])
def test_an_old_api_version_in_any_spelling_names_the_minimum(client, everyone, connection, sent):
    errors = activation_errors(
        client,
        everyone,
        connection,
        export={"mode": "append", "object": "Contact", "api_version": sent},
    )

    assert errors == {"export.api_version": ["Bulk API 2.0 needs API version 41.0 or later."]}


@pytest.mark.parametrize("sent", ["latest", "59.0.1", "", True, [59]])
def test_a_malformed_api_version_is_a_400(client, everyone, connection, sent):
    errors = activation_errors(
        client,
        everyone,
        connection,
        export={"mode": "append", "object": "Contact", "api_version": sent},
    )

    assert list(errors) == ["export.api_version"]


def test_deleting_a_segment_used_by_activations_is_a_409(client, everyone, connection):
    for _ in range(2):
        create(client, "activations", minimal_activation(everyone, connection))

    response = client.delete(f"{API}/segments/{everyone['id']}/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Used by activation(s) Everyone to Contacts: delete those first."
    }


def test_output_mapping_is_answered_in_its_full_shape(client, everyone, connection):
    body = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            output_mapping={
                "columns": [{"source": "email"}, {"source": "last_name", "output": "LastName"}]
            },
        ),
    )

    assert body["output_mapping"] == {
        "export_all_columns": False,
        "columns": [
            {"source": "email", "output": "email"},
            {"source": "last_name", "output": "LastName"},
        ],
        "strings": [],
    }


# --- The OpenAPI schema --------------------------------------------------------------------------


@pytest.fixture
def openapi(db):
    response = APIClient().get(f"{API}/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def resolve(openapi: dict, schema: dict) -> dict:
    while "$ref" in schema or "allOf" in schema:
        if "allOf" in schema:
            schema = schema["allOf"][0]
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = openapi["components"]["schemas"][name]
    return schema


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
    assert set(activation["required"]) >= {
        "id",
        "name",
        "segment",
        "connection",
        "enabled",
        "export",
        "output_mapping",
        "schedule",
        "notifications",
    }


def test_schema_documents_the_rule_tree(openapi):
    segment = openapi["components"]["schemas"]["Segment"]
    group = resolve(openapi, segment["properties"]["rules"])
    condition = openapi["components"]["schemas"]["RuleCondition"]
    operator = resolve(openapi, condition["properties"]["operator"])

    assert set(group["properties"]) == {"type", "conditions"}
    assert set(condition["properties"]) == {"column", "operator", "value"}
    assert set(operator["enum"]) == {
        "eq",
        "ne",
        "in",
        "not_in",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "contains",
        "starts_with",
        "is_null",
        "is_not_null",
        "before",
        "after",
        "within_last_days",
    }


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
    client, everyone, salesforce_emulator, django_capture_on_commit_callbacks, concurrency_mode
):
    connection = emulator_connection(client, salesforce_emulator)
    activation = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            export={
                "mode": "append",
                "object": "Contact",
                "batch_size": 3,
                "concurrency_mode": concurrency_mode,
            },
            output_mapping=CONTACT_MAPPING,
        ),
    )

    run = run_to_the_end(client, activation["id"], django_capture_on_commit_callbacks)

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
    client, everyone, salesforce_emulator, django_capture_on_commit_callbacks
):
    connection = emulator_connection(client, salesforce_emulator)
    activation = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            export={"mode": "append", "object": "Contact", "api_version": "60.0"},
            output_mapping=CONTACT_MAPPING,
        ),
    )

    run = run_to_the_end(client, activation["id"], django_capture_on_commit_callbacks)

    assert run["status"] == "succeeded", run
    ingest = [path for _, path in salesforce_emulator.requests_log if "/jobs/ingest" in path]
    assert ingest
    assert all(path.startswith("/services/data/v60.0/") for path in ingest)


def test_end_to_end_null_value_clear_sends_na(client, everyone, connection):
    activation = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            export={"mode": "append", "object": "Contact", "null_value": "clear"},
            output_mapping={
                "export_all_columns": False,
                "columns": [{"source": "email", "output": "Email"}],
            },
        ),
    )

    rows = client.post(f"{API}/activations/{activation['id']}/preview/").json()["rows"]

    assert rows[-1] == ["#N/A"]


def test_a_run_with_bad_credentials_fails_without_revealing_them(
    client, everyone, salesforce_emulator, django_capture_on_commit_callbacks
):
    connection = create(
        client,
        "connections",
        {
            "name": "Emulator",
            "login_url": salesforce_emulator.url,
            "username": "marketer@example.com",
            "password": "not-the-password",
            "security_token": "TOKEN123",
        },
    )
    activation = create(
        client,
        "activations",
        minimal_activation(everyone, connection, output_mapping=CONTACT_MAPPING),
    )

    run = run_to_the_end(client, activation["id"], django_capture_on_commit_callbacks)
    validation = client.post(f"{API}/activations/{activation['id']}/validate/")

    assert run["status"] == "failed"
    assert run["error"]
    assert "not-the-password" not in str(run)
    assert validation.status_code == 200
    assert validation.json()["ok"] is False
    assert "not-the-password" not in validation.content.decode()
    assert salesforce_emulator.records("Contact") == []


@pytest.mark.parametrize("key", ["Id", "CreatedDate", "LastModifiedDate", "CreatedById", "id"])
def test_upsert_refuses_a_system_field_as_its_key(client, everyone, connection, key):
    errors = activation_errors(
        client,
        everyone,
        connection,
        export={"mode": "update", "object": "Contact", "upsert": True, "key": key},
        output_mapping={
            "export_all_columns": False,
            "columns": [{"source": "customer_id", "output": key}],
        },
    )

    assert list(errors) == ["export.key"]
    assert "External ID" in errors["export.key"][0]


def test_update_by_id_without_upsert_is_accepted(client, everyone, connection):
    body = create(
        client,
        "activations",
        minimal_activation(
            everyone,
            connection,
            export={"mode": "update", "object": "Contact", "key": "Id"},
            output_mapping={
                "export_all_columns": False,
                "columns": [{"source": "customer_id", "output": "Id"}],
            },
        ),
    )

    assert (body["export"]["key"], body["export"]["upsert"]) == ("Id", False)
