"""The REST API contract of issue 13, live parent segments: `"source": {"source": <id>,
"table" | "query": …, "storage": "imported" | "live"}` (default "imported"); a live parent
answers `POST …/refresh/` with 409; its sizes and previews are read in the source now.

The source is a real PostgreSQL database of our own on 127.0.0.1:5432."""

import pytest

from segments.models import ParentSegment, Profile
from tests.api.contract.helpers import (
    API,
    CUSTOMERS_CSV,
    condition,
    create,
    create_activation,
    upload,
)
from tests.factories import output_mapping

CUSTOMERS = """
CREATE TABLE customers (customer_id text, email text, country text, age integer);
INSERT INTO customers VALUES ('C1', 'ann@example.com', 'JP', 34),
    ('C2', 'bo@example.com', 'JP', 41), ('C3', NULL, 'US', 29);
"""


@pytest.fixture
def database(pg_source):
    url, connection = pg_source
    connection.execute(CUSTOMERS)
    return url, connection


@pytest.fixture
def source(client, database):
    return create(client, "sources", {"name": "Warehouse", "url": database[0]})


def live_body(source, **extra) -> dict:
    return {
        "name": "Live customers",
        "key_column": "customer_id",
        "source": {"source": source["id"], "table": "customers", "storage": "live"},
        **extra,
    }


def test_storage_is_given_in_source_and_shown_in_the_answer(client, source):
    imported = create(
        client,
        "parent-segments",
        {
            "name": "Copied",
            "key_column": "customer_id",
            "source": {"source": source["id"], "table": "customers"},
        },
    )
    live = create(client, "parent-segments", live_body(source))

    assert imported["source"] == {
        "source": source["id"],
        "table": "customers",
        "storage": "imported",
    }
    assert live["source"] == {"source": source["id"], "table": "customers", "storage": "live"}
    assert (imported["storage"], live["storage"]) == ("imported", "live")
    fetched = client.get(f"{API}/parent-segments/{live['id']}/").json()
    assert fetched["source"]["storage"] == "live"


def test_a_live_parent_segment_answers_refresh_with_409(client, source):
    parent = create(client, "parent-segments", live_body(source))

    response = client.post(f"{API}/parent-segments/{parent['id']}/refresh/")

    assert response.status_code == 409
    assert "live" in response.json()["detail"]
    assert "nothing to refresh" in response.json()["detail"]
    upload_response = upload(client, parent["id"], CUSTOMERS_CSV)
    assert upload_response.status_code == 409
    assert not Profile.objects.exists()


def test_live_without_a_source_is_a_400_on_source_storage(client):
    response = client.post(
        f"{API}/parent-segments/",
        {
            "name": "Nowhere",
            "key_column": "id",
            "columns": [{"name": "id", "type": "string"}],
            "storage": "live",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "needs a source" in response.json()["source.storage"][0]


def test_a_refresh_schedule_on_a_live_parent_is_a_400_on_its_field(client, source):
    body = live_body(source, refresh={"schedule": {"type": "daily"}})

    response = client.post(f"{API}/parent-segments/", body, format="json")

    assert response.status_code == 400
    assert "never refreshed" in response.json()["refresh.schedule.type"][0]
    assert not ParentSegment.objects.exists()


def test_a_key_duplicated_in_the_source_is_a_400_naming_it(client, source, database):
    _url, connection = database
    connection.execute("INSERT INTO customers VALUES ('C2', 'again@example.com', 'JP', 50)")

    response = client.post(f"{API}/parent-segments/", live_body(source), format="json")

    assert response.status_code == 400
    assert "'C2' (2 rows)" in response.json()["key_column"][0]


def test_size_and_preview_follow_the_source_at_once(client, source, database, connection):
    _url, rows = database
    parent = create(client, "parent-segments", live_body(source))
    japan = create(
        client,
        "segments",
        {
            "parent_segment": parent["id"],
            "name": "Japan",
            "rules": condition("country", "eq", "JP"),
        },
    )
    activation = create_activation(
        client,
        japan,
        connection,
        output_mapping=output_mapping(("customer_id", "LastName"), ("email", "Email")),
    )
    preview = f"{API}/activations/{activation['id']}/preview/"

    assert client.get(f"{API}/segments/{japan['id']}/").json()["size"] == 2
    assert client.post(preview).json()["rows"] == [
        ["C1", "ann@example.com"],
        ["C2", "bo@example.com"],
    ]

    rows.execute("UPDATE customers SET country = 'JP', email = 'c3@example.com' WHERE age = 29")
    rows.execute("DELETE FROM customers WHERE customer_id = 'C1'")

    assert client.get(f"{API}/segments/{japan['id']}/").json()["size"] == 2
    assert client.post(preview).json()["rows"] == [
        ["C2", "bo@example.com"],
        ["C3", "c3@example.com"],
    ]
