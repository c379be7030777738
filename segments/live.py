"""Live parent segments: the rows stay in the source and are read there at each use.

A parent with `storage` "live" has no profiles. Its segments' size, samples, previews and
runs are one statement in the source at that moment: the rules compiled by `segments/sql.py`
over the source's table or query (`TableColumns`), run on the source's read-only engine
(`sources/access.py`). Rows come out typed exactly like profile attributes (each value passes
through the text a refresh would write and `loading.parse_value`), so mapping, rendering and
fingerprints cannot tell a live row from an imported one.

The key column must be unique and present in the source: checked (GROUP BY … HAVING
COUNT(*) > 1, a few examples) before each size and each stream of rows.
"""

import contextlib
import datetime
from collections.abc import Iterator

import sqlalchemy as sa
from django.conf import settings
from django.utils import timezone
from sqlalchemy.exc import SQLAlchemyError

from common import pgcopy
from common.errors import ServiceError
from common.validation import InvalidInput
from sources import access, browse, reading

from . import loading, sql
from .models import ParentSegment, Segment, Storage

# Duplicated keys named in the error.
DUPLICATE_EXAMPLES = 5
# Rows fetched per round trip from a server-side cursor.
FETCH_ROWS = 2000


class LiveSourceError(ServiceError):
    """The source could not give a live parent's rows; the message is safe to show."""

    status_code = 502


class LiveKeyError(LiveSourceError):
    """The key column is not unique, or has nulls, in the source."""

    status_code = 409


class NotCopied(ServiceError):
    """A refresh or an upload asked of a live parent, which keeps no copy."""

    status_code = 409


REFRESH_REFUSED = (
    "This parent segment is live: its rows are read in the source at each use, so there is "
    "nothing to refresh."
)
UPLOAD_REFUSED = (
    "This parent segment is live: its rows are read in the source at each use and cannot "
    "be uploaded."
)


def is_live(parent: ParentSegment) -> bool:
    return parent.storage == Storage.LIVE and parent.source_id is not None


def relation_of(parent: ParentSegment) -> browse.Relation:
    return browse.Relation(table=parent.source_table, query=parent.source_query)


# --- the statements ---------------------------------------------------------------------


def from_clause(parent: ParentSegment):
    """The source's table or query as a subquery with the parent's columns, typed as ours.

    Empty texts are nulls and numbers doubles, as a refresh stores them. Timestamps are read
    as UTC: the session's time zone is UTC (`_utc_session`). SQLite has no timestamp type: its
    text (ISO 8601, a space or a T, an offset or none meaning UTC) is normalised to the
    profile store's "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" here (to the millisecond).
    """
    source = parent.source
    names = parent.column_names
    base = browse.select_all(source, relation_of(parent), names).subquery("live_source")
    columns = []
    for column in parent.columns:
        name, column_type = column["name"], column["type"]
        value = base.c[name]
        if source.kind == "sqlite" and column_type == "timestamp":
            value = _sqlite_timestamp(value)
        elif column_type == "string" and name != parent.key_column:
            # An empty text is a null, as in the CSV a refresh writes (rules and cells agree).
            # Not the key's (check_keys refuses it empty): its index gives the rows' order.
            value = sa.func.nullif(value, "")
        elif source.kind != "sqlite" and column_type == "number":
            # A double, as the profile store keeps numbers: DECIMAL's "10.50" renders "10.5".
            value = sa.cast(value, sa.Double())
        columns.append(sa.type_coerce(value, sql.COLUMN_TYPES[column_type]).label(name))
    return sa.select(*columns).select_from(base).subquery("live_rows")


def _sqlite_timestamp(value):
    seconds = sa.func.strftime("%Y-%m-%dT%H:%M:%S", value)
    millis = sa.func.substr(sa.func.strftime("%f", value), 4)
    fraction = sa.case((millis == "000", ""), else_="." + millis + "000")
    return sa.case((seconds.is_(None), sa.null()), else_=seconds + fraction + "Z")


def parent_rows(
    parent: ParentSegment,
    tree: dict,
    *,
    today: datetime.date | None = None,
    zone: datetime.tzinfo | None = None,
) -> sql.Rows:
    """The rows of the live parent matching `tree`, as a statement for the source's dialect.
    Raises InvalidInput when the rules no longer fit the parent's columns."""
    zone = zone or timezone.get_current_timezone()
    today = today or timezone.localdate(timezone=zone)
    return sql.table_rows(
        parent.source.kind,
        from_clause(parent),
        parent.key_column,
        tree,
        parent.columns,
        today=today,
        zone=zone,
    )


def segment_rows(segment: Segment, *, zone: datetime.tzinfo | None = None) -> sql.Rows:
    """The segment's rows in its live parent's source (the FROM of a run's SELECT)."""
    return parent_rows(segment.parent_segment, segment.rules, zone=zone)


# --- reading ------------------------------------------------------------------------------


@contextlib.contextmanager
def connected(parent: ParentSegment, *, long: bool = False):
    """A read-only connection to the parent's source, in UTC, with the key checked first.
    `long`: the timeout of a whole run's read (SOURCE_REFRESH_TIMEOUT). Every failure of
    the source becomes a LiveSourceError (the password never in its message)."""
    source = parent.source
    try:
        timeout = settings.SOURCE_REFRESH_TIMEOUT if long else None
        engine = access.engine_for(source, timeout=timeout)
    except InvalidInput as error:
        raise _failed(parent, error) from None
    try:
        with engine.connect() as connection:
            _utc_session(connection)
            check_keys(parent, connection)
            yield connection
    except (SQLAlchemyError, OSError) as error:
        raise _failed(parent, error) from None
    finally:
        engine.dispose()


def _failed(parent: ParentSegment, error: Exception) -> LiveSourceError:
    message = browse.error_message(parent.source, error)
    return LiveSourceError(f"Reading the source {parent.source.name!r} live failed: {message}")


def _utc_session(connection) -> None:
    kind = connection.dialect.name
    if kind == "postgresql":
        connection.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
        connection.exec_driver_sql("SET LOCAL DateStyle = 'ISO, YMD'")
    elif kind == "duckdb":
        connection.exec_driver_sql("SET TimeZone = 'UTC'")


def check_keys(parent: ParentSegment, connection) -> None:
    """Raise LiveKeyError when the key column has nulls or repeats a value in the source.
    A table whose primary key is the key column needs no look at its rows."""
    if _key_is_primary(parent, connection):
        return
    from_ = from_clause(parent)
    key = from_.c[parent.key_column]
    missing = key.is_(None)
    if parent.column_types()[parent.key_column] == "string":
        missing = sa.or_(missing, key == "")
    if connection.execute(sa.select(sa.literal(1)).where(missing).limit(1)).first():
        raise LiveKeyError(
            f"The key column {parent.key_column!r} is empty in some rows of the source; "
            "every row of a live parent segment needs a key."
        )
    duplicated = connection.execute(
        sa.select(key, sa.func.count())
        .group_by(key)
        .having(sa.func.count() > 1)
        .order_by(key)
        .limit(DUPLICATE_EXAMPLES)
    ).all()
    if duplicated:
        examples = ", ".join(f"{value!r} ({count} rows)" for value, count in duplicated)
        raise LiveKeyError(
            f"The key column {parent.key_column!r} is not unique in the source: {examples}; "
            "a live parent segment needs one row per key."
        )


def _key_is_primary(parent: ParentSegment, connection) -> bool:
    # duckdb-engine's reflection fails on SQLAlchemy 2.1 (see sources/browse.py).
    if not parent.source_table or parent.source.kind == "duckdb":
        return False
    schema, name = browse.split_table_name(parent.source_table)
    try:
        primary = sa.inspect(connection).get_pk_constraint(name, schema=schema)
    except (SQLAlchemyError, NotImplementedError):
        return False
    return primary.get("constrained_columns") == [parent.key_column]


def check_parent(parent: ParentSegment) -> None:
    """Create/change time check of a live parent: readable, and its key unique and present.
    Raises InvalidInput on `key_column` (key problems) or `source` (the source failed)."""
    try:
        with connected(parent):
            pass
    except LiveKeyError as error:
        raise InvalidInput({"key_column": [error.message]}) from None
    except LiveSourceError as error:
        raise InvalidInput({"source": [error.message]}) from None


def count(parent: ParentSegment, tree: dict) -> int:
    """How many rows of the live parent match `tree` now, counted by the source."""
    rows = parent_rows(parent, tree)
    with connected(parent) as connection:
        return connection.execute(rows.count()).scalar_one()


def size(segment: Segment) -> int:
    return count(segment.parent_segment, segment.rules)


def iter_rows(segment: Segment, *, zone: datetime.tzinfo | None = None) -> Iterator[dict]:
    """Each matching row as a dict typed as profile attributes, in key order, streamed."""
    return rows_of(segment.parent_segment, segment.rules, zone=zone)


def rows_of(
    parent: ParentSegment,
    tree: dict,
    *,
    zone: datetime.tzinfo | None = None,
    limit: int | None = None,
) -> Iterator[dict]:
    """The rows of the live parent matching `tree` (the first `limit`), as attributes."""
    rows = parent_rows(parent, tree, zone=zone)
    statement = attribute_select(rows, parent, parent.source.kind, limit=limit)
    with connected(parent, long=limit is None) as connection:
        result = _stream(connection, statement)
        for values in _guarded(parent, result):
            yield as_attributes(parent, values)


def attribute_select(
    rows: sql.Rows, parent: ParentSegment, dialect_name: str, *, limit: int | None = None
):
    """SELECT the parent's columns of `rows` (a table's, not profiles'), the first `limit`
    rows, for as_attributes."""
    # Dates and timestamps come as our text, formatted by the database (cheaper than
    # Python), where sql.iso_utc_text knows the dialect; elsewhere _attribute formats them.
    as_text = AS_TEXT if dialect_name in TEXT_DIALECTS else ()
    statement = rows.select(
        *(
            rows.source.text(name, column_type) if column_type in as_text else rows.from_.c[name]
            for name, column_type in parent.column_types().items()
        )
    )
    return statement if limit is None else statement.limit(limit)


def as_attributes(parent: ParentSegment, values) -> dict:
    """A row of attribute_select as a dict typed as profile attributes."""
    return {
        column["name"]: _attribute(column["type"], value)
        for column, value in zip(parent.columns, values, strict=True)
    }


# The driver's own type for a column type, whose values the profile store holds as they are.
NATIVE = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "date": str,
    "timestamp": str,
}
AS_TEXT = ("date", "timestamp")
TEXT_DIALECTS = ("postgresql", "duckdb", "sqlite")


def _attribute(column_type: str, value):
    """The value as the profile store holds it: what a refresh stores, i.e. the text it
    writes (sources/reading.py) parsed back by loading.parse_value. The common types take a
    short cut to the same result (a run converts every cell of every row)."""
    kind = type(value)
    if value is None or kind is NATIVE.get(column_type):
        return value
    if column_type == "date" and kind is datetime.date:
        return value.isoformat()
    if column_type == "timestamp" and kind is datetime.datetime:
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds" if value.microsecond else "seconds") + "Z"
    return loading.parse_value(column_type, reading.cell_text(value))


def cells(parent: ParentSegment, statement) -> Iterator[tuple]:
    """The rows of a statement built on `segment_rows` (a run's rendered SELECT), streamed
    from the source with a server-side cursor where the driver has one."""
    with connected(parent, long=True) as connection:
        yield from _guarded(parent, _stream(connection, statement))


def copy_lines(parent: ParentSegment, statement) -> Iterator[bytes]:
    """PostgreSQL sources: `COPY (statement) TO STDOUT WITH (FORMAT csv)`, one line per row
    as the server sends them, never decoded."""
    with connected(parent, long=True) as connection:
        compiled = statement.compile(
            dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
        )
        raw = connection.connection.dbapi_connection
        yield from _guarded(parent, pgcopy.csv_lines(raw, str(compiled), compiled.params))


def _stream(connection, statement):
    options = {"stream_results": True, "yield_per": FETCH_ROWS}
    return connection.execution_options(**options).execute(statement)


def _guarded(parent: ParentSegment, rows):
    """The rows, with a driver error raised mid-stream turned into LiveSourceError."""
    try:
        yield from rows
    except LiveSourceError:
        raise
    except Exception as error:  # noqa: BLE001 - psycopg and DBAPI errors alike
        raise _failed(parent, error) from error
