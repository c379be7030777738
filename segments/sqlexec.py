"""Running `segments.sql` statements on Django's own database connection (the profile store).

SQLAlchemy builds the statement; it is compiled for the connection's vendor and executed by
Django's cursor, so it sees the same transaction as the ORM (tests, the runner's claims).
"""

import datetime
from collections.abc import Iterator

import sqlalchemy as sa
from django.db import connection as default_connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.dialects.sqlite import pysqlite

from . import snapshots, sql
from .models import ParentSegment, Segment

# The ORM's RawSQL takes "format" (%s) parameters.
_FORMAT_DIALECTS = {
    "postgresql": postgresql_psycopg.dialect(paramstyle="format"),
    "sqlite": pysqlite.dialect(paramstyle="format"),
}
_DIALECTS = {
    # Django's cursors take "pyformat" parameters on both backends.
    "postgresql": postgresql_psycopg.dialect(paramstyle="pyformat"),
    "sqlite": pysqlite.dialect(paramstyle="pyformat"),
}


def dialect(connection=None) -> sa.Dialect:
    vendor = (connection or default_connection).vendor
    try:
        return _DIALECTS[vendor]
    except KeyError:
        raise sql.UnsupportedStore(
            f"the profile store needs PostgreSQL or SQLite, not {vendor}"
        ) from None


def compile_statement(statement, connection=None) -> tuple[str, dict]:
    """The statement as SQL text and parameters for Django's cursor on `connection`."""
    compiled = statement.compile(
        dialect=dialect(connection), compile_kwargs={"render_postcompile": True}
    )
    return str(compiled), compiled.params


def segment_rows(
    segment: Segment,
    *,
    today: datetime.date | None = None,
    zone: datetime.tzinfo | None = None,
    connection=None,
) -> sql.Rows:
    """The segment's rows in the profile store. `zone` (default: the current time zone)
    anchors `within_last_days`; `today` defaults to today there. Raises InvalidInput when
    the rules no longer fit the parent's columns."""
    return parent_rows(
        segment.parent_segment, segment.rules, today=today, zone=zone, connection=connection
    )


def parent_rows(
    parent: ParentSegment,
    tree: dict,
    *,
    today: datetime.date | None = None,
    zone: datetime.tzinfo | None = None,
    connection=None,
) -> sql.Rows:
    """The rows of `parent` that match the rule tree `tree`: its profiles, or its snapshot
    table (segments/snapshots.py)."""
    zone = zone or timezone.get_current_timezone()
    today = today or timezone.localdate(timezone=zone)
    vendor = (connection or default_connection).vendor
    if snapshots.is_snapshot(parent):
        return sql.table_rows(
            vendor,
            snapshots.from_clause(parent),
            parent.key_column,
            tree,
            parent.columns,
            today=today,
            zone=zone,
        )
    return sql.profile_rows(
        vendor,
        parent.pk,
        tree,
        parent.columns,
        today=today,
        zone=zone,
    )


def condition(
    parent: ParentSegment,
    tree: dict,
    *,
    today: datetime.date | None = None,
    zone: datetime.tzinfo | None = None,
    connection=None,
) -> RawSQL:
    """The rule tree's WHERE clause as an ORM filter on Profile (`.filter(condition(...))`).

    Compiled by segments.sql, the one rule compiler; raises InvalidInput when the rules do
    not fit the parent's columns."""
    connection = connection or default_connection
    zone = zone or timezone.get_current_timezone()
    today = today or timezone.localdate(timezone=zone)
    source = sql.ProfileColumns(connection.vendor)
    clause = sql.where(tree, parent.columns, source, today=today, zone=zone)
    compiled = clause.compile(
        dialect=_FORMAT_DIALECTS[connection.vendor], compile_kwargs={"render_postcompile": True}
    )
    params = [compiled.params[name] for name in compiled.positiontup]
    # SQLAlchemy built the text; every value is a parameter.
    return RawSQL(f"({compiled})", params, output_field=BooleanField())  # noqa: S611


def stream(statement, *, fetch_rows: int = 2000) -> Iterator[tuple]:
    """The statement's rows from a server-side cursor on PostgreSQL (memory does not grow
    with the result), `fetch_rows` per round trip."""
    text, params = compile_statement(statement)
    with default_connection.chunked_cursor() as cursor:
        cursor.execute(text, params)
        while batch := cursor.fetchmany(fetch_rows):
            yield from batch


def fetch_all(statement, connection=None) -> list[tuple]:
    connection = connection or default_connection
    text, params = compile_statement(statement, connection)
    with connection.cursor() as cursor:
        cursor.execute(text, params)
        return cursor.fetchall()
