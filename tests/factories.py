"""Factory functions for test data: plain functions with keyword arguments, no magic."""

from django.contrib.auth.models import User

from activations.models import Activation
from connectors.models import Connection
from segments.models import ParentSegment, Profile, Segment
from workspaces.models import Membership, Workspace

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


def make_user(username: str = "alice", *, workspace=None, role="owner", **fields) -> User:
    user = User.objects.create_user(username=username, password="password", **fields)
    if workspace is not None:
        Membership.objects.create(workspace=workspace, user=user, role=role)
    return user


def make_workspace(name: str = "Acme", **fields) -> Workspace:
    return Workspace.objects.create(name=name, **fields)


def make_parent_segment(*, workspace, **fields) -> ParentSegment:
    fields.setdefault("name", "Customers")
    fields.setdefault("key_column", "customer_id")
    fields.setdefault("columns", CUSTOMER_COLUMNS)
    return ParentSegment.objects.create(workspace=workspace, **fields)


def make_segment(*, parent=None, workspace=None, **fields) -> Segment:
    """A segment of `parent`, or of a new parent segment in `workspace` (or a new one)."""
    if parent is None:
        parent = make_parent_segment(workspace=workspace or make_workspace())
    fields.setdefault("name", "Everyone")
    fields.setdefault("rules", {"type": "and", "conditions": []})
    return Segment.objects.create(workspace=parent.workspace, parent_segment=parent, **fields)


def make_connection(*, workspace, **fields) -> Connection:
    fields.setdefault("name", "Salesforce production")
    fields.setdefault("login_url", "https://login.salesforce.com")
    fields.setdefault("username", "marketer@example.com")
    fields.setdefault("password", "hunter2")
    fields.setdefault("security_token", "TOKEN123")
    return Connection.objects.create(workspace=workspace, **fields)


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
    parent_name: str = "Customers",
    segment_name: str = "Everyone",
    **fields,
) -> Activation:
    """An activation through the fake connector (tests/activations/fake_connector.py, which
    the test registers) of a segment of `rows` customers made by make_profiles."""
    workspace = workspace or make_workspace()
    parent = make_parent_segment(workspace=workspace, name=parent_name)
    make_profiles(parent, rows)
    return make_activation(
        segment=make_segment(parent=parent, name=segment_name),
        connection=make_connection(workspace=workspace, kind="fake", name="Fake org"),
        **fields,
    )
