"""Parent segments over the API, and their CSV upload (multipart or a text/csv body)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from segments.models import ParentSegment, Profile
from tests.factories import (
    columns,
    make_activation,
    make_connection,
    make_parent_segment,
    make_segment,
)

URL = "/api/v1/parent-segments/"
COLUMNS = columns(customer_id="string", email="string", age="integer", signup_date="date")
GOOD_CSV = (
    "customer_id,email,age,signup_date\n"
    "C001,hanako@example.jp,34,2024-01-15\n"
    "C002,taro@example.jp,41,2023-11-02\n"
)


@pytest.fixture
def parent(workspace):
    return make_parent_segment(workspace=workspace, columns=COLUMNS)


def profiles_of(parent) -> dict:
    return {
        profile.key: profile.attributes for profile in Profile.objects.filter(parent_segment=parent)
    }


def upload(client, parent, text: str, mode: str | None = None):
    """Sends `text` as the parent's profiles, a text/csv body, in `mode` when given."""
    query = f"?mode={mode}" if mode else ""
    return client.post(f"{URL}{parent.pk}/profiles/{query}", text.encode(), content_type="text/csv")


def test_creates_a_parent_segment(workspace, owner_client):
    response = owner_client.post(
        URL,
        {
            "name": "Customers",
            "description": "CRM export",
            "key_column": "customer_id",
            "columns": COLUMNS,
        },
        format="json",
    )

    assert response.status_code == 201
    parent = ParentSegment.objects.get()
    assert response.json() == {
        "id": parent.pk,
        "workspace": workspace.pk,
        "name": "Customers",
        "description": "CRM export",
        "key_column": "customer_id",
        "columns": COLUMNS,
        "row_count": 0,
        # Rows from CSV uploads: no source, no refresh schedule.
        "source": None,
        "storage": "imported",
        "refresh": {
            "mode": "replace",
            "cursor_column": "",
            "schedule": {
                "type": "none",
                "cron": "",
                "timezone": "UTC",
                "next_runs": [],
                "description": "Not scheduled",
            },
        },
        "notify_emails": [],
        "last_refresh": None,
        "created_at": response.json()["created_at"],
        "updated_at": response.json()["updated_at"],
    }


def test_invalid_columns_are_named_by_path(workspace, owner_client):
    response = owner_client.post(
        URL,
        {
            "name": "Customers",
            "key_column": "id",
            "columns": [{"name": "customer_id", "type": "string"}, {"name": "x", "type": "money"}],
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"columns[1].type": ['"money" is not a valid choice.']}
    assert not ParentSegment.objects.exists()


def test_service_rules_are_reported_by_path(workspace, owner_client):
    response = owner_client.post(
        URL,
        {
            "name": "Customers",
            "key_column": "id",
            "columns": [
                {"name": "customer_id", "type": "string"},
                {"name": "9lives", "type": "string"},
            ],
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "columns[1].name": ["use letters, digits and underscores, not starting with a digit"],
        "key_column": ["'id' is not one of the columns"],
    }


def test_patch_renames_and_keeps_the_rest(parent, owner_client):
    response = owner_client.patch(f"{URL}{parent.pk}/", {"name": "All customers"}, format="json")

    assert response.status_code == 200
    parent.refresh_from_db()
    assert (parent.name, parent.columns, parent.key_column) == (
        "All customers",
        COLUMNS,
        "customer_id",
    )


def test_uploads_rows_as_a_multipart_file(parent, owner_client):
    upload = SimpleUploadedFile("customers.csv", GOOD_CSV.encode(), content_type="text/csv")

    response = owner_client.post(
        f"{URL}{parent.pk}/profiles/", {"file": upload}, format="multipart"
    )

    assert response.status_code == 200
    assert response.json() == {"rows_imported": 2, "errors": [], "error_count": 0}
    assert profiles_of(parent) == {
        "C001": {
            "customer_id": "C001",
            "email": "hanako@example.jp",
            "age": 34,
            "signup_date": "2024-01-15",
        },
        "C002": {
            "customer_id": "C002",
            "email": "taro@example.jp",
            "age": 41,
            "signup_date": "2023-11-02",
        },
    }
    parent.refresh_from_db()
    assert parent.row_count == 2


def test_uploads_rows_as_a_text_csv_body(parent, owner_client):
    response = upload(owner_client, parent, GOOD_CSV)

    assert response.status_code == 200
    assert response.json()["rows_imported"] == 2
    assert set(profiles_of(parent)) == {"C001", "C002"}


def test_a_file_with_errors_imports_nothing(parent, owner_client):
    upload(owner_client, parent, GOOD_CSV)
    bad = "customer_id,email,age,signup_date\nC009,x@example.jp,old,2024-02-30\n"

    response = upload(owner_client, parent, bad)

    assert response.status_code == 400
    body = response.json()
    assert body["rows_imported"] == 0
    assert body["error_count"] == 2
    assert [(error["line"], error["column"]) for error in body["errors"]] == [
        (2, "age"),
        (2, "signup_date"),
    ]
    assert set(profiles_of(parent)) == {"C001", "C002"}


def test_bad_utf8_in_the_file_is_a_row_error_not_a_crash(parent, owner_client):
    body = b"customer_id,email,age,signup_date\nC001,\xff\xfe@example.jp,1,2024-01-01\n"

    response = owner_client.post(f"{URL}{parent.pk}/profiles/", body, content_type="text/csv")

    assert response.status_code == 400
    assert response.json()["rows_imported"] == 0
    assert not Profile.objects.exists()


def test_upsert_mode_keeps_rows_not_in_the_file(parent, owner_client):
    upload(owner_client, parent, GOOD_CSV)
    more = "customer_id,email,age,signup_date\nC003,ann@example.com,29,2022-05-05\n"

    response = upload(owner_client, parent, more, mode="upsert")

    assert response.status_code == 200
    assert set(profiles_of(parent)) == {"C001", "C002", "C003"}


def test_replace_mode_is_the_default(parent, owner_client):
    upload(owner_client, parent, GOOD_CSV)
    only = "customer_id,email,age,signup_date\nC003,ann@example.com,29,2022-05-05\n"

    upload(owner_client, parent, only)

    assert set(profiles_of(parent)) == {"C003"}


def test_an_unknown_mode_is_refused(parent, owner_client):
    response = upload(owner_client, parent, GOOD_CSV, mode="merge")

    assert response.status_code == 400
    assert response.json() == {"mode": ["must be one of: replace, upsert"]}
    assert not Profile.objects.exists()


def test_an_upload_without_a_file_is_refused(parent, owner_client):
    response = owner_client.post(f"{URL}{parent.pk}/profiles/", {"other": "x"}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {
        "file": [
            "Send the CSV in the multipart field `file`, or as the body with Content-Type: text/csv."
        ]
    }


def test_viewers_cannot_upload(parent, viewer_client):
    response = viewer_client.post(
        f"{URL}{parent.pk}/profiles/", GOOD_CSV.encode(), content_type="text/csv"
    )

    assert response.status_code == 403
    assert not Profile.objects.exists()


def test_a_parent_segment_used_by_an_activation_cannot_be_deleted(parent, workspace, owner_client):
    segment = make_segment(parent=parent)
    make_activation(segment=segment, connection=make_connection(workspace=workspace), name="Push")

    response = owner_client.delete(f"{URL}{parent.pk}/")

    assert response.status_code == 409
    assert response.json() == {"detail": "Used by activation(s) Push: delete those first."}
    assert ParentSegment.objects.filter(pk=parent.pk).exists()


def test_deletes_an_unused_parent_segment(parent, owner_client):
    response = owner_client.delete(f"{URL}{parent.pk}/")

    assert response.status_code == 204
    assert not ParentSegment.objects.exists()
