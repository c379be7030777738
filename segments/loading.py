"""CSV import of a parent segment's rows: streamed, type-checked, atomic, replace or upsert."""

import contextlib
import csv
import datetime
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction

from . import copying, snapshots
from .models import ColumnType, ParentSegment, Profile

MODES = ("replace", "upsert")
# Rows staged per statement, and the errors kept for the caller (the rest are only counted).
CHUNK_SIZE = 1000
MAX_REPORTED_ERRORS = 100
SQLITE_ROWS_PER_INSERT = 999 // 3
KEY_MAX_LENGTH = Profile._meta.get_field("key").max_length
# JSON integers beyond 64 bits lose precision in SQLite's JSON functions.
INTEGER_RANGE = (-(2**63), 2**63 - 1)

# SQL below interpolates only constant table names (never input; values are parameters).
# The rows of the file being imported, in a temporary table rather than in Python so that
# memory stays flat for files of millions of rows.
STAGING_TABLE = "segments_import_row"

INTEGER_PATTERN = re.compile(r"[+-]?\d{1,20}")
NUMBER_PATTERN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclass(frozen=True)
class RowError:
    """A problem found in the file: its 1-based line (the header is line 1) and column.

    Line 0 is a problem with the import as a whole."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        if not self.line:
            return self.message  # about the import, not a line of the file
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class ImportResult:
    """What an import did. `errors` holds the first MAX_REPORTED_ERRORS; `error_count` all."""

    rows_imported: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0


class _ErrorList:
    def __init__(self, result: ImportResult) -> None:
        self.result = result

    def add(self, line: int, column: str, message: str) -> None:
        self.result.error_count += 1
        if len(self.result.errors) < MAX_REPORTED_ERRORS:
            self.result.errors.append(RowError(line, column, message))

    def merge(self, first_errors: list[RowError], count: int) -> None:
        """Add errors found apart (the first of `count`), keeping the first ones by line."""
        self.result.error_count += count
        merged = sorted(self.result.errors + first_errors, key=lambda error: error.line)
        self.result.errors = merged[:MAX_REPORTED_ERRORS]


def import_profiles(
    *, parent_segment: ParentSegment, file, mode: str = "replace", allow_empty: bool = False
) -> ImportResult:
    """Load a CSV file (a binary file object) into the parent segment's rows.

    The header names columns of the parent segment: the key column is required, any other
    column may be left out (its values are null). Every value is checked against its column's
    type; an empty cell is null. Keys must be non-empty and unique within the file.

    mode "replace": afterwards the parent's rows are exactly the file's rows.
    mode "upsert": rows whose key is in the file are replaced by the file's row, new keys are
    added, and the other rows are kept.

    Atomic: if any error is found, nothing changes and the result lists the errors (line,
    column, reason; the first MAX_REPORTED_ERRORS by line, `error_count` counts all). Memory
    stays flat whatever the size of the file: rows are checked as they are read and staged in a
    temporary table in chunks; duplicate keys and the final write are single SQL statements.
    Only that final write runs in a transaction, so a long file does not hold the database's
    write lock (SQLite) or the parent's row lock (PostgreSQL) while it is read.

    Limits (settings): a line or a row longer than MAX_CSV_LINE_BYTES, or a file larger than
    MAX_UPLOAD_BYTES, is an error naming the line, found without reading further; a field
    longer than csv's field limit (131,072 characters) is an error on its line. A file with a
    header and no rows in "replace" mode would delete every row: it needs `allow_empty`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    result = ImportResult()
    errors = _ErrorList(result)
    # The columns as stored now, not as the caller's copy may remember them.
    current = ParentSegment.objects.get(pk=parent_segment.pk)
    columns, key_column = current.columns, current.key_column
    with connection.cursor() as cursor, _staging_table(cursor):
        staged = _stage_rows(cursor, current, file, errors)
        _report_duplicate_keys(cursor, key_column, errors)
        _refuse_emptying(current, mode, staged, allow_empty, errors)
        if result.error_count:
            return result
        with transaction.atomic():
            parent = _locked_unchanged(parent_segment, columns, key_column, errors)
            if parent is None:
                return result
            # The rows become profiles again (segments/snapshots.py): kept for an upsert.
            snapshots.release(cursor, parent, keep_rows=mode == "upsert")
            parent.row_count = _write_staged_rows(cursor, parent, mode, staged)
            parent.save(update_fields=["row_count", "snapshot", "updated_at"])
        _analyze(cursor)
    snapshots.drop_unused()
    return _imported(result, staged, parent_segment, parent)


def import_copied(
    *, parent_segment: ParentSegment, blocks: Iterable[bytes], plan, mode: str = "replace"
) -> ImportResult:
    """Load the rows of a PostgreSQL source into the parent's rows, PostgreSQL to PostgreSQL:
    `blocks` are the source's `COPY … TO STDOUT` output of the parent's columns (text format),
    copied as they are into a table typed as `plan` says (segments/copying.py).

    A replace, or any refresh of a parent without rows, writes a new snapshot table
    (segments/snapshots.py) and swaps it in; an upsert into a snapshot written with the same
    plan copies the rows the same way and merges (_merge_snapshots). An upsert into profiles
    (a parent last loaded from a CSV or by the checked path, or whose source's types
    changed) stages the rows and builds each profile in SQL, as import_profiles stores them.

    The same guarantees as import_profiles: rows the CSV path would refuse (a null or empty
    key, a key too long, a value a column cannot hold; `plan.problems`) and duplicate keys are
    errors naming the row (numbered as lines of a CSV with a header), and then nothing
    changes; the write is atomic; a replace by no rows is refused.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    result = ImportResult()
    errors = _ErrorList(result)
    current = ParentSegment.objects.get(pk=parent_segment.pk)
    if mode == "replace" or not _has_rows(current) or snapshots.fits(current, plan):
        parent = _copy_snapshot(current, blocks, plan, mode, errors)
    else:
        parent = _upsert_copied(current, blocks, plan, errors)
    if result.error_count:
        result.rows_imported = 0  # nothing changed
        return result
    snapshots.drop_unused()
    return _imported(result, result.rows_imported, parent_segment, parent)


def _has_rows(parent: ParentSegment) -> bool:
    return snapshots.is_snapshot(parent) or Profile.objects.filter(parent_segment=parent).exists()


def _copy_snapshot(current, blocks, plan, mode: str, errors: _ErrorList) -> ParentSegment | None:
    """Copy the rows into a new snapshot table, check them, and make them the parent's rows,
    in one transaction: a failure (a bad row, the source failing mid-stream) leaves no table
    and the previous rows in place. An upsert into a snapshot of the same plan merges (see
    _merge_snapshots)."""
    result = errors.result
    table = snapshots.new_table_name(current)
    columns = ", ".join(f"c{index} {sql_type}" for index, sql_type in enumerate(plan.staged_types))
    with connection.cursor() as cursor, transaction.atomic():
        cursor.execute(f"CREATE TABLE {table} ({columns})")
        with cursor.cursor.copy(f"COPY {table} FROM STDIN") as copy:
            for block in blocks:
                copy.write(block)
        staged = result.rows_imported = cursor.cursor.rowcount
        _report_problems(cursor, plan, errors, table)
        if not result.error_count:
            _index_keys(cursor, plan, table, errors)
        _refuse_emptying(current, mode, staged, False, errors)
        parent = (
            None
            if result.error_count
            else _locked_unchanged(current, plan.columns, plan.key_column, errors)
        )
        if parent is not None and mode == "upsert":
            if snapshots.fits(parent, plan):
                table = _merge_snapshots(cursor, parent, plan, table, staged)
            elif _has_rows(parent):  # rows another refresh or an upload wrote meanwhile
                errors.add(0, "", "the parent segment's rows changed during the import")
                parent = None
        if parent is None:
            transaction.set_rollback(True)
            return None
        if parent.snapshot and table == parent.snapshot["table"]:
            parent.row_count = _count(cursor, table)
        else:
            snapshots.release(cursor, parent, keep_rows=False)
            cursor.execute(
                f"DELETE FROM {connection.ops.quote_name(Profile._meta.db_table)} "  # noqa: S608
                f"WHERE parent_segment_id = {int(parent.pk)}"
            )
            parent.snapshot = snapshots.description(plan, table)
            parent.row_count = _count(cursor, table) if mode == "upsert" else staged
        parent.save(update_fields=["row_count", "snapshot", "updated_at"])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
    return parent


def _merge_snapshots(cursor, parent: ParentSegment, plan, copied: str, staged: int) -> str:
    """Upsert the rows of the `copied` table into the parent's snapshot; return the table
    that holds the result. Few rows (an incremental refresh) are merged into the snapshot in
    place, rows whose text is unchanged not rewritten, and `copied` is dropped. Many rows
    are cheaper the other way round: the snapshot's rows the copy lacks are added to the
    copy, which becomes the snapshot (a full upsert then costs about what a replace does)."""
    current = parent.snapshot["table"]
    key = f"c{plan.key_index}"
    if staged <= parent.row_count * snapshots.MERGE_IN_PLACE_SHARE:
        names = [f"c{index}" for index in range(len(plan.columns))]
        cursor.execute(
            f"INSERT INTO {current} SELECT * FROM {copied} "  # noqa: S608
            f"ON CONFLICT ({key}) DO UPDATE SET "
            + ", ".join(f"{name} = excluded.{name}" for name in names)
            + f" WHERE {current}::text <> excluded::text"
        )
        cursor.execute(f"DROP TABLE {copied}")
        return current
    cursor.execute(
        f"INSERT INTO {copied} SELECT * FROM {current} "  # noqa: S608
        f"WHERE NOT EXISTS (SELECT FROM {copied} new WHERE new.{key} = {current}.{key})"
    )
    return copied


def _count(cursor, table: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
    return cursor.fetchone()[0]


def _index_keys(cursor, plan, table: str, errors: _ErrorList) -> None:
    """The snapshot's unique key index; duplicate keys, found by building it, are errors."""
    key = f"c{plan.key_index}"
    try:
        with transaction.atomic():
            cursor.execute(f"CREATE UNIQUE INDEX {table}_key ON {table} ({key})")
    except IntegrityError:
        _report_duplicate_keys(cursor, plan.key_column, errors, rows=_copied_keys(plan, table))


def _upsert_copied(current, blocks, plan, errors: _ErrorList) -> ParentSegment | None:
    """Stage the rows, check them, and merge them into the parent's profiles."""
    result = errors.result
    with connection.cursor() as cursor, _copy_table(cursor, plan):
        # Its own transaction: a source failing mid-stream aborts the COPY and nothing else.
        with transaction.atomic(), cursor.cursor.copy(f"COPY {COPY_TABLE} FROM STDIN") as copy:
            for block in blocks:
                copy.write(block)
        result.rows_imported = cursor.cursor.rowcount
        _report_problems(cursor, plan, errors, COPY_TABLE)
        if not result.error_count and _has_duplicate_keys(cursor, plan):
            _report_duplicate_keys(
                cursor, plan.key_column, errors, rows=_copied_keys(plan, COPY_TABLE)
            )
        if result.error_count:
            return None
        with transaction.atomic():
            parent = _locked_unchanged(current, plan.columns, plan.key_column, errors)
            if parent is None:
                return None
            # A snapshot written with another plan (other columns or source types) becomes
            # profiles first.
            snapshots.release(cursor, parent, keep_rows=True)
            # Floats as their shortest exact text, whatever the server's setting.
            cursor.execute("SET LOCAL extra_float_digits = 3")
            parent.row_count = _write_copied_rows(cursor, parent, plan)
            parent.save(update_fields=["row_count", "snapshot", "updated_at"])
        _analyze(cursor)
    return parent


def _refuse_emptying(current, mode: str, staged: int, allow_empty: bool, errors) -> None:
    if errors.result.error_count or mode != "replace" or staged or allow_empty:
        return
    errors.add(
        0,
        "",
        f"the file has a header but no rows: replacing would delete all "
        f"{current.row_count:,} rows of {current.name!r}. Confirm with allow_empty "
        "(the API's allow_empty=true, the upload form's checkbox) to empty it.",
    )


def _locked_unchanged(parent_segment, columns, key_column, errors) -> ParentSegment | None:
    """The parent locked for the write, or None (an error added) when its columns changed
    since the import began. The lock serialises imports into the same parent (SQLite's write
    transaction already excludes other writers)."""
    parent = ParentSegment.objects.select_for_update().get(pk=parent_segment.pk)
    if (parent.columns, parent.key_column) != (columns, key_column):
        errors.add(0, "", "the parent segment's columns changed during the import")
        return None
    return parent


def _analyze(cursor) -> None:
    if connection.vendor == "postgresql":
        # Fresh statistics for the new rows: with stale ones PostgreSQL believes the parent
        # has a few rows and sorts all of them for every window of audience.iter_rows
        # (a million-row parent streamed 50 times slower; see benchmarks/README.md).
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Profile._meta.db_table)}")


def _imported(result: ImportResult, staged: int, parent_segment, parent) -> ImportResult:
    result.rows_imported = staged
    parent_segment.row_count = parent.row_count
    parent_segment.updated_at = parent.updated_at
    return result


def parse_value(column_type: str, text: str):
    """The JSON value of one CSV cell of the given column type; raises ValueError with a reason.

    An empty cell is None. Strings are kept as written; other values may have spaces around
    them. Booleans are true/false, 1/0, yes/no in any case. Dates are "YYYY-MM-DD". Timestamps
    are ISO 8601, naive ones in UTC, stored in UTC as "YYYY-MM-DDTHH:MM:SSZ" (with six
    fractional digits when there is a fraction).
    """
    if text == "":
        return None
    try:
        parse = PARSERS[column_type]
    except KeyError:
        raise ValueError(f"unknown column type {column_type!r}") from None
    return parse(text)


def _parse_string(text: str) -> str:
    if "\x00" in text:
        # PostgreSQL cannot store NUL in text or JSON.
        raise ValueError("contains a NUL character")
    return text


def _parse_integer(text: str) -> int:
    value = text.strip()
    if not INTEGER_PATTERN.fullmatch(value):
        raise ValueError(f"{text!r} is not an integer")
    number = int(value)
    if not INTEGER_RANGE[0] <= number <= INTEGER_RANGE[1]:
        raise ValueError(f"{text!r} is out of range for an integer (64 bits)")
    return number


def _parse_number(text: str) -> int | float:
    value = text.strip()
    if not NUMBER_PATTERN.fullmatch(value):
        raise ValueError(f"{text!r} is not a number")
    # Integral literals stay integers so that "1000" is exported as 1000, not 1000.0.
    if "." not in value and "e" not in value and "E" not in value and len(value) <= 18:
        return int(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is out of range for a number")
    return number


def _parse_boolean(text: str) -> bool:
    try:
        return BOOLEANS[text.strip().lower()]
    except KeyError:
        raise ValueError(f"{text!r} is not a boolean (use true/false, 1/0 or yes/no)") from None


def _parse_date(text: str) -> str:
    value = text.strip()
    try:
        if not DATE_PATTERN.fullmatch(value):
            raise ValueError
        datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    return value


def _parse_timestamp(text: str) -> str:
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
        if moment.tzinfo is not None:
            moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise ValueError(
            f"{text!r} is not a timestamp (ISO 8601, e.g. 2024-05-01T09:30:00Z)"
        ) from None
    # isoformat, unlike strftime, always writes four-digit years, so values sort as text.
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds") + "Z"


PARSERS = {
    ColumnType.STRING: _parse_string,
    ColumnType.INTEGER: _parse_integer,
    ColumnType.NUMBER: _parse_number,
    ColumnType.BOOLEAN: _parse_boolean,
    ColumnType.DATE: _parse_date,
    ColumnType.TIMESTAMP: _parse_timestamp,
}


class _StopReading(Exception):
    """A limit was crossed (reported with its line): the rest of the file is not read."""


class _LimitedLines:
    """The file's raw lines, read at most MAX_CSV_LINE_BYTES at a time so that one huge line
    never sits in memory; a longer line or row, or more than MAX_UPLOAD_BYTES in all, is
    reported with its line and stops the reading. `record_bytes` counts the bytes of the row
    being read (a quoted value may span lines); the CSV reader resets it after each row."""

    def __init__(self, file, errors: _ErrorList) -> None:
        self.file = file
        self.errors = errors
        self.max_line = settings.MAX_CSV_LINE_BYTES
        # An upload is capped in size; a source's refresh (an iterable of lines we rendered
        # ourselves) is as large as the source's table.
        self.max_total = settings.MAX_UPLOAD_BYTES if hasattr(file, "readline") else None
        self.record_bytes = 0

    def _raw_lines(self) -> Iterator[bytes]:
        if not hasattr(self.file, "readline"):
            yield from self.file
            return
        while raw := self.file.readline(self.max_line + 2):
            yield raw

    def __iter__(self) -> Iterator[bytes]:
        total = 0
        for number, raw in enumerate(self._raw_lines(), start=1):
            total += len(raw)
            self.record_bytes += len(raw)
            if self.max_total is not None and total > self.max_total:
                self.stop(number, f"the file is larger than {self.max_total:,} bytes")
            if len(raw.rstrip(b"\r\n")) > self.max_line:
                self.stop(number, f"the line is longer than {self.max_line:,} bytes")
            if self.record_bytes > self.max_line + 2:
                self.stop(number, f"the row is longer than {self.max_line:,} bytes")
            yield raw

    def stop(self, line: int, message: str):
        self.errors.add(line, "", message + "; nothing after it was read")
        raise _StopReading()


def _decoded_lines(file, errors: _ErrorList) -> Iterator[str]:
    """The file's lines as text. Decoding line by line lets a bad byte be reported with its line."""
    for number, raw in enumerate(file, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            errors.add(
                number,
                "",
                f"not valid UTF-8 (byte {raw[error.start : error.start + 1]!r} at position "
                f"{error.start + 1}); save the file as UTF-8",
            )
            yield raw.decode("utf-8", errors="replace")


def _records(
    lines: Iterable[str], errors: _ErrorList, limited: _LimitedLines | None = None
) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, its cells), skipping blank lines; ends quietly when
    `limited` stopped the reading (the reason is already reported)."""
    reader = csv.reader(lines, strict=True)
    line = 1
    while True:
        try:
            cells = next(reader)
        except (StopIteration, _StopReading):
            return
        except csv.Error as error:
            errors.add(line, "", f"unreadable CSV: {error}")
            line = reader.line_num + 1
            continue
        finally:
            if limited is not None:
                limited.record_bytes = 0
        if cells:
            yield line, cells
        # A quoted value may span lines: the next record starts after the last line read.
        line = reader.line_num + 1


def _checked_chunks(parent: ParentSegment, file, errors: _ErrorList) -> Iterator[list[tuple]]:
    """Lists of (line, key, attributes as JSON text); attributes are None for a row with errors,
    which is still staged so that its key counts in the duplicate check."""
    limited = _LimitedLines(file, errors)
    records = _records(_decoded_lines(limited, errors), errors, limited)
    first = next(records, None)
    if first is None:
        if errors.result.error_count:
            return  # the header line itself crossed a limit
        errors.add(1, "", "the file is empty: expected a header row naming the columns")
        return
    header_line, header = first
    header = [name.strip() for name in header]
    if not _header_is_valid(parent, header, header_line, errors):
        return  # without a usable header no row can be checked
    types = parent.column_types()
    parsers = [(name, PARSERS[types[name]]) for name in header]
    absent = {name: None for name in parent.column_names if name not in header}
    key_column = parent.key_column
    width = len(header)
    encode = json.JSONEncoder(separators=(",", ":")).encode

    chunk: list[tuple] = []
    for line, cells in records:
        if len(cells) != width:
            errors.add(line, "", f"expected {width} values as in the header, found {len(cells)}")
            continue
        attributes = dict(absent)
        row_ok = True
        for (name, parse), text in zip(parsers, cells, strict=True):
            if text == "":
                attributes[name] = None
                continue
            try:
                attributes[name] = parse(text)
            except ValueError as error:
                errors.add(line, name, str(error))
                row_ok = False
        if key_column not in attributes:
            continue  # the key's bad value was reported above
        key_value = attributes[key_column]
        if key_value is None or (isinstance(key_value, str) and not key_value.strip()):
            errors.add(line, key_column, "the key is empty")
            continue
        key = _key_text(key_value)
        if len(key) > KEY_MAX_LENGTH:
            errors.add(line, key_column, f"the key is longer than {KEY_MAX_LENGTH} characters")
            continue
        chunk.append((line, key, encode(attributes) if row_ok else None))
        if len(chunk) >= CHUNK_SIZE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _header_is_valid(
    parent: ParentSegment, header: list[str], line: int, errors: _ErrorList
) -> bool:
    known = set(parent.column_names)
    before = errors.result.error_count
    seen = set()
    for name in header:
        if name not in known:
            errors.add(
                line,
                name,
                f"unknown column {name!r}; the columns of {parent.name!r} are "
                + ", ".join(parent.column_names),
            )
        elif name in seen:
            errors.add(line, name, f"column {name!r} appears twice in the header")
        seen.add(name)
    if parent.key_column not in seen:
        errors.add(line, parent.key_column, f"the key column {parent.key_column!r} is missing")
    return errors.result.error_count == before


def _key_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _staging_table(cursor):
    """A fresh temporary table for the rows of one file, dropped afterwards."""
    attributes_type = "jsonb" if connection.vendor == "postgresql" else "text"
    return _temporary_table(
        cursor,
        STAGING_TABLE,
        f"line integer NOT NULL, key varchar({KEY_MAX_LENGTH}) NOT NULL, "
        f"attributes {attributes_type}",
    )


@contextlib.contextmanager
def _temporary_table(cursor, name: str, columns: str):
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(f"CREATE TEMPORARY TABLE {name} ({columns})")
    try:
        yield
    except BaseException:
        # In a transaction the error aborted, the drop fails too; the original error matters.
        with contextlib.suppress(DatabaseError):
            cursor.execute(f"DROP TABLE {name}")
        raise
    cursor.execute(f"DROP TABLE {name}")


def _stage_rows(cursor, parent: ParentSegment, file, errors: _ErrorList) -> int:
    """Check every row and copy the good ones into the staging table; return their count."""
    staged = 0
    for chunk in _checked_chunks(parent, file, errors):
        if connection.vendor == "postgresql":
            # COPY is several times faster than INSERT through psycopg's client-side binding.
            with cursor.cursor.copy(
                f"COPY {STAGING_TABLE} (line, key, attributes) FROM STDIN"
            ) as copy:
                for row in chunk:
                    copy.write_row(row)
        else:
            # Several rows per statement: outside a transaction, each statement is one, and
            # a transaction per row is slow. 999 is SQLite's oldest limit on parameters.
            for start in range(0, len(chunk), SQLITE_ROWS_PER_INSERT):
                rows = chunk[start : start + SQLITE_ROWS_PER_INSERT]
                cursor.execute(
                    f"INSERT INTO {STAGING_TABLE} (line, key, attributes) VALUES "  # noqa: S608
                    + ", ".join(["(%s, %s, %s)"] * len(rows)),
                    [value for row in rows for value in row],
                )
        staged += sum(1 for _, _, attributes in chunk if attributes is not None)
    return staged


def _report_duplicate_keys(
    cursor, key_column: str, errors: _ErrorList, rows: str = STAGING_TABLE
) -> None:
    """Add an error for every row whose key appeared on an earlier line (`rows`: a table or
    subquery with the staged rows' line and key)."""
    duplicates = (
        f"SELECT staged.line, staged.key, first.line FROM {rows} staged "  # noqa: S608
        f"JOIN (SELECT key, MIN(line) AS line FROM {rows} first GROUP BY key "
        "HAVING COUNT(*) > 1) first ON staged.key = first.key AND staged.line > first.line"
    )
    cursor.execute(f"SELECT COUNT(*) FROM ({duplicates}) counted")  # noqa: S608
    (count,) = cursor.fetchone()
    if not count:
        return
    cursor.execute(f"{duplicates} ORDER BY staged.line LIMIT {MAX_REPORTED_ERRORS}")
    errors.merge(
        [
            RowError(line, key_column, f"duplicate key {key!r} (first on line {first_line})")
            for line, key, first_line in cursor.fetchall()
        ],
        count,
    )


def _write_staged_rows(cursor, parent: ParentSegment, mode: str, staged: int) -> int:
    """Move the staged rows into the parent's profiles; return the parent's new row count."""
    profile = connection.ops.quote_name(Profile._meta.db_table)
    insert = (
        f"INSERT INTO {profile} (parent_segment_id, key, attributes) "  # noqa: S608
        f"SELECT %s, key, attributes FROM {STAGING_TABLE} "
        # Always true here (a file with a bad row stops before); SQLite needs a WHERE before
        # an upsert's ON CONFLICT to parse it.
        "WHERE attributes IS NOT NULL"
    )
    if mode == "replace":
        cursor.execute(f"DELETE FROM {profile} WHERE parent_segment_id = %s", [parent.pk])  # noqa: S608
        cursor.execute(insert, [parent.pk])
        return staged
    cursor.execute(
        f"{insert} ON CONFLICT (parent_segment_id, key) "
        "DO UPDATE SET attributes = excluded.attributes",
        [parent.pk],
    )
    return Profile.objects.filter(parent_segment=parent).count()


# --- PostgreSQL to PostgreSQL (import_copied) --------------------------------------------------

# The source's rows as they came for an upsert: columns c0, c1, … typed as the plan says.
COPY_TABLE = "segments_copy_row"


def _copy_line(table: str) -> str:
    """A copied row's line: its row number after a header line, in the order COPY wrote
    them."""
    return f"row_number() OVER (ORDER BY {table}.ctid) + 1"


def _copy_table(cursor, plan):
    columns = ", ".join(f"c{index} {sql_type}" for index, sql_type in enumerate(plan.staged_types))
    return _temporary_table(cursor, COPY_TABLE, columns)


def _report_problems(cursor, plan, errors: _ErrorList, table: str) -> None:
    """Add an error for each copied row the CSV path would refuse (its first problem)."""
    if not plan.problems:
        return
    condition = copying.any_problem(plan)
    cursor.execute(f"SELECT count(*) FROM {table} WHERE {condition}")  # noqa: S608
    (count,) = cursor.fetchone()
    if not count:
        return
    cursor.execute(
        f"SELECT line, {copying.problem_columns(plan)}, {copying.problem_messages(plan)} "  # noqa: S608
        f"FROM (SELECT {_copy_line(table)} AS line, * FROM {table}) {table} "
        f"WHERE {condition} ORDER BY line LIMIT {MAX_REPORTED_ERRORS}"
    )
    errors.merge([RowError(*row) for row in cursor.fetchall()], count)


def _has_duplicate_keys(cursor, plan) -> bool:
    # Cheaper than the report's join, which runs only when this finds some.
    cursor.execute(f"SELECT count(*) > count(DISTINCT {plan.key}) FROM {COPY_TABLE}")  # noqa: S608
    return cursor.fetchone()[0]


def _copied_keys(plan, table: str) -> str:
    return f"(SELECT {_copy_line(table)} AS line, {plan.key} AS key FROM {table})"  # noqa: S608


def _write_copied_rows(cursor, parent: ParentSegment, plan) -> int:
    """Upsert the staged rows into the parent's profiles; return its new row count. A row
    whose stored attributes are already the same text is not rewritten (a daily refresh of
    a table that moved a little writes a little)."""
    profile = connection.ops.quote_name(Profile._meta.db_table)
    # No parameters: the plan's SQL may hold a % (column names are literals in it).
    cursor.execute(
        f"INSERT INTO {profile} (parent_segment_id, key, attributes) "  # noqa: S608
        f"SELECT {int(parent.pk)}, {plan.key}, {plan.attributes} FROM {COPY_TABLE} "
        "ON CONFLICT (parent_segment_id, key) "
        "DO UPDATE SET attributes = excluded.attributes "
        f"WHERE {profile}.attributes::text <> excluded.attributes::text"
    )
    return Profile.objects.filter(parent_segment=parent).count()
