"""Snapshots: a PostgreSQL source's rows kept as they came, typed, in a table of their own.

A refresh from PostgreSQL into a PostgreSQL service database (the copy path:
`loading.import_copied`, `segments/copying.py`) keeps the source's rows in a table
`segments_snapshot_<parent>_<random>`, columns c0, c1, … typed as `copying.plan` stages them,
with a unique index on the key, instead of one JSON profile per row: copying typed rows costs
about what COPY costs, while building a million JSON documents costs five times that
(benchmarks/README.md, "Refresh from a source").

Reads cannot tell a snapshot from profiles: `from_clause` gives each of the parent's columns
typed as ours with the values copying.py would have stored (empty texts null, numbers as the
import parses them, dates and timestamps as dates and timestamps), `sqlexec.parent_rows`
compiles the rules over it (sql.TableColumns), so sizes, samples, previews, dry runs and runs
read it like a live source's table (tests/segments/test_refresh_copy.py holds the two stores
to the same values, rows, sizes under rules and run cells).

A parent's rows are in one place: `ParentSegment.snapshot` describes the table (and the plan
it was written with), or is null and the rows are profiles. A replace writes a new table and
swaps it in, all in one transaction (a failed refresh leaves no table behind); the replaced
table is dropped after the commit unless a reader still holds it, and then by the next
`drop_unused`. A CSV upload or a checked refresh into a snapshot parent turns it back into
profiles first (`release`).
"""

import contextlib
import decimal
import secrets

import sqlalchemy as sa
from django.db import OperationalError, connection, transaction

from . import copying, sql
from .models import ParentSegment, Profile

PREFIX = "segments_snapshot_"
# How long dropping a replaced table waits for a reader (a run streaming it) before leaving
# it to the next drop_unused.
DROP_LOCK_TIMEOUT = "1s"
# An upsert of at most this share of a snapshot's rows merges into it in place; more rows
# build the merged table from the copy (loading._merge_snapshots).
MERGE_IN_PLACE_SHARE = 0.1
# Numbers as numeric, so that 12 and 12.0 stay apart as they do in a profile's JSON.
SQL_TYPES = {**sql.COLUMN_TYPES, "number": sa.Numeric()}
TIMESTAMP_TYPES = {"timestamp": sa.DateTime(), "timestamptz": sa.DateTime(timezone=True)}


def is_snapshot(parent: ParentSegment) -> bool:
    return bool(parent.snapshot)


def reload(parent: ParentSegment) -> None:
    """Read the parent's snapshot description afresh into the instance. A run calls it before
    it reads: its instance, loaded when the run began, may predate a refresh that swapped
    the table (and dropped the one it names) or turned profiles into a snapshot."""
    if parent.pk is not None and connection.vendor == "postgresql":
        parent.refresh_from_db(fields=["snapshot"])


def new_table_name(parent: ParentSegment) -> str:
    return f"{PREFIX}{int(parent.pk)}_{secrets.token_hex(4)}"


def description(plan: copying.CopyPlan, table: str) -> dict:
    """What ParentSegment.snapshot keeps of a table written with `plan`."""
    return {
        "table": table,
        "columns": plan.columns,
        "key_column": plan.key_column,
        "source_types": plan.source_types,
    }


def stored_plan(parent: ParentSegment) -> copying.CopyPlan:
    """The plan the parent's snapshot was written with."""
    snapshot = parent.snapshot
    return copying.plan(snapshot["columns"], snapshot["key_column"], snapshot["source_types"])


def fits(parent: ParentSegment, plan: copying.CopyPlan) -> bool:
    """Whether rows staged by `plan` can be upserted into the parent's snapshot as they are."""
    snapshot = parent.snapshot
    return bool(snapshot) and description(plan, snapshot["table"]) == snapshot


def from_clause(parent: ParentSegment):
    """The snapshot as a subquery with the parent's columns, typed as ours. A column added
    after the snapshot was written is null in every row, as it is in profiles."""
    plan = stored_plan(parent)
    table = sa.table(
        parent.snapshot["table"], *(sa.column(f"c{i}") for i in range(len(plan.columns)))
    )
    positions = {column["name"]: index for index, column in enumerate(plan.columns)}
    columns = []
    for column in parent.columns:
        name, column_type = column["name"], column["type"]
        index = positions.get(name)
        if index is None:
            value, sql_type = sa.null(), SQL_TYPES[column_type]
        else:
            value, sql_type = _stored_value(plan, index, table.c[f"c{index}"])
        columns.append(sa.type_coerce(value, sql_type).label(name))
    return sa.select(*columns).select_from(table).subquery("snapshot_rows")


def _stored_value(plan: copying.CopyPlan, index: int, staged):
    column_type = plan.columns[index]["type"]
    if column_type == "timestamp":
        return staged, TIMESTAMP_TYPES[plan.source_types[index]]
    if column_type == "string" and index != plan.key_index:
        return sa.func.nullif(staged, ""), SQL_TYPES["string"]
    if column_type == "number":
        # copying's expression: the number a CSV import parses from the source's text.
        return sa.literal_column(f"({plan.values[index]})"), SQL_TYPES["number"]
    return staged, SQL_TYPES[column_type]


def profile_number(value):
    """A number column's value (numeric) as the same number in a profile reads back on
    PostgreSQL: jsonb writes numeric's plain text, and JSON reads a number with a point as a
    float, one without as an int (so 1e20 is an int there, 12.0 a float)."""
    if not isinstance(value, decimal.Decimal):
        return value
    text = format(value, "f")
    return float(text) if "." in text else int(text)


def release(cursor, parent: ParentSegment, *, keep_rows: bool) -> None:
    """Turn a snapshot parent back into a profiles parent, in the caller's transaction (the
    parent locked): its rows become profiles (`keep_rows`, for an upsert) or go. The table
    is dropped by drop_unused after the commit."""
    if not parent.snapshot:
        return
    if keep_rows:
        plan = stored_plan(parent)
        profile = connection.ops.quote_name(Profile._meta.db_table)
        cursor.execute("SET LOCAL extra_float_digits = 3")
        cursor.execute(
            f"INSERT INTO {profile} (parent_segment_id, key, attributes) "  # noqa: S608
            f"SELECT {int(parent.pk)}, {plan.key}, {plan.attributes} "
            f"FROM {parent.snapshot['table']}"
        )
    parent.snapshot = None


def drop_unused() -> list[str]:
    """Drop the snapshot tables no parent uses (replaced, released, or of a deleted parent);
    one still read by a run is left for the next call. Returns the dropped names."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        # One statement, one view of the catalog and the parents: a table a transaction is
        # still writing is not visible, and a table no parent uses never gets used again.
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename LIKE %s AND tablename NOT IN (SELECT snapshot->>'table' FROM "
            "segments_parentsegment WHERE snapshot IS NOT NULL) ORDER BY tablename",
            [PREFIX.replace("_", r"\_") + "%"],
        )
        unused = [name for (name,) in cursor.fetchall()]
        dropped = []
        for name in unused:
            with contextlib.suppress(OperationalError), transaction.atomic():
                cursor.execute(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'")
                cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(name)}")
                # Inside a caller's transaction a savepoint's SET LOCAL would outlive it.
                cursor.execute("SET LOCAL lock_timeout = DEFAULT")
                dropped.append(name)
    return dropped
