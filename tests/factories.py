"""Factory functions for test data: plain functions with keyword arguments, no magic."""

import io

from django.contrib.auth.models import User

from activations.models import Activation
from connectors.models import Connection
from segments.models import ParentSegment, Profile, Segment
from workspaces.models import Membership, Workspace


def columns(**types: str) -> list[dict]:
    """A parent segment's typed columns, in order: columns(customer_id="string", age="integer")."""
    return [{"name": name, "type": column_type} for name, column_type in types.items()]


CUSTOMER_COLUMNS = columns(
    customer_id="string",
    email="string",
    first_name="string",
    last_name="string",
    country="string",
    age="integer",
    lifetime_value="number",
    consent="boolean",
    signup_date="date",
    last_seen_at="timestamp",
)


# Every rule operator, in the editor's order.
RULE_OPERATORS = [
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
]


def output_mapping(*columns: tuple[str, str], **rest) -> dict:
    """An activation's output mapping: (source, output) column pairs, then the other keys
    given (`strings`, `export_all_columns`), as the API takes it."""
    return {"columns": [{"source": source, "output": output} for source, output in columns], **rest}


def concat(output: str, *parts) -> dict:
    """A string output built from parts: plain text, or a part such as {"type": "segment_id"}."""
    return {
        "output": output,
        "parts": [
            {"type": "string", "value": part} if isinstance(part, str) else part for part in parts
        ],
    }


def connection_body(**changes) -> dict:
    """A Salesforce connection that logs in with a password, as the API takes it."""
    return {
        "name": "Production",
        "type": "salesforce",
        "login_url": "https://login.salesforce.com",
        "auth_method": "credentials",
        "username": "marketer@example.com",
        "password": "hunter2",
        "security_token": "TOKEN123",
        **changes,
    }


def upsert_export(**changes) -> dict:
    """Every export setting of an upsert of Contacts keyed by customer id, with `changes`."""
    return {
        "mode": "update",
        "object": "Contact",
        "upsert": True,
        "key": "Customer_Key__c",
        "hard_delete": False,
        "concurrency_mode": "serial",
        "batch_size": 5000,
        "api_version": "59.0",
        "retry_initial_delay": 2.0,
        "retry_limit": 4,
        "null_value": "clear",
        "allow_destructive_shrink": False,
        "max_shrink_percent": 50,
        "sync": "full",
        "on_leave": "ignore",
        **changes,
    }


# Three profile columns to three Contact fields, the mapping most run tests send.
CONTACT_MAPPING = output_mapping(
    ("customer_id", "Customer_Key__c"),
    ("last_name", "LastName"),
    ("email", "Email"),
    strings=[],
    export_all_columns=False,
)

# Email and last name to the Contact fields of the same names, the mapping of a simple push.
EMAIL_MAPPING = output_mapping(
    ("email", "Email"), ("last_name", "LastName"), strings=[], export_all_columns=False
)

# The customer key and the last name only: the smallest mapping a Contact insert accepts.
KEY_AND_LAST_NAME_MAPPING = output_mapping(
    ("customer_id", "Customer_Key__c"),
    ("last_name", "LastName"),
    strings=[],
    export_all_columns=False,
)

# The rules of a segment of the customers in Japan.
IN_JAPAN = {"type": "and", "conditions": [{"column": "country", "operator": "eq", "value": "JP"}]}

# An activation's fields for an upsert keyed by the customer key, the push most runs make.
UPSERT_BY_CUSTOMER_KEY = {"mode": "update", "upsert": True, "key": "Customer_Key__c"}


def make_user(username: str = "alice", *, workspace=None, role="owner", **fields) -> User:
    user = User.objects.create_user(username=username, password="password", **fields)
    if workspace is not None:
        Membership.objects.create(workspace=workspace, user=user, role=role)
    return user


def make_workspace(name: str = "Acme", **fields) -> Workspace:
    return Workspace.objects.create(name=name, **fields)


def free_name(model, workspace, name: str) -> str:
    """`name`, or "name 2", "name 3"… when the workspace has it already (names are unique
    per workspace); for factory defaults only, so a test that names things gets its name."""
    candidate, number = name, 1
    while model.objects.filter(workspace=workspace, name__iexact=candidate).exists():
        number += 1
        candidate = f"{name} {number}"
    return candidate


def make_parent_segment(*, workspace, **fields) -> ParentSegment:
    fields.setdefault("name", free_name(ParentSegment, workspace, "Customers"))
    fields.setdefault("key_column", "customer_id")
    fields.setdefault("columns", CUSTOMER_COLUMNS)
    return ParentSegment.objects.create(workspace=workspace, **fields)


def make_segment(*, parent=None, workspace=None, **fields) -> Segment:
    """A segment of `parent`, or of a new parent segment in `workspace` (or a new one)."""
    if parent is None:
        parent = make_parent_segment(workspace=workspace or make_workspace())
    fields.setdefault("name", free_name(Segment, parent.workspace, "Everyone"))
    fields.setdefault("rules", {"type": "and", "conditions": []})
    return Segment.objects.create(workspace=parent.workspace, parent_segment=parent, **fields)


def make_connection(*, workspace, **fields) -> Connection:
    fields.setdefault("name", free_name(Connection, workspace, "Salesforce production"))
    fields.setdefault("login_url", "https://login.salesforce.com")
    fields.setdefault("username", "marketer@example.com")
    fields.setdefault("password", "hunter2")
    fields.setdefault("security_token", "TOKEN123")
    return Connection.objects.create(workspace=workspace, **fields)


def make_app_connection(*, workspace, auth_method="oauth", **fields) -> Connection:
    """A connection through a connected app (OAuth or client credentials): no password."""
    fields.update(username="", password="", security_token="")
    return make_connection(workspace=workspace, auth_method=auth_method, **fields)


def make_activation(*, segment=None, connection=None, workspace=None, **fields) -> Activation:
    """An activation of `segment` through `connection`; those left out are made in the
    segment's workspace, or in `workspace` (or a new one)."""
    workspace = segment.workspace if segment is not None else workspace or make_workspace()
    segment = segment or make_segment(workspace=workspace)
    connection = connection or make_connection(workspace=workspace)
    fields.setdefault("name", "Push to Contacts")
    fields.setdefault("object_name", "Contact")
    fields.setdefault("output_mapping", {"export_all_columns": True, "columns": [], "strings": []})
    return Activation.objects.create(
        workspace=segment.workspace, segment=segment, connection=connection, **fields
    )


def make_parent_with_rows(rows: dict[str, dict], **fields) -> ParentSegment:
    """A parent segment in a new workspace holding `rows` (key -> attributes)."""
    parent = make_parent_segment(workspace=make_workspace(), **fields)
    Profile.objects.bulk_create(
        Profile(parent_segment=parent, key=key, attributes=attributes)
        for key, attributes in rows.items()
    )
    return parent


def make_japan_segment(*, workspace, csv: bytes, **data) -> Segment:
    """A parent segment of `csv`, imported as an upload is, and its segment "Japan" (customers
    in Japan, in the Regions folder) with `data`, both made through the segment services."""
    from segments import services  # the services run signals and size counts, as the UI does

    parent = make_parent_segment(workspace=workspace)
    assert services.import_profiles_file(parent_segment=parent, file=io.BytesIO(csv)).errors == []
    data = {
        "parent_segment": parent,
        "name": "Japan",
        "folder": "Regions",
        "rules": IN_JAPAN,
        **data,
    }
    return services.create_segment(workspace=workspace, data=data)


def make_profiles(parent, count: int) -> None:
    Profile.objects.bulk_create(
        Profile(
            parent_segment=parent,
            key=f"C{number:04d}",
            attributes={
                "customer_id": f"C{number:04d}",
                "email": f"customer{number}@example.com",
                "first_name": f"First{number}",
                "last_name": f"Last{number}",
                "country": "JP",
                "age": 30 + number % 40,
                "lifetime_value": number * 10.5,
                "consent": number % 2 == 0,
                "signup_date": "2024-01-02",
                "last_seen_at": "2024-05-01T10:00:00Z",
            },
        )
        for number in range(1, count + 1)
    )


def make_fake_activation(
    *,
    rows: int,
    workspace=None,
    parent_name: str | None = None,
    segment_name: str | None = None,
    **fields,
) -> Activation:
    """An activation through the fake connector (tests/activations/fake_connector.py, which
    the test registers) of a segment of `rows` customers made by make_profiles."""
    workspace = workspace or make_workspace()
    parent = make_parent_segment(
        workspace=workspace, name=parent_name or free_name(ParentSegment, workspace, "Customers")
    )
    make_profiles(parent, rows)
    return make_activation(
        segment=make_segment(
            parent=parent, name=segment_name or free_name(Segment, workspace, "Everyone")
        ),
        connection=make_connection(
            workspace=workspace, kind="fake", name=free_name(Connection, workspace, "Fake org")
        ),
        **fields,
    )


def rows_of(parent: ParentSegment | int) -> dict[str, dict]:
    """A parent's rows by key as every reader sees them (samples, segments, runs), whether
    they are profiles or a snapshot table (segments/snapshots.py)."""
    from segments import audience

    parent = ParentSegment.objects.get(pk=getattr(parent, "pk", parent))
    everyone = Segment(parent_segment=parent, rules={"type": "and", "conditions": []})
    # Keyed by the key's text, as Profile.key holds it.
    return {str(row[parent.key_column]): row for row in audience.iter_rows(everyone)}
