"""Streaming a source's rows for a refresh: as CSV lines (header first), the input of the
checked profile import, or, from PostgreSQL, as raw `COPY … TO STDOUT` blocks for a COPY into
another PostgreSQL database (with the columns' types, `postgresql_types`).

Memory stays flat: PostgreSQL writes the CSV or COPY text itself (`COPY (SELECT …) TO
STDOUT`, read in blocks); other databases are read with a server-side cursor where the driver
has one, a batch of rows at a time, each row encoded as it passes.
"""

import contextlib
import csv
import datetime
import decimal
import io
import json
from collections.abc import Iterator

from django.conf import settings
from sqlalchemy import Text, cast, column, func, literal, select
from sqlalchemy.exc import SQLAlchemyError

from common.validation import InvalidInput

from . import access, browse

BATCH_ROWS = 5000


class LineCounter:
    """Counts the data rows that went through (the header excluded)."""

    def __init__(self) -> None:
        self.rows = 0


@contextlib.contextmanager
def csv_lines(source, relation: browse.Relation, columns: list[dict], *, after=None):
    """Yield (an iterator of CSV lines as bytes, a LineCounter) for the relation's `columns`
    ({"name", "type"}); booleans as true/false, dates and timestamps in ISO 8601 (UTC).
    `after` = (column, text) keeps only the rows whose column is greater than the value (the
    text is compared by the database in the column's own type).

    Raises browse.SourceError (a message safe to show) when the source fails.
    """
    counter = LineCounter()
    with _reading(source) as connection:
        if source.kind == "postgresql":
            lines = _postgresql_lines(connection, source, relation, columns, counter, after)
        else:
            lines = _generic_lines(connection, source, relation, columns, counter, after)
        yield _safe(lines, source), counter


# The PostgreSQL types a refresh can copy as they are (the OIDs of the row description; a
# domain is described by its base type). Every other type is "other".
POSTGRESQL_TYPES = {
    16: "boolean",
    20: "bigint",
    21: "smallint",
    23: "integer",
    700: "real",
    701: "double precision",
    1700: "numeric",
    25: "text",
    1043: "varchar",
    1082: "date",
    1114: "timestamp",
    1184: "timestamptz",
}


def postgresql_types(source, relation: browse.Relation, names: list[str]) -> list[str] | None:
    """The PostgreSQL type of each of the relation's columns `names` (a name of
    POSTGRESQL_TYPES, else "other"); None for a source that is not PostgreSQL."""
    if source.kind != "postgresql":
        return None
    statement = browse.select_all(source, relation, names).limit(0)

    def work(connection):
        description = connection.execute(statement).cursor.description
        return [POSTGRESQL_TYPES.get(column.type_code, "other") for column in description]

    return browse.run(source, work)


@contextlib.contextmanager
def copy_rows(source, relation: browse.Relation, names: list[str], *, after=None):
    """PostgreSQL sources: yield (an iterator of blocks of `COPY … TO STDOUT` output in
    PostgreSQL's text format, a LineCounter) of the relation's columns `names`, never decoded:
    the blocks go as they are into a `COPY … FROM STDIN` of another PostgreSQL database.
    `after` as for csv_lines. Raises browse.SourceError when the source fails."""
    counter = LineCounter()
    with _reading(source) as connection:
        statement = _filtered(browse.select_all(source, relation, names), after)
        yield _safe(_copy_blocks(connection, statement, counter), source), counter


def _copy_blocks(connection, statement, counter) -> Iterator[bytes]:
    _postgresql_session(connection)
    cursor = connection.connection.dbapi_connection.cursor()
    with cursor.copy(f"COPY ({_sql(connection, statement)}) TO STDOUT") as copy:
        for block in copy:
            yield bytes(block)
    counter.rows = cursor.rowcount


@contextlib.contextmanager
def _reading(source):
    """A read-only connection to the source for a refresh; SourceError when it fails."""
    try:
        # The read lasts as long as the import it feeds: it has a timeout of its own.
        engine = access.engine_for(source, timeout=settings.SOURCE_REFRESH_TIMEOUT)
    except InvalidInput as error:
        raise browse.SourceError(browse.error_message(source, error)) from None
    try:
        with engine.connect() as connection:
            yield connection
    except (SQLAlchemyError, OSError) as error:
        raise browse.SourceError(browse.error_message(source, error)) from None
    finally:
        engine.dispose()


def _postgresql_session(connection) -> None:
    """Output that reads back the same anywhere: UTF-8, ISO dates, timestamps with their UTC
    offset, floats with every digit (the shortest text that reads back exactly)."""
    connection.exec_driver_sql("SET LOCAL client_encoding = 'UTF8'")
    connection.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
    connection.exec_driver_sql("SET LOCAL DateStyle = 'ISO, YMD'")
    connection.exec_driver_sql("SET LOCAL IntervalStyle = 'iso_8601'")
    connection.exec_driver_sql("SET LOCAL extra_float_digits = 3")


def _sql(connection, statement) -> str:
    return str(
        statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    )


def _safe(lines: Iterator[bytes], source) -> Iterator[bytes]:
    """The lines, with a driver error turned into SourceError as it happens mid-stream."""
    try:
        yield from lines
    except browse.SourceError:
        raise
    except Exception as error:  # noqa: BLE001 - psycopg and DBAPI errors alike
        raise browse.SourceError(browse.error_message(source, error)) from error


def _postgresql_lines(connection, source, relation, columns, counter, after) -> Iterator[bytes]:
    names = [c["name"] for c in columns]
    statement = _filtered(browse.select_all(source, relation, names), after)
    # COPY's own text for booleans is t/f: cast to text gives true/false.
    statement = statement.with_only_columns(
        *[
            cast(column(c["name"]), Text).label(c["name"])
            if c["type"] == "boolean"
            else column(c["name"])
            for c in columns
        ]
    )
    sql = _sql(connection, statement)
    _postgresql_session(connection)
    cursor = connection.connection.dbapi_connection.cursor()
    yield _header(names)
    with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
        pending = b""
        for block in copy:
            pending += bytes(block)
            *complete, pending = pending.split(b"\n")
            for line in complete:
                counter.rows += 1  # a quoted newline counts twice; fixed up below
                yield line + b"\n"
        if pending:
            counter.rows += 1
            yield pending
    # Exact count: COPY reports the rows it wrote.
    counter.rows = cursor.rowcount if cursor.rowcount >= 0 else counter.rows


def _generic_lines(connection, source, relation, columns, counter, after) -> Iterator[bytes]:
    names = [c["name"] for c in columns]
    statement = _filtered(browse.select_all(source, relation, names), after)
    result = connection.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(
        statement
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    yield _header(names)
    for row in result:
        writer.writerow([_cell(value) for value in row])
        counter.rows += 1
        # One line per item, as a file gives them: the import numbers lines as it reads.
        yield from buffer.getvalue().encode().splitlines(keepends=True)
        buffer.seek(0)
        buffer.truncate()


def _filtered(statement, after):
    if after is None:
        return statement
    name, value = after
    return statement.where(column(name) > literal(value))


def max_value(source, relation: browse.Relation, name: str) -> str | None:
    """The highest value of a column now, as text (ISO 8601 for dates and timestamps)."""
    statement = select(func.max(column(name))).select_from(
        browse.select_all(source, relation, [name]).subquery("rows")
    )
    value = browse.run(source, lambda connection: connection.execute(statement).scalar())
    if value is None:
        return None
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _header(names: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(names)
    return buffer.getvalue().encode()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal | int | str):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def cell_text(value) -> str:
    """A value as a refresh writes it into its CSV: live parent segments read rows this way
    too, so their values parse exactly as an imported copy's would."""
    return _cell(value)
