"""A refresh from PostgreSQL into PostgreSQL copies the source's typed rows without Python per
row into a snapshot table (segments/copying.py, segments/snapshots.py, loading.import_copied);
the checked CSV path (the source's rows as CSV lines through loading.import_profiles) is the
reference: both must hold the same values (the snapshot's as the profiles it would become),
read the same, refuse the same rows, and the copy must keep every guarantee of the import."""

import datetime
import io
import sys

import psycopg
import pytest
from django.db import connection as db_connection

from activations import runner, streaming
from activations.models import Run
from common.validation import InvalidInput
from segments import audience, copying, loading, refresh, services, snapshots
from segments.models import ParentSegment, Refresh
from segments.tasks import record_audience_sizes
from sources import reading
from sources.browse import Relation, relation_columns
from sources.models import Source
from tests.activations.fake_connector import register_fake_connector
from tests.factories import (
    make_activation,
    make_connection,
    make_segment,
    make_user,
    make_workspace,
    rows_of,
)

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

EVERY_TYPE = r"""
CREATE TABLE every_type (
    id text PRIMARY KEY, name varchar(100), code char(5), note text,
    tiny smallint, count integer, big bigint,
    amount numeric(12, 2), exact numeric, ratio real, score double precision,
    vip boolean, born date, seen timestamptz, local_seen timestamp,
    doc jsonb, ref uuid, tags text[]
);
INSERT INTO every_type VALUES
 ('a', 'Zoë Ünicode 日本 😀', 'ab', 'quote " and , comma; ''single''', 1, 2,
  9223372036854775807, 12.50, 12345678901234567890, 1.1, 0.1, true, '1990-02-03',
  '2024-05-01 09:30:00.123456+02', '2024-05-01 09:30:00', '{"a": [1, "x"]}',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{x,"y z"}'),
 ('b', E'line\nbreak', 'abcde', E'crlf\r\nand tab\t and backslash \\ end', -1, -2,
  -9223372036854775808, 0.00, 0.000015, 3, 1e15, false, '0500-01-01',
  '2024-12-31 23:59:59.5-05', '1999-01-01 00:00:00.000001', 'null',
  '00000000-0000-0000-0000-000000000000', '{}'),
 ('c', '', '', ' ', 0, 0, 999999999999999999, -12.34, 1e20, 1e20, 1e16, NULL,
  '9999-12-31', '0500-06-01 12:00:00+00', '2000-02-29 23:59:59', '"text"', NULL, NULL),
 ('d', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL),
 ('e', '  spaced  ', 'x', E'\u3000wide space', 7, 8, 1234567890123456789, 999.99,
  123456789012345678, -0.5, 123456789012345.6, true, '2024-02-29',
  '2024-03-10 02:30:00+00', '2024-03-10 02:30:00.5', '[]', NULL, '{NULL}'),
 ('f', 'tiny and huge', NULL, NULL, NULL, NULL, NULL, 12.00, 1e-400, 1.5e-7, 1.5e-7,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('g', 'more floats', NULL, NULL, NULL, NULL, NULL, NULL, 1e300, -0.0, -0.0,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('h', 'denormal', NULL, NULL, NULL, NULL, NULL, NULL, 12.0, 16777216, 1e-310,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"""


@pytest.fixture
def pg(pg_source):
    if db_connection.vendor != "postgresql":
        pytest.skip("the copy path needs PostgreSQL on both sides (DATABASE_URL)")
    url, source_db = pg_source
    source_db.execute(EVERY_TYPE)
    source = Source.objects.create(
        workspace=make_workspace(), name="Warehouse", url=url, kind="postgresql"
    )
    return source, source_db


def test_whitespace_is_what_python_strips():
    python = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    assert python == copying.WHITESPACE


def make_parent(source, relation: Relation, key_column: str = "id", columns=None):
    return ParentSegment.objects.create(
        workspace=source.workspace,
        name=f"Parent {ParentSegment.objects.count() + 1}",
        key_column=key_column,
        columns=columns or relation_columns(source, relation),
        source=source,
        source_table=relation.table,
        source_query=relation.query,
    )


def stored(parent) -> list[tuple[str, str]]:
    """The rows as PostgreSQL keeps them: the key and the jsonb's own text (12.0 is not 12);
    a snapshot's as the profiles it becomes (snapshots.release)."""
    parent.refresh_from_db()
    with db_connection.cursor() as cursor:
        if parent.snapshot:
            plan = snapshots.stored_plan(parent)
            cursor.execute("SET extra_float_digits = 3")
            cursor.execute(
                f"SELECT {plan.key}, ({plan.attributes})::text "  # noqa: S608
                f"FROM {parent.snapshot['table']} ORDER BY 1"
            )
        else:
            cursor.execute(
                "SELECT key, attributes::text FROM segments_profile "
                "WHERE parent_segment_id = %s ORDER BY key",
                [parent.pk],
            )
        return cursor.fetchall()


def snapshot_tables(*parents) -> list[str]:
    """The snapshot tables of these parents in the database, current or not."""
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'segments_snapshot_%'")
        prefixes = tuple(f"{snapshots.PREFIX}{parent.pk}_" for parent in parents)
        return sorted(name for (name,) in cursor.fetchall() if name.startswith(prefixes))


def copied(parent, mode="replace"):
    """The copy path, by hand (a refresh takes it by itself; see the tests below)."""
    relation = refresh.relation_of(parent)
    types = reading.postgresql_types(parent.source, relation, parent.column_names)
    plan = copying.plan(parent.columns, parent.key_column, types)
    assert plan is not None
    with reading.copy_rows(parent.source, relation, parent.column_names) as (blocks, _):
        return loading.import_copied(parent_segment=parent, blocks=blocks, plan=plan, mode=mode)


def checked(parent, mode="replace"):
    """The checked path: the source's rows as CSV lines through the CSV import."""
    relation = refresh.relation_of(parent)
    with reading.csv_lines(parent.source, relation, parent.columns) as (lines, _):
        return loading.import_profiles(parent_segment=parent, file=lines, mode=mode)


def test_a_refresh_copies_every_type_as_the_checked_path_stores_it(pg):
    source, _ = pg
    relation = Relation(table="public.every_type")
    fast, reference = make_parent(source, relation), make_parent(source, relation)
    assert refresh._copy_plan(fast, relation) is not None  # the refresh below copies

    done = refresh.refresh_now(fast)
    assert (done.status, done.error) == (Refresh.Status.SUCCEEDED, "")
    assert (done.rows_read, done.rows_imported) == (8, 8)
    result = checked(reference)
    assert result.ok, result.errors
    assert stored(fast) == stored(reference)

    # What both store, as the import documents it (so that agreeing is not agreeing on junk).
    assert fast.snapshot is not None  # the copy is a snapshot table, read like profiles
    assert rows_of(fast) == rows_of(reference)
    held = {p.key: p.attributes for p in reference.profiles.all()}
    assert held["a"]["name"] == "Zoë Ünicode 日本 😀"
    assert held["a"]["note"] == "quote \" and , comma; 'single'"
    assert held["b"]["note"] == "crlf\r\nand tab\t and backslash \\ end"
    assert held["a"]["code"] == "ab   "  # char(5) keeps its padding, as COPY writes it
    assert held["c"]["name"] is None  # an empty string is an empty cell
    assert held["c"]["note"] == " "
    assert held["a"]["big"] == 9223372036854775807
    assert held["a"]["amount"] == 12.5
    assert held["a"]["seen"] == "2024-05-01T07:30:00.123456Z"
    assert held["b"]["seen"] == "2025-01-01T04:59:59.500000Z"
    assert held["c"]["seen"] == "0500-06-01T12:00:00Z"
    assert held["a"]["local_seen"] == "2024-05-01T09:30:00Z"
    assert held["b"]["born"] == "0500-01-01"
    assert held["a"]["vip"] is True
    assert held["a"]["doc"] == '{"a": [1, "x"]}'
    assert held["a"]["tags"] == '{x,"y z"}'
    assert held["d"] == {"id": "d", **{c: None for c in fast.column_names if c != "id"}}
    texts = dict(stored(fast))
    assert '"score": 1000000000000000.0' in texts["b"]
    assert '"score": 10000000000000000' in texts["c"]
    assert '"amount": 12.0' in texts["f"]
    assert '"exact": 0.0' in texts["f"]
    assert '"exact": 123456789012345678' in texts["e"]


def refreshed_pair(source, table: str = "public.every_type"):
    """(a parent refreshed by the copy path, one loaded by the checked path) of one table."""
    relation = Relation(table=table)
    fast, reference = make_parent(source, relation), make_parent(source, relation)
    assert refresh.refresh_now(fast).status == Refresh.Status.SUCCEEDED
    assert checked(reference).ok
    fast.refresh_from_db()
    return fast, reference


def test_a_refresh_over_existing_rows_stores_what_the_checked_path_stores(pg):
    source, source_db = pg
    fast, reference = refreshed_pair(source)
    source_db.execute("UPDATE every_type SET count = 99, ratio = 2.5 WHERE id = 'a'")
    source_db.execute("DELETE FROM every_type WHERE id = 'b'")
    source_db.execute("INSERT INTO every_type (id, name) VALUES ('new', 'New')")
    # A value whose jsonb equals the stored one but whose text does not (12.0 is not 12).
    source_db.execute("UPDATE every_type SET exact = 12 WHERE id = 'h'")

    first_table = fast.snapshot["table"]
    done = refresh.refresh_now(fast)
    assert (done.status, done.rows_imported) == (Refresh.Status.SUCCEEDED, 8)
    assert checked(reference).ok
    assert stored(fast) == stored(reference)
    assert rows_of(fast) == rows_of(reference)
    assert [key for key, _ in stored(fast)] == ["a", "c", "d", "e", "f", "g", "h", "new"]
    assert '"exact": 12,' in dict(stored(fast))["h"]
    # A replace writes a new table and swaps it in; the old one is dropped.
    fast.refresh_from_db()
    assert fast.row_count == 8
    assert snapshot_tables(fast) == [fast.snapshot["table"]] != [first_table]


@pytest.mark.parametrize("key_column", ["count", "big", "born", "seen", "local_seen", "name"])
def test_keys_of_every_kind_are_the_checked_path_keys(pg, key_column):
    source, _ = pg
    query = f"SELECT * FROM every_type WHERE {key_column}::text <> ''"  # noqa: S608
    relation = Relation(query=query)
    fast = make_parent(source, relation, key_column)
    reference = make_parent(source, relation, key_column)
    assert copied(fast).ok
    assert checked(reference).ok
    assert stored(fast) == stored(reference)


def test_more_columns_than_one_json_object_call_takes(pg):
    source, source_db = pg
    names = [f"col{i}" for i in range(120)]
    source_db.execute(
        "CREATE TABLE wide (id text PRIMARY KEY, " + ", ".join(f"{n} integer" for n in names) + ")"
    )
    source_db.execute(
        "INSERT INTO wide VALUES ('w1', " + ", ".join(str(i) for i in range(120)) + ")"  # noqa: S608
    )
    fast = make_parent(source, Relation(table="public.wide"))
    assert copied(fast).ok
    assert rows_of(fast)["w1"] == {"id": "w1", **{n: i for i, n in enumerate(names)}}


def test_rows_the_checked_path_refuses_are_refused_by_the_copy_too(pg):
    source, source_db = pg
    source_db.execute(
        r"""
        CREATE TABLE bad (id text, amount numeric, score double precision, born date,
                          seen timestamptz, local_seen timestamp);
        INSERT INTO bad (id) VALUES ('fine');
        INSERT INTO bad (id, amount) VALUES ('nan', 'NaN');
        INSERT INTO bad (id, score) VALUES ('inf', '-Infinity');
        INSERT INTO bad (id, amount) VALUES ('huge', 1e309);
        INSERT INTO bad (id) VALUES (NULL);
        INSERT INTO bad (id) VALUES (E'\u3000 \t');
        INSERT INTO bad (id) VALUES (repeat('k', 256));
        INSERT INTO bad (id, born) VALUES ('bc', '0044-03-15 BC');
        INSERT INTO bad (id, born) VALUES ('far', '10000-01-01');
        INSERT INTO bad (id, seen) VALUES ('never', 'infinity');
        INSERT INTO bad (id, local_seen) VALUES ('past', '-infinity');
        INSERT INTO bad (id) VALUES ('fine too');
        """
    )
    relation = Relation(table="public.bad")
    fast, reference = make_parent(source, relation), make_parent(source, relation)
    # Rows that must survive both failures.
    reference.profiles.create(key="kept", attributes={"id": "kept"})
    fast.profiles.create(key="kept", attributes={"id": "kept"})

    fast_result, checked_result = copied(fast), checked(reference)
    assert not fast_result.ok
    assert [(e.line, e.column) for e in fast_result.errors] == [
        (e.line, e.column) for e in checked_result.errors
    ]
    assert [(e.line, e.column) for e in fast_result.errors] == [
        (3, "amount"),
        (4, "score"),
        (5, "amount"),
        (6, "id"),
        (7, "id"),
        (8, "id"),
        (9, "born"),
        (10, "born"),
        (11, "seen"),
        (12, "local_seen"),
    ]
    messages = [e.message for e in fast_result.errors]
    assert messages[:4] == [
        "'NaN' is not a number",
        "'-Infinity' is not a number",
        f"'1{'0' * 309}' is out of range for a number",
        "the key is empty",
    ]
    assert messages[5] == "the key is longer than 255 characters"
    assert [p.key for p in fast.profiles.all()] == ["kept"]
    assert snapshot_tables(fast) == []  # nor a half-written snapshot
    assert stored(fast)[0][1] == stored(reference)[0][1]


@pytest.mark.parametrize("mode", ["replace", "upsert"])
def test_duplicate_keys_are_named_and_nothing_changes(pg, mode):
    source, source_db = pg
    source_db.execute(
        "CREATE TABLE twice (id text, n integer);"
        "INSERT INTO twice VALUES ('a', 1), ('b', 2), ('a', 3), ('c', 4), ('b', 5), ('a', 6)"
    )
    relation = Relation(table="public.twice")
    fast, reference = make_parent(source, relation), make_parent(source, relation)
    for parent in (fast, reference):
        parent.profiles.create(key="old", attributes={"id": "old", "n": 0})
    fast_result, checked_result = copied(fast, mode), checked(reference, mode)
    assert [str(e) for e in fast_result.errors] == [str(e) for e in checked_result.errors]
    assert [str(e) for e in fast_result.errors] == [
        "line 4, column id: duplicate key 'a' (first on line 2)",
        "line 6, column id: duplicate key 'b' (first on line 3)",
        "line 7, column id: duplicate key 'a' (first on line 2)",
    ]
    assert [p.key for p in fast.profiles.all()] == ["old"]


def test_upsert_merges_by_key_and_counts_the_rows(pg):
    source, source_db = pg
    relation = Relation(query="SELECT id, count FROM every_type WHERE id IN ('a', 'b')")
    fast = make_parent(source, relation)
    fast.profiles.create(key="a", attributes={"id": "a", "count": 100})
    fast.profiles.create(key="z", attributes={"id": "z", "count": 26})
    result = copied(fast, mode="upsert")
    assert (result.ok, result.rows_imported) == (True, 2)
    assert {p.key: p.attributes["count"] for p in fast.profiles.all()} == {
        "a": 2,
        "b": -2,
        "z": 26,
    }
    fast.refresh_from_db()
    assert fast.row_count == 3


def test_a_type_the_user_overrode(pg):
    source, source_db = pg
    # An integer read as a string copies (its text is what the CSV path reads) ...
    relation = Relation(query="SELECT id, count FROM every_type WHERE count IS NOT NULL")
    columns = [{"name": "id", "type": "string"}, {"name": "count", "type": "string"}]
    fast = make_parent(source, relation, columns=columns)
    reference = make_parent(source, relation, columns=columns)
    assert copied(fast).ok
    assert checked(reference).ok
    assert stored(fast) == stored(reference)
    assert rows_of(fast)["b"]["count"] == "-2"

    # ... text read as an integer cannot: the refresh takes the checked path, which parses
    # and checks every value.
    source_db.execute("CREATE TABLE zips (id text, zip text); INSERT INTO zips VALUES ('z', '042')")
    relation = Relation(table="public.zips")
    columns = [{"name": "id", "type": "string"}, {"name": "zip", "type": "integer"}]
    parent = make_parent(source, relation, columns=columns)
    assert refresh._copy_plan(parent, relation) is None
    done = refresh.refresh_now(parent)
    assert done.status == Refresh.Status.SUCCEEDED, done.error
    assert parent.profiles.get().attributes == {"id": "z", "zip": 42}
    source_db.execute("INSERT INTO zips VALUES ('y', 'n/a')")
    done = refresh.refresh_now(parent)
    assert "line 3, column zip: 'n/a' is not an integer" in done.error


def test_a_source_failing_mid_stream_keeps_the_previous_rows(pg):
    source, _ = pg
    relation = Relation(
        query="SELECT 'k' || n AS id, 100000 / (200000 - n) AS n FROM generate_series(1, 200000) n"
    )
    parent = make_parent(
        source,
        relation,
        columns=[{"name": "id", "type": "string"}, {"name": "n", "type": "integer"}],
    )
    parent.profiles.create(key="old", attributes={"id": "old", "n": 1})
    done = refresh.refresh_now(parent)
    assert done.status == Refresh.Status.FAILED
    assert done.error == "reading the source failed: division by zero"
    assert [p.key for p in parent.profiles.all()] == ["old"]
    assert snapshot_tables(parent) == []
    # The service's connection is still usable, and so is the next refresh.
    assert ParentSegment.objects.filter(pk=parent.pk).exists()


# --- the snapshot table: read like profiles, replaced whole, merged, released ---------------

EVERY_TYPE_RULES = [
    {"column": "amount", "operator": "gt", "value": 10},
    {"column": "exact", "operator": "lt", "value": 1},
    {"column": "ratio", "operator": "between", "value": [-1, 2]},
    {"column": "count", "operator": "gte", "value": 0},
    {"column": "vip", "operator": "eq", "value": True},
    {"column": "born", "operator": "before", "value": "2000-01-01"},
    {"column": "seen", "operator": "after", "value": "2024-05-01T08:00:00Z"},
    {"column": "local_seen", "operator": "is_null"},
    {"column": "name", "operator": "contains", "value": "o"},
    {"column": "note", "operator": "is_not_null"},
    {"column": "code", "operator": "in", "value": ["ab   ", "x"]},
]


def test_a_snapshot_is_read_as_the_profiles_of_the_checked_path(pg):
    """Sizes under rules on every type, and a run's cells, are those of the profiles."""
    fast, reference = refreshed_pair(pg[0])
    assert fast.snapshot is not None
    assert not fast.profiles.exists()
    sizes = []
    for condition in EVERY_TYPE_RULES:
        tree = {"type": "and", "conditions": [condition]}
        size = audience.size(make_segment(parent=fast, rules=tree))
        assert size == audience.size(make_segment(parent=reference, rules=tree)), condition
        sizes.append(size)
    assert sizes == [3, 2, 4, 3, 2, 2, 1, 4, 3, 4, 1]  # each rule keeps some rows, not all

    timestamp = datetime.datetime(2026, 12, 4, 6, 0, tzinfo=datetime.UTC)
    fast_run, reference_run = (
        make_activation(segment=make_segment(parent=parent), null_value="clear")
        for parent in (fast, reference)
    )
    fast_cells = list(streaming.cells(fast_run, timestamp=timestamp))
    assert fast_cells == list(streaming.cells(reference_run, timestamp=timestamp))
    assert [row[0] for row in fast_cells] == ["a", "b", "c", "d", "e", "f", "g", "h"]
    assert fast_cells[0][7] == "12.5"
    assert fast_cells[6][8] == "1" + "0" * 300


@pytest.mark.parametrize("in_place", [True, False])
def test_an_upsert_merges_into_the_snapshot(pg, monkeypatch, in_place):
    """Few rows merge in place and leave unchanged rows alone; many rows build the merged
    table from the copy. Either way the rows are those the checked path merges."""
    monkeypatch.setattr(snapshots, "MERGE_IN_PLACE_SHARE", 10.0 if in_place else 0.1)
    source, source_db = pg
    fast, reference = refreshed_pair(source)
    table = fast.snapshot["table"]

    def version(key):  # the row's version: a row not rewritten keeps it
        with db_connection.cursor() as cursor:
            cursor.execute(f"SELECT xmin::text FROM {table} WHERE c0 = %s", [key])  # noqa: S608
            return cursor.fetchone()[0]

    unchanged, changed = version("c"), version("a")
    source_db.execute("UPDATE every_type SET count = 99 WHERE id = 'a'")
    source_db.execute("INSERT INTO every_type (id, name) VALUES ('new', 'New')")
    source_db.execute("DELETE FROM every_type WHERE id = 'b'")  # an upsert keeps it
    assert copied(fast, mode="upsert").ok
    assert checked(reference, mode="upsert").ok
    fast.refresh_from_db()
    assert fast.row_count == 9
    assert rows_of(fast) == rows_of(reference)
    assert rows_of(fast)["a"]["count"] == 99
    assert rows_of(fast)["b"]["count"] == -2
    if in_place:
        assert fast.snapshot["table"] == table
        assert version("c") == unchanged
        assert version("a") != changed
    else:
        assert snapshot_tables(fast) == [fast.snapshot["table"]] != [table]


def copied_parents(source, relation, count: int = 2) -> list:
    """`count` parents of the relation, each copied once (snapshot parents)."""
    parents = [make_parent(source, relation) for _ in range(count)]
    for parent in parents:
        assert copied(parent).ok
    return parents


def test_an_upload_into_a_snapshot_parent_makes_profiles_again(pg):
    source, _ = pg
    upserted, replaced = copied_parents(
        source, Relation(query="SELECT id, count FROM every_type WHERE id IN ('a', 'b')")
    )
    assert len(snapshot_tables(upserted, replaced)) == 2
    upload = b"id,count\nb,20\nz,26\n"
    assert loading.import_profiles(
        parent_segment=upserted, file=io.BytesIO(upload), mode="upsert"
    ).ok
    assert loading.import_profiles(parent_segment=replaced, file=io.BytesIO(upload)).ok
    assert snapshot_tables(upserted, replaced) == []
    assert {p.key: p.attributes["count"] for p in upserted.profiles.all()} == {
        "a": 2,
        "b": 20,
        "z": 26,
    }
    assert {p.key: p.attributes["count"] for p in replaced.profiles.all()} == {"b": 20, "z": 26}
    for parent, count in ((upserted, 3), (replaced, 2)):
        parent.refresh_from_db()
        assert (parent.snapshot, parent.row_count) == (None, count)


def test_going_live_or_deleting_the_parent_drops_its_snapshot(pg):
    source, _ = pg
    relation = Relation(table="public.every_type")
    going_live, deleted = copied_parents(source, relation)
    services.update_parent_segment(going_live, data={"storage": "live"})
    going_live.refresh_from_db()
    assert going_live.snapshot is None
    assert len(snapshot_tables(going_live, deleted)) == 1
    services.delete(deleted)
    assert snapshot_tables(going_live, deleted) == []
    # A parent deleted by a cascade (its workspace deleted) calls no service: the daily task
    # drops what it left.
    orphaned = make_parent(source, relation)
    assert copied(orphaned).ok
    ParentSegment.objects.filter(pk=orphaned.pk).delete()
    assert len(snapshot_tables(orphaned)) == 1
    record_audience_sizes()
    assert snapshot_tables(orphaned) == []


def test_columns_of_a_snapshot_parent_change_as_those_of_any_parent_with_rows(pg):
    source, _ = pg
    relation = Relation(query="SELECT id, count, vip FROM every_type")
    parent = make_parent(source, relation)
    assert copied(parent).ok
    parent.refresh_from_db()
    with pytest.raises(InvalidInput) as refused:
        services.update_parent_segment(
            parent, data={"columns": [*parent.columns[:2], {"name": "vip", "type": "string"}]}
        )
    assert "the parent segment has rows" in str(refused.value.errors["columns[2].type"])
    # Added: null in every row, as in profiles. Dropped: gone from the rows.
    columns = [*parent.columns[:2], {"name": "added", "type": "date"}]
    services.update_parent_segment(parent, data={"columns": columns})
    assert rows_of(parent)["a"] == {"id": "a", "count": 2, "added": None}

    # An upsert whose columns are no longer the snapshot's merges into profiles: the
    # snapshot's rows become profiles first, then the copied rows are merged by key.
    parent.refresh_from_db()
    parent = services.update_parent_segment(parent, data={"columns": parent.columns[:2]})
    parent.source_query = "SELECT 'new' AS id, 7 AS count UNION ALL SELECT 'a', 20"
    parent.save()
    assert copied(parent, mode="upsert").ok
    parent.refresh_from_db()
    assert (parent.snapshot, parent.row_count) == (None, 9)  # a to h, and new
    assert {p.key: p.attributes for p in parent.profiles.filter(key__in=["a", "b", "new"])} == {
        "a": {"id": "a", "count": 20},
        "b": {"id": "b", "count": -2, "vip": False},  # as the snapshot held it
        "new": {"id": "new", "count": 7},
    }
    assert snapshot_tables(parent) == []


@pytest.mark.django_db(transaction=True)
def test_a_table_still_read_by_a_run_is_dropped_once_the_run_is_done(pg):
    source, _ = pg
    parent = make_parent(source, Relation(table="public.every_type"))
    assert copied(parent).ok
    parent.refresh_from_db()
    old = parent.snapshot["table"]
    settings = db_connection.get_connection_params()
    with psycopg.connect(**settings) as reader:
        # A run's COPY holds its table until its transaction ends.
        assert reader.execute(f"SELECT count(*) FROM {old}").fetchone() == (8,)  # noqa: S608
        assert copied(parent).ok  # the replace does not wait for the reader
        parent.refresh_from_db()
        assert parent.snapshot["table"] != old
        assert snapshot_tables(parent) == sorted([old, parent.snapshot["table"]])
        assert reader.execute(f"SELECT count(*) FROM {old}").fetchone() == (8,)  # noqa: S608
    assert old in snapshots.drop_unused()
    assert snapshot_tables(parent) == [parent.snapshot["table"]]
    services.delete(parent)  # a transactional test leaves no table behind
    assert snapshot_tables(parent) == []


def test_integers_and_reals_read_as_numbers_copy_as_the_checked_path_stores_them(pg):
    source, source_db = pg
    source_db.execute("INSERT INTO every_type (id, score, ratio) VALUES ('nan', 'NaN', 1)")
    relation = Relation(query="SELECT id, big, ratio FROM every_type WHERE id <> 'nan'")
    columns = [
        {"name": "id", "type": "string"},
        {"name": "big", "type": "number"},  # a bigint source column
        {"name": "ratio", "type": "number"},  # a real one
    ]
    fast = make_parent(source, relation, columns=columns)
    reference = make_parent(source, relation, columns=columns)
    assert copied(fast).ok
    assert checked(reference).ok
    assert stored(fast) == stored(reference)
    assert rows_of(fast) == rows_of(reference)
    # 19 digits: a float to the CSV path (2**63), whose jsonb text reads back as an integer.
    assert rows_of(fast)["a"]["big"] == 9223372036854776000
    # A real NaN is refused as the CSV path refuses it.
    with_nan = make_parent(source, Relation(query="SELECT id, score FROM every_type"))
    result = copied(with_nan)
    assert [str(error) for error in result.errors] == [
        "line 10, column score: 'NaN' is not a number"
    ]


def test_the_pages_sample_a_snapshot_parent_and_its_segments(pg, client):
    source, _ = pg
    (parent,) = copied_parents(source, Relation(table="public.every_type"), count=1)
    client.force_login(make_user(workspace=parent.workspace))
    page = client.get(f"/audience/{parent.pk}/")
    assert page.status_code == 200
    assert [row[0] for row in page.context["sample_rows"]] == list("abcdefgh")
    assert "Zoë Ünicode 日本 😀" in page.content.decode()
    tree = {"type": "and", "conditions": [{"column": "vip", "operator": "eq", "value": True}]}
    segment = make_segment(parent=parent, rules=tree)
    sample = client.get(f"/segments/{segment.pk}/sample/")
    assert [row[0] for row in sample.context["rows"]] == ["a", "e"]


def test_a_run_that_refreshes_first_sends_the_rows_of_the_new_snapshot(pg, monkeypatch):
    """The run's parent was loaded before its refresh swapped the table (and dropped the
    one the parent named): it must read the new one."""
    source, source_db = pg
    fake = register_fake_connector(monkeypatch)
    (parent,) = copied_parents(source, Relation(table="public.every_type"), count=1)
    activation = make_activation(
        segment=make_segment(parent=parent),
        connection=make_connection(workspace=parent.workspace, kind="fake", name="Fake org"),
        refresh_before_run=True,
        output_mapping={
            "export_all_columns": False,
            "columns": [{"source": "id", "output": "Key__c"}],
            "strings": [],
        },
    )
    source_db.execute("INSERT INTO every_type (id) VALUES ('i')")
    run = runner.execute_run(Run.objects.create(activation=activation).pk)
    assert run.status == Run.Status.SUCCEEDED, run.log
    assert [row[0] for row in fake.written] == list("abcdefghi")
    assert snapshot_tables(parent) == [ParentSegment.objects.get(pk=parent.pk).snapshot["table"]]
