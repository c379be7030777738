"""A run's rows straight from the database: one SELECT (segments.sql for the rules,
activations.sqlrender for the mapping) whose values are the final CSV cells.

On PostgreSQL the CSV lines come from `COPY (SELECT …) TO STDOUT WITH (FORMAT csv)`, read on a
connection of their own (the run's connection keeps storing counts and heartbeats meanwhile;
a COPY in progress holds its connection) and handed on as they arrive, never decoded. Elsewhere a server-side cursor fetches the cells
and common.csvio encodes them. The preview runs the same SELECT with a LIMIT. A live
parent segment's SELECT runs in its source instead (segments/live.py), COPY on PostgreSQL.
"""

import datetime
import zoneinfo
from collections.abc import Iterator

from django.db import connection as default_connection

from common import csvio, pgcopy
from segments import live, snapshots, sqlexec

from . import mapping, sqlrender
from .models import Activation

# Rows fetched per round trip from a server-side cursor.
FETCH_ROWS = 2000


def statement(
    activation: Activation,
    *,
    timestamp: datetime.datetime,
    for_copy: bool = False,
    limit: int | None = None,
    with_key: bool = False,
    connection=None,
):
    """The SELECT of the activation's rows as final cells, in key order; `with_key` adds
    each row's key as a trailing cell (see `key_index`).

    `within_last_days` counts days in the activation's time zone. Raises InvalidInput when
    the rules or the mapping no longer fit the parent segment's columns.
    """
    segment = activation.segment
    parent = segment.parent_segment
    if live.is_live(parent):  # the SELECT runs in the source (segments/live.py)
        rows = live.segment_rows(segment, zone=zone_of(activation))
    else:
        snapshots.reload(parent)  # the table a refresh swapped in since the run began
        rows = sqlexec.segment_rows(segment, zone=zone_of(activation), connection=connection)
    context = mapping.RenderContext(
        segment_id=segment.pk,
        segment_name=segment.name,
        audience_id=parent.pk,
        timestamp=timestamp,
        # A timestamp part without a zone of its own is written in the schedule's.
        timezone=activation.timezone or "UTC",
    )
    return sqlrender.select(
        rows,
        activation.output_mapping,
        columns=parent.columns,
        context=context,
        null_value=activation.null_value,
        empty_as_null=for_copy,
        limit=limit,
        with_key=with_key,
        key_index=key_index(activation, parent.columns) if with_key else None,
    )


def key_index(activation: Activation, columns: list[dict]) -> int | None:
    """The output column holding a row's key as a run records it (fingerprints, failed
    rows): the update key's column in update mode; None for the parent's key column."""
    if activation.mode != Activation.Mode.UPDATE:
        return None
    names = mapping.output_columns(activation.output_mapping, columns)
    return names.index(activation.key) if activation.key in names else None


def zone_of(activation: Activation) -> datetime.tzinfo:
    """The activation's time zone, whose days `within_last_days` counts (UTC if unknown)."""
    try:
        return zoneinfo.ZoneInfo(activation.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def cells(
    activation: Activation,
    *,
    timestamp: datetime.datetime,
    limit: int | None = None,
    with_key: bool = False,
) -> Iterator[tuple[str, ...]]:
    """The rows as tuples of final cells (and the key last, `with_key`), fetched FETCH_ROWS
    at a time (server-side cursor on PostgreSQL, so memory does not grow with the segment).
    The statement is built before the first row is asked for, so bad rules or mapping raise
    at once."""
    select = statement(activation, timestamp=timestamp, limit=limit, with_key=with_key)
    if live.is_live(activation.segment.parent_segment):
        return live.cells(activation.segment.parent_segment, select)
    return sqlexec.stream(select, fetch_rows=FETCH_ROWS)


def lines(
    activation: Activation, *, timestamp: datetime.datetime, with_key: bool = False
) -> Iterator[bytes]:
    """The rows as CSV lines (bytes, LF-terminated), byte for byte what common.csvio writes
    for `cells` (`with_key`: the key as a last field, see `csvio.split_last`). The statement is
    built before the first line is asked for."""
    parent = activation.segment.parent_segment
    if live.is_live(parent) and parent.source.kind == "postgresql":
        return live.copy_lines(
            parent, statement(activation, timestamp=timestamp, for_copy=True, with_key=with_key)
        )
    # COPY runs on a connection of its own, which sees committed rows only: inside a
    # transaction (a caller's atomic block, a test) the rows are read on this one instead.
    if default_connection.vendor == "postgresql" and not default_connection.in_atomic_block:
        text, params = sqlexec.compile_statement(
            statement(activation, timestamp=timestamp, for_copy=True, with_key=with_key)
        )
        return _copy(text, params)
    return _encoded(cells(activation, timestamp=timestamp, with_key=with_key))


def _encoded(rows: Iterator[tuple[str, ...]]) -> Iterator[bytes]:
    try:
        yield from map(csvio.encode_row, rows)
    finally:
        rows.close()


def _copy(text: str, params: dict) -> Iterator[bytes]:
    """COPY's CSV output on a new connection (see common.pgcopy)."""
    raw = default_connection.get_new_connection(default_connection.get_connection_params())
    try:
        raw.autocommit = True
        yield from pgcopy.csv_lines(raw, text, params)
    finally:
        raw.close()
