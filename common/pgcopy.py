"""Reading `COPY (SELECT …) TO STDOUT WITH (FORMAT csv)` from a psycopg connection."""

from collections.abc import Iterator

import psycopg


def csv_lines(raw: psycopg.Connection, select: str, params=None) -> Iterator[bytes]:
    """The SELECT's rows as CSV lines, one per row as the server sends them, never decoded.
    Closed early (the reader stopped), the COPY is cancelled rather than read to its end."""
    closing = False
    try:
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)", params) as copy,
        ):
            try:
                for line in copy:
                    yield bytes(line)
            except GeneratorExit:
                closing = True
                raw.cancel_safe()
                raise
    except psycopg.errors.QueryCanceled:
        if not closing:
            raise
