"""Live parent segments (segments/live.py): the size, the samples, the preview, the dry run and
each run's rows are read in the source at that moment, with no copy and no refresh.

Real sources: a PostgreSQL database of our own on 127.0.0.1:5432, SQLite and DuckDB files
(tests/sources/fixtures.py); runs go to the Salesforce emulator.
"""

import contextlib
import csv
import datetime
import io
import sqlite3

import pytest

from activations import dryrun, runner, services, streaming
from activations.models import Activation, Run
from common import csvio
from common.validation import InvalidInput
from segments import audience, live, refresh, sizes
from segments import services as segment_services
from segments.models import AudienceSize, ParentSegment, Profile, Segment
from segments.serializers import SegmentSerializer
from sources.models import Source
from tests.factories import (
    CUSTOMER_COLUMNS,
    make_activation,
    make_connection,
    make_segment,
    make_workspace,
    output_mapping,
)

pytestmark = pytest.mark.django_db

ROWS = 12
JAPAN = {"type": "and", "conditions": [{"column": "country", "operator": "eq", "value": "JP"}]}
MAPPING = output_mapping(
    ("customer_id", "Customer_Key__c"),
    ("first_name", "FirstName"),
    ("last_name", "LastName"),
    ("email", "Email"),
    ("lifetime_value", "Lifetime_Value__c"),
    ("signup_date", "Birthdate"),
    ("last_seen_at", "Last_Seen_At__c"),
    strings=[{"output": "Description", "parts": [{"type": "segment_name"}]}],
    export_all_columns=False,
)
PG_TABLE = """
CREATE SCHEMA crm;
CREATE TABLE crm.customers (
    customer_id text, email text, first_name text, last_name text, country text,
    age integer, lifetime_value numeric(12, 2), consent boolean, signup_date date,
    last_seen_at timestamptz
);
"""


def source_row(number: int) -> tuple:
    return (
        f"C{number:04d}",
        f"customer{number}@example.com",
        # Quotes, commas, line breaks and nulls go through as the csv module writes them.
        [None, "", 'Ann "Jo"', "Line\nbreak", "Bo,b"][number % 5],
        f"Last{number}",
        "JP" if number % 3 else "US",
        30 + number,
        None if number == 4 else number * 10.5,
        number % 2 == 0,
        datetime.date(2024, 1, number),
        datetime.datetime(2024, 5, 1, 9, 30, number, 250000 * (number % 2), tzinfo=datetime.UTC),
    )


@pytest.fixture
def pg(pg_source):
    """(Source, a psycopg connection to its database) with ROWS customers in crm.customers."""
    url, connection = pg_source
    connection.execute(PG_TABLE)
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO crm.customers VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [source_row(number) for number in range(1, ROWS + 1)],
        )
    source = Source.objects.create(
        workspace=make_workspace(), name="Warehouse", url=url, kind="postgresql"
    )
    return source, connection


def make_live_parent(source, *, table="crm.customers", storage="live", **data) -> ParentSegment:
    return segment_services.create_parent_segment(
        workspace=source.workspace,
        data={
            "name": f"Customers ({storage})",
            "key_column": "customer_id",
            "columns": CUSTOMER_COLUMNS,
            "source": {"source": source.pk, "table": table, "storage": storage},
            **data,
        },
    )


def make_live_activation(emulator, parent, **fields) -> Activation:
    segment = make_segment(parent=parent, name=f"Japan {parent.pk}", rules=JAPAN)
    connection = make_connection(workspace=parent.workspace, login_url=emulator.url)
    fields.setdefault("mode", Activation.Mode.UPDATE)
    fields.setdefault("upsert", True)
    fields.setdefault("key", "Customer_Key__c")
    fields.setdefault("retry_initial_delay", 0)
    fields.setdefault("output_mapping", MAPPING)
    return make_activation(segment=segment, connection=connection, **fields)


def japanese(numbers) -> list[str]:
    return [f"C{number:04d}" for number in numbers if number % 3]


def keys_of(rows) -> list[str]:
    return [row["customer_id"] for row in rows]


def run_now(activation) -> Run:
    run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)
    return runner.execute_run(run.pk)


def uploaded(emulator, *, after: int = 0) -> list[dict]:
    rows = []
    for job in emulator.jobs[after:]:
        if job.upload:
            rows.extend(csv.DictReader(io.StringIO(job.upload.decode())))
    return rows


# --- PostgreSQL: every reading follows the source at once ------------------------------------


def test_size_rows_and_preview_follow_the_source_at_once(pg, salesforce_emulator):
    source, database = pg
    parent = make_live_parent(source)
    activation = make_live_activation(salesforce_emulator, parent)
    segment = activation.segment

    assert (parent.storage, Profile.objects.count()) == ("live", 0)
    assert audience.size(segment) == 8
    assert keys_of(audience.iter_rows(segment)) == japanese(range(1, ROWS + 1))
    _columns, preview = services.preview(activation, limit=3)
    assert [row[0] for row in preview] == ["C0001", "C0002", "C0004"]

    database.execute("INSERT INTO crm.customers (customer_id, country) VALUES ('C0000', 'JP')")
    database.execute("UPDATE crm.customers SET first_name = 'Renamed' WHERE customer_id = 'C0002'")
    database.execute("DELETE FROM crm.customers WHERE customer_id = 'C0001'")

    assert audience.size(segment) == 8
    assert keys_of(audience.iter_rows(segment))[:2] == ["C0000", "C0002"]
    _columns, preview = services.preview(activation, limit=3)
    assert [row[:2] for row in preview] == [["C0000", ""], ["C0002", "Renamed"], ["C0004", "Bo,b"]]
    database.execute("UPDATE crm.customers SET country = 'US'")
    assert audience.size(segment) == 0
    assert sizes.record_size(segment, reason=AudienceSize.Reason.DAILY).size == 0


def test_live_rows_are_typed_and_rendered_exactly_as_an_imported_copy(pg, salesforce_emulator):
    source, _database = pg
    live_parent = make_live_parent(source)
    imported_parent = make_live_parent(source, storage="imported")
    assert refresh.refresh_now(imported_parent).status == "succeeded"
    imported_parent.refresh_from_db()
    live_activation = make_live_activation(salesforce_emulator, live_parent)
    imported_activation = make_live_activation(salesforce_emulator, imported_parent)
    timestamp = datetime.datetime(2026, 11, 25, 6, 20, 38, 250000, tzinfo=datetime.UTC)

    live_rows = list(audience.iter_rows(live_activation.segment))
    imported_rows = list(audience.iter_rows(imported_activation.segment))
    assert live_rows == imported_rows
    assert live_rows[0]["last_seen_at"] == "2024-05-01T09:30:01.250000Z"
    assert live_rows[0]["lifetime_value"] == 10.5

    def cells(activation):
        return list(streaming.cells(activation, timestamp=timestamp))

    live_cells, imported_cells = cells(live_activation), cells(imported_activation)
    # The segment name differs, every other cell is the same.
    assert [row[:-1] for row in live_cells] == [row[:-1] for row in imported_cells]
    assert live_cells[0][-2] == "2024-05-01T09:30:01.250Z"
    # COPY in the source writes the bytes csvio writes for the cells.
    assert list(streaming.lines(live_activation, timestamp=timestamp)) == [
        csvio.encode_row(row) for row in live_cells
    ]
    # Nulls (and empty texts, nulls once imported) as "#N/A" alike.
    for activation in (live_activation, imported_activation):
        activation.null_value = "clear"
    live_cleared, imported_cleared = cells(live_activation), cells(imported_activation)
    assert [row[:-1] for row in live_cleared] == [row[:-1] for row in imported_cleared]
    assert live_cleared[0][1] == "#N/A"


def test_a_run_reads_the_source_live_and_the_next_run_sees_the_change(pg, salesforce_emulator):
    source, database = pg
    activation = make_live_activation(salesforce_emulator, make_live_parent(source))

    first = run_now(activation)

    assert first.status == Run.Status.SUCCEEDED, first.error
    assert (first.rows_read, first.rows_succeeded) == (8, 8)
    assert any("live from the source Warehouse" in line["message"] for line in first.log)
    contacts = {r["Customer_Key__c"]: r for r in salesforce_emulator.records("Contact")}
    assert contacts["C0002"]["LastName"] == "Last2"

    database.execute("UPDATE crm.customers SET last_name = 'Changed' WHERE customer_id = 'C0002'")
    database.execute(
        "INSERT INTO crm.customers (customer_id, last_name, country) VALUES ('C0100', 'New', 'JP')"
    )
    second = run_now(activation)

    assert (second.status, second.rows_read) == (Run.Status.SUCCEEDED, 9)
    contacts = {r["Customer_Key__c"]: r for r in salesforce_emulator.records("Contact")}
    assert (contacts["C0002"]["LastName"], contacts["C0100"]["LastName"]) == ("Changed", "New")
    assert activation.segment.sizes.last().size == 9


def test_an_incremental_run_on_a_live_segment_sends_only_the_changed_row(pg, salesforce_emulator):
    source, database = pg
    activation = make_live_activation(
        salesforce_emulator, make_live_parent(source), sync=Activation.Sync.INCREMENTAL
    )
    first = run_now(activation)
    assert (first.status, first.rows_sent) == (Run.Status.SUCCEEDED, 8)
    jobs = len(salesforce_emulator.jobs)

    database.execute(
        "UPDATE crm.customers SET email = 'moved@example.com' WHERE customer_id = 'C0005'"
    )
    second = run_now(activation)

    assert (second.sync, second.status) == ("incremental", Run.Status.SUCCEEDED)
    assert [row["Email"] for row in uploaded(salesforce_emulator, after=jobs)] == [
        "moved@example.com"
    ]
    assert (second.rows_read, second.rows_sent, second.rows_unchanged) == (1, 1, 7)


def test_the_dry_run_reads_the_source_live(pg, salesforce_emulator):
    source, database = pg
    activation = make_live_activation(salesforce_emulator, make_live_parent(source))
    database.execute("DELETE FROM crm.customers WHERE customer_id IN ('C0001', 'C0002')")

    plan = dryrun.dry_run(activation)

    assert plan["rows"]["insert"] + plan["rows"]["update"] == 6


# --- the key must be unique and present in the source ---------------------------------------


def test_a_primary_key_needs_no_look_at_the_rows_and_a_query_is_checked(pg):
    source, database = pg
    database.execute("ALTER TABLE crm.customers ADD PRIMARY KEY (customer_id)")
    parent = make_live_parent(source)
    with live.connected(parent) as connection:
        assert live._key_is_primary(parent, connection)

    query = "SELECT * FROM crm.customers UNION ALL SELECT * FROM crm.customers"
    with pytest.raises(InvalidInput) as refused:
        segment_services.create_parent_segment(
            workspace=source.workspace,
            data={
                "name": "Twice",
                "key_column": "customer_id",
                "columns": CUSTOMER_COLUMNS,
                "source": {"source": source.pk, "query": query, "storage": "live"},
            },
        )
    assert "'C0001' (2 rows)" in refused.value.errors["key_column"][0]


def test_a_duplicated_or_missing_key_is_refused_when_the_live_parent_is_saved(pg):
    source, database = pg
    database.execute("INSERT INTO crm.customers (customer_id) VALUES ('C0003'), ('C0003')")

    with pytest.raises(InvalidInput) as refused:
        make_live_parent(source)

    message = refused.value.errors["key_column"][0]
    assert "not unique in the source" in message
    assert "'C0003' (3 rows)" in message
    assert not ParentSegment.objects.exists()

    database.execute("DELETE FROM crm.customers WHERE customer_id = 'C0003'")
    for empty in (None, ""):
        database.execute("DELETE FROM crm.customers WHERE customer_id IS NULL OR customer_id = ''")
        database.execute("INSERT INTO crm.customers (customer_id) VALUES (%s)", [empty])
        with pytest.raises(InvalidInput) as refused:
            make_live_parent(source)
        assert "empty in some rows" in refused.value.errors["key_column"][0]


def test_a_key_duplicated_after_creation_fails_the_run_with_the_reason(pg, salesforce_emulator):
    source, database = pg
    activation = make_live_activation(salesforce_emulator, make_live_parent(source))
    database.execute("INSERT INTO crm.customers (customer_id, country) VALUES ('C0007', 'JP')")

    run = run_now(activation)

    assert run.status == Run.Status.FAILED
    assert "'C0007' (2 rows)" in run.error
    assert salesforce_emulator.jobs == []
    with pytest.raises(live.LiveKeyError):
        audience.size(activation.segment)


def test_an_unreachable_source_fails_the_run_clearly(pg, salesforce_emulator, settings):
    source, _database = pg
    activation = make_live_activation(salesforce_emulator, make_live_parent(source))
    Source.objects.filter(pk=source.pk).update(url=source.url.replace("/src_", "/gone_"))

    run = run_now(activation)

    assert run.status == Run.Status.FAILED
    assert "Reading the source 'Warehouse' live failed: unknown database" in run.error
    # A list of segments still answers: that segment's size is null.
    segment = Segment.objects.get(pk=activation.segment_id)
    assert SegmentSerializer(segment).data["size"] is None


def test_switching_to_live_drops_the_copy_and_refuses_uploads_and_refreshes(pg):
    source, _database = pg
    parent = make_live_parent(source, storage="imported")
    refresh.refresh_now(parent)
    parent.refresh_from_db()
    assert parent.row_count == ROWS  # a copy: profiles, or a snapshot table on PostgreSQL

    parent = segment_services.update_parent_segment(parent, data={"storage": "live"})

    assert (parent.row_count, Profile.objects.filter(parent_segment=parent).count()) == (0, 0)
    assert parent.snapshot is None
    with pytest.raises(live.NotCopied):
        segment_services.import_profiles_file(parent_segment=parent, file=io.BytesIO(b"x\n"))


# --- SQLite and DuckDB sources ---------------------------------------------------------------


def file_activation(kind: str, url: str, *, table: str, rules: dict, columns: list[str]):
    """An activation previewing `columns` of a live parent over a file source's table."""
    source = Source.objects.create(workspace=make_workspace(), name=kind, url=url, kind=kind)
    parent = segment_services.create_parent_segment(
        workspace=source.workspace,
        data={
            "name": f"{kind} customers",
            "key_column": "id",
            "source": {"source": source.pk, "table": table, "storage": "live"},
        },
    )
    segment = make_segment(parent=parent, name="Chosen", rules=rules)
    return make_activation(
        segment=segment,
        output_mapping=output_mapping(*((name, f"{name.title()}__c") for name in columns)),
    )


def write_sqlite(path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as writer:
        writer.execute(
            "INSERT INTO customers VALUES (3, 'bo@example.com', 2, 0, '2000-01-01', "
            "'2024-06-01T10:00:00.5+02:00')"
        )
        writer.commit()


def write_duckdb(path) -> None:
    import duckdb

    with contextlib.closing(duckdb.connect(str(path))) as writer:
        writer.execute("UPDATE customers SET vip = true, amount = 7 WHERE id = 2")


HAS_EMAIL = {"type": "and", "conditions": [{"column": "email", "operator": "is_not_null"}]}
VIP = {"type": "and", "conditions": [{"column": "vip", "operator": "eq", "value": True}]}
# kind: (file fixture, table, rules, preview columns, the preview, a change, the new row)
FILE_SOURCES = {
    "sqlite": (
        "sqlite_file",
        "customers",
        HAS_EMAIL,
        ["id", "seen", "vip"],
        ["1", "2024-05-01T09:30:00Z", "true"],
        write_sqlite,
        # SQLite's timestamp text with an offset, read in UTC.
        ["3", "2024-06-01T08:00:00.500Z", "false"],
    ),
    "duckdb": (
        "duckdb_file",
        "main.customers",
        VIP,
        ["id", "amount", "seen"],
        ["1", "2.25", "2024-05-01T09:30:00Z"],
        write_duckdb,
        ["2", "7", ""],
    ),
}


@pytest.mark.parametrize("kind", FILE_SOURCES)
def test_a_live_file_source_gives_size_and_preview_now(kind, request):
    fixture, table, rules, columns, first, change, added = FILE_SOURCES[kind]
    path = request.getfixturevalue(fixture)
    activation = file_activation(
        kind, f"{kind}:///{path.name}", table=table, rules=rules, columns=columns
    )
    segment = activation.segment

    assert audience.size(segment) == 1
    assert list(audience.iter_rows(segment))[0]["seen"] == "2024-05-01T09:30:00Z"
    assert services.preview(activation)[1] == [first]

    change(path)

    assert audience.size(segment) == 2
    assert services.preview(activation)[1] == [first, added]
