"""Sources over the API (the contract's names), and parent segments built and refreshed from
them: a real PostgreSQL database on 127.0.0.1:5432, SQLite and DuckDB files."""

import pytest

from segments.models import ParentSegment, Refresh
from sources.models import Source
from tests.factories import rows_of

SOURCES = "/api/v1/sources/"
PARENTS = "/api/v1/parent-segments/"

PG_TABLE = """
CREATE SCHEMA crm;
CREATE TABLE crm.customers (
    id text PRIMARY KEY, email varchar(200), age integer, visits bigint, small smallint,
    ltv numeric(12, 2), score double precision, vip boolean, born date,
    seen timestamptz, local_seen timestamp, notes jsonb
);
INSERT INTO crm.customers VALUES
 ('C1', 'ann@example.com', 34, 10000000000, 3, 1234.50, 0.25, true, '1990-02-03',
  '2024-05-01 09:30:00+02', '2024-05-01 09:30:00', '{"a": 1}'),
 ('C2', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE VIEW crm.adults AS SELECT id, email, age FROM crm.customers WHERE age >= 18;
CREATE SEQUENCE crm.counter;
"""


def create_source(client, url, **extra):
    response = client.post(SOURCES, {"name": "Warehouse", "url": url, **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def refresh(owner_client, django_capture_on_commit_callbacks):
    """Refresh by the API and wait for it: Celery is eager here, the task runs on commit."""

    def run(parent_id) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            response = owner_client.post(f"{PARENTS}{parent_id}/refresh/")
        return check_queued(owner_client, response)

    return run


def check_queued(client, response) -> dict:
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "queued"
    body = client.get(f"/api/v1/refreshes/{response.json()['id']}/").json()
    return body


@pytest.fixture
def pg(pg_source):
    url, connection = pg_source
    connection.execute(PG_TABLE)
    return url, connection


def test_create_source_keeps_the_password_apart(owner_client, pg):
    url, connection = pg
    body = create_source(owner_client, url.replace("postgres@", "postgres:s3cret-pw@"))
    assert body["url"] == url
    assert body["kind"] == "postgresql"
    assert body["secrets"] == {"password": True, "options": False}
    assert "s3cret-pw" not in str(body)
    stored = Source.objects.get(pk=body["id"])
    assert stored.password == "s3cret-pw"
    assert "s3cret-pw" not in stored.url


def test_only_owners_create_sources(editor_client, owner_client, pg):
    url, _ = pg
    response = editor_client.post(SOURCES, {"name": "W", "url": url}, format="json")
    assert response.status_code == 403
    source = create_source(owner_client, url)
    response = editor_client.patch(f"{SOURCES}{source['id']}/", {"name": "X"}, format="json")
    assert response.status_code == 403
    # Members may look and test.
    assert editor_client.post(f"{SOURCES}{source['id']}/test/").json() == {"ok": True}


def test_tables_and_views_with_every_type(owner_client, pg, refresh):
    url, _ = pg
    source = create_source(owner_client, url)
    response = owner_client.get(f"{SOURCES}{source['id']}/tables/")
    assert response.status_code == 200
    tables = {table["name"]: table for table in response.json()}
    assert tables["crm.customers"]["columns"] == [
        {"name": "id", "type": "string"},
        {"name": "email", "type": "string"},
        {"name": "age", "type": "integer"},
        {"name": "visits", "type": "integer"},
        {"name": "small", "type": "integer"},
        {"name": "ltv", "type": "number"},
        {"name": "score", "type": "number"},
        {"name": "vip", "type": "boolean"},
        {"name": "born", "type": "date"},
        {"name": "seen", "type": "timestamp"},
        {"name": "local_seen", "type": "timestamp"},
        {"name": "notes", "type": "string"},
    ]
    assert tables["crm.adults"]["kind"] == "view"
    assert [c["name"] for c in tables["crm.adults"]["columns"]] == ["id", "email", "age"]


def test_test_says_what_is_wrong_without_the_password(owner_client, pg, settings):
    url, _ = pg
    settings.SOURCE_ALLOWED_HOSTS = ["127.0.0.1:5432", "127.0.0.1:1"]
    unknown = create_source(
        owner_client, "postgresql://postgres:pw-xyz@127.0.0.1:5432/no_such_database_here"
    )
    body = owner_client.post(f"{SOURCES}{unknown['id']}/test/").json()
    assert body == {"ok": False, "error": "unknown database"}
    response = owner_client.post(
        SOURCES,
        {"name": "Nowhere", "url": "postgresql://postgres@127.0.0.1:1/db", "password": "pw-xyz"},
        format="json",
    )
    body = owner_client.post(f"{SOURCES}{response.json()['id']}/test/").json()
    assert body["ok"] is False
    assert body["error"].startswith("cannot reach the host")
    assert "pw-xyz" not in body["error"]


def test_link_local_and_loopback_hosts_are_refused(owner_client, source_settings):
    for url in (
        "postgresql://u@169.254.169.254/db",
        "postgresql://u@[fe80::1]/db",
        "postgresql://u@localhost:5433/db",
        "postgresql://u@127.0.0.1:5433/db",
        "postgresql://u@metadata.google.internal/db",
    ):
        response = owner_client.post(SOURCES, {"name": "x", "url": url}, format="json")
        assert response.status_code == 400, url
        assert "SOURCE_ALLOWED_HOSTS" in response.json()["url"][0]


def test_a_missing_driver_names_the_package(owner_client, source_settings):
    response = owner_client.post(
        SOURCES, {"name": "x", "url": "snowflake://me@account/db"}, format="json"
    )
    assert response.status_code == 400
    assert "pip install 'snowflake-sqlalchemy'" in response.json()["url"][0]


def test_file_sources_only_under_the_root(owner_client, sqlite_file, tmp_path):
    response = owner_client.post(
        SOURCES, {"name": "x", "url": "sqlite:///../../etc/passwd"}, format="json"
    )
    assert response.status_code == 400
    assert "SOURCE_FILE_ROOT" in response.json()["url"][0]


def test_parent_segment_from_a_table_infers_columns_and_refreshes(owner_client, pg, refresh):
    url, connection = pg
    source = create_source(owner_client, url)
    response = owner_client.post(
        PARENTS,
        {
            "name": "Customers",
            "key_column": "id",
            "source": {"source": source["id"], "table": "crm.customers"},
            "refresh": {"mode": "replace", "schedule": {"type": "daily", "timezone": "UTC"}},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    parent = response.json()
    assert parent["columns"][0] == {"name": "id", "type": "string"}
    assert parent["source"] == {
        "source": source["id"],
        "table": "crm.customers",
        "storage": "imported",
    }
    assert parent["refresh"]["schedule"]["type"] == "daily"
    assert parent["storage"] == "imported"

    done = refresh(parent["id"])
    assert done["status"] == "succeeded", done["error"]
    assert (done["rows_read"], done["rows_imported"]) == (2, 2)
    rows = rows_of(parent["id"])
    assert rows["C1"] == {
        "id": "C1",
        "email": "ann@example.com",
        "age": 34,
        "visits": 10000000000,
        "small": 3,
        "ltv": 1234.5,
        "score": 0.25,
        "vip": True,
        "born": "1990-02-03",
        "seen": "2024-05-01T07:30:00Z",
        "local_seen": "2024-05-01T09:30:00Z",
        "notes": '{"a": 1}',
    }
    assert rows["C2"] == {"id": "C2", **{k: None for k in rows["C1"] if k != "id"}}

    # The source changes; the next refresh follows it.
    connection.execute("UPDATE crm.customers SET age = 35 WHERE id = 'C1'")
    connection.execute("DELETE FROM crm.customers WHERE id = 'C2'")
    connection.execute("INSERT INTO crm.customers (id, vip) VALUES ('C3', false)")
    done = refresh(parent["id"])
    assert done["status"] == "succeeded"
    rows = rows_of(parent["id"])
    assert sorted(rows) == ["C1", "C3"]
    assert rows["C1"]["age"] == 35
    assert rows["C3"]["vip"] is False
    listed = owner_client.get(f"{PARENTS}{parent['id']}/refreshes/").json()["results"]
    assert [r["id"] for r in listed] == [done["id"], listed[1]["id"]]


def test_a_failing_refresh_keeps_the_previous_rows(owner_client, pg, refresh):
    url, connection = pg
    source = create_source(owner_client, url)
    parent = owner_client.post(
        PARENTS,
        {
            "name": "Adults",
            "key_column": "id",
            "source": {"source": source["id"], "query": "SELECT id, age FROM crm.customers"},
        },
        format="json",
    ).json()
    assert parent["columns"] == [
        {"name": "id", "type": "string"},
        {"name": "age", "type": "integer"},
    ]
    assert refresh(parent["id"])["status"] == "succeeded"
    before = rows_of(parent["id"])
    # A duplicate key in the source: the import refuses the whole lot.
    connection.execute("ALTER TABLE crm.customers DROP CONSTRAINT customers_pkey")
    connection.execute("INSERT INTO crm.customers (id, age) VALUES ('C1', 99)")
    done = refresh(parent["id"])
    assert done["status"] == "failed"
    assert "duplicate key 'C1'" in done["error"]
    assert done["finished_at"] is not None
    # The source is gone entirely: failed too, rows still there.
    connection.execute("DROP TABLE crm.customers CASCADE")
    done = refresh(parent["id"])
    assert done["status"] == "failed"
    assert "reading the source failed" in done["error"]
    assert rows_of(parent["id"]) == before


def test_writing_statements_are_refused(owner_client, pg):
    url, connection = pg
    source = create_source(owner_client, url)
    for query in (
        "DELETE FROM crm.customers",
        "SELECT 1; DROP TABLE crm.customers",
        "SELECT * INTO crm.copy FROM crm.customers",
        "WITH gone AS (DELETE FROM crm.customers RETURNING id) SELECT id FROM gone",
    ):
        response = owner_client.post(
            PARENTS,
            {"name": "x", "key_column": "id", "source": {"source": source["id"], "query": query}},
            format="json",
        )
        assert response.status_code == 400, query
        assert "source.query" in response.json(), response.json()
    # A SELECT that would write (nextval) is stopped by the read-only transaction.
    response = owner_client.get(
        f"{SOURCES}{source['id']}/sample/", {"query": "SELECT nextval('crm.counter') AS id"}
    )
    assert response.status_code == 400
    assert "read-only" in response.json()["source"][0]
    assert connection.execute("SELECT count(*) FROM crm.customers").fetchone()[0] == 2


def test_statement_timeout(owner_client, pg, settings):
    url, _ = pg
    settings.SOURCE_STATEMENT_TIMEOUT = 1
    source = create_source(owner_client, url)
    response = owner_client.get(
        f"{SOURCES}{source['id']}/sample/", {"query": "SELECT pg_sleep(3) AS x"}
    )
    assert response.status_code == 400
    assert "timed out" in response.json()["source"][0]


@pytest.mark.parametrize("query", ["SELECT 'unclosed", 'SELECT "unclosed', "Et'"])
def test_a_query_with_an_unclosed_quote_is_a_clear_400(owner_client, sqlite_file, query):
    source = create_source(owner_client, f"sqlite:///{sqlite_file.name}")
    response = owner_client.get(f"{SOURCES}{source['id']}/sample/", {"query": query})
    assert response.status_code == 400
    assert response.json() == {
        "query": ["cannot be parsed as SQL: a quote or comment is not closed"]
    }


@pytest.mark.parametrize("fixture", ["sqlite_file", "duckdb_file"])
def test_file_sources_browse_and_refresh(owner_client, request, fixture, refresh):
    path = request.getfixturevalue(fixture)
    dialect = "sqlite" if fixture == "sqlite_file" else "duckdb"
    source = create_source(owner_client, f"{dialect}:///{path.name}")
    assert owner_client.post(f"{SOURCES}{source['id']}/test/").json() == {"ok": True}
    tables = {t["name"]: t for t in owner_client.get(f"{SOURCES}{source['id']}/tables/").json()}
    columns = {c["name"]: c["type"] for c in tables["main.customers"]["columns"]}
    assert columns["id"] == "integer"
    assert columns["vip"] == "boolean"
    assert columns["score"] == "number"
    assert columns["born"] == "date"
    assert columns["seen"] == "timestamp"
    parent = owner_client.post(
        PARENTS,
        {
            "name": "C",
            "key_column": "id",
            "source": {"source": source["id"], "table": "main.customers"},
        },
        format="json",
    ).json()
    done = refresh(parent["id"])
    assert done["status"] == "succeeded", done["error"]
    rows = rows_of(parent["id"])
    assert rows["1"]["vip"] is True
    assert rows["1"]["born"] == "1990-02-03"
    assert rows["1"]["seen"] == "2024-05-01T09:30:00Z"
    assert rows["2"]["email"] is None
    # Read-only: a write through the source's own file handle is refused.
    response = owner_client.get(
        f"{SOURCES}{source['id']}/sample/", {"query": "DELETE FROM customers"}
    )
    assert response.status_code == 400
    assert ParentSegment.objects.get(pk=parent["id"]).row_count == 2
    assert Refresh.objects.filter(parent_segment_id=parent["id"]).count() == 1


def test_a_source_in_use_cannot_be_deleted(owner_client, sqlite_file):
    source = create_source(owner_client, f"sqlite:///{sqlite_file.name}")
    parent = owner_client.post(
        PARENTS,
        {"name": "P", "key_column": "id", "source": {"source": source["id"], "table": "customers"}},
        format="json",
    ).json()
    response = owner_client.delete(f"{SOURCES}{source['id']}/")
    assert response.status_code == 409
    assert "P" in response.json()["detail"]
    assert owner_client.delete(f"{PARENTS}{parent['id']}/").status_code == 204
    assert owner_client.delete(f"{SOURCES}{source['id']}/").status_code == 204


def test_storage_is_given_with_the_source(owner_client, sqlite_file):
    source = create_source(owner_client, f"sqlite:///{sqlite_file.name}")

    def create(name, storage):
        return owner_client.post(
            PARENTS,
            {
                "name": name,
                "key_column": "id",
                "source": {"source": source["id"], "table": "customers", "storage": storage},
            },
            format="json",
        )

    imported = create("Copied", "imported")
    assert imported.status_code == 201, imported.json()
    assert imported.json()["storage"] == "imported"

    live = create("Live", "live")
    assert live.status_code == 201, live.json()
    assert live.json()["source"]["storage"] == "live"

    unknown = create("Other", "cached")
    assert unknown.status_code == 400
    assert "must be one of: imported, live" in unknown.json()["source.storage"][0]
    assert not ParentSegment.objects.filter(name="Other").exists()


def test_an_incremental_refresh_reads_only_rows_past_the_cursor(owner_client, pg, refresh):
    url, connection = pg
    source = create_source(owner_client, url)
    parent = owner_client.post(
        PARENTS,
        {
            "name": "Recent",
            "key_column": "id",
            "columns": [
                {"name": "id", "type": "string"},
                {"name": "age", "type": "integer"},
                {"name": "seen", "type": "timestamp"},
            ],
            "source": {"source": source["id"], "table": "crm.customers"},
            "refresh": {"mode": "replace", "cursor_column": "seen"},
        },
        format="json",
    )
    assert parent.status_code == 201, parent.json()
    parent = parent.json()
    assert parent["refresh"]["cursor_column"] == "seen"
    first = refresh(parent["id"])
    assert (first["status"], first["rows_read"]) == ("succeeded", 2)
    connection.execute("UPDATE crm.customers SET age = 50, seen = '2024-06-01Z' WHERE id = 'C1'")
    connection.execute("INSERT INTO crm.customers (id, age, seen) VALUES ('C9', 9, '2024-06-02Z')")
    second = refresh(parent["id"])
    # Only the two rows past the last high-water mark were read; the others are kept (upsert).
    assert (second["status"], second["rows_read"], second["rows_imported"]) == ("succeeded", 2, 2)
    rows = rows_of(parent["id"])
    assert sorted(rows) == ["C1", "C2", "C9"]
    assert rows["C1"]["age"] == 50
    assert refresh(parent["id"])["rows_read"] == 0


def test_the_cursor_column_must_be_a_column(owner_client, sqlite_file):
    source = create_source(owner_client, f"sqlite:///{sqlite_file.name}")
    response = owner_client.post(
        PARENTS,
        {
            "name": "P",
            "key_column": "id",
            "source": {"source": source["id"], "table": "main.customers"},
            "refresh": {"cursor_column": "updated_at"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert "refresh.cursor_column" in response.json()
