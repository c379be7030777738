"""The REST API contract of issue 5, parent segments and their CSV.

Each test reads one sentence of the contract and drives the API as a script would."""

import io

from segments.models import Profile
from tests.api.contract.helpers import API, CUSTOMERS_CSV, create, upload
from tests.factories import CUSTOMER_COLUMNS


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
