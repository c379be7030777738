"""Update by a key other than Id: Bulk API 2.0 updates only by Id, so the keys are looked
up first (one query job per run), and rows whose key matches no record (or several) fail."""

import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from connectors.base import FailedRow

from .bulk import BulkApi
from .chunks import Chunk, ChunkWriter

# SOQL statements may not exceed 100,000 characters; stay clear of it.
MAX_SOQL_CHARS = 90_000
NUMERIC_TYPES = {"int", "long", "double", "currency", "percent"}


def soql_literal(value: str, *, numeric: bool) -> str | None:
    """A SOQL literal for a key value, or None if the value cannot be one."""
    if numeric:
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
        return format(number, "f") if number.is_finite() else None
    escaped = (
        value.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
        .replace("\b", "\\b")
        .replace("\f", "\\f")
    )
    return f"'{escaped}'"


def lookup_queries(object_name: str, key: str, literals: Iterable[str]) -> Iterator[str]:
    """SOQL queries `SELECT Id, key FROM object WHERE key IN (...)` covering all literals,
    each under MAX_SOQL_CHARS (the dry run counts keys this way)."""
    # The names were checked against the describe; values are quoted by soql_literal.
    prefix = f"SELECT Id, {key} FROM {object_name} WHERE {key} IN ("  # noqa: S608
    batch: list[str] = []
    length = len(prefix) + 1
    for literal in literals:
        if batch and length + len(literal) + 2 > MAX_SOQL_CHARS:
            yield prefix + ", ".join(batch) + ")"
            batch, length = [], len(prefix) + 1
        batch.append(literal)
        length += len(literal) + 2
    if batch:
        yield prefix + ", ".join(batch) + ")"


def lookup_soql(object_name: str, key: str) -> str:
    """The one query of a run's key lookups: every record's Id and key."""
    return f"SELECT Id, {key} FROM {object_name}"  # noqa: S608 (names checked by the describe)


class KeyIndex:
    """Every record's key and Id, read with ONE query job per run and kept in an SQLite
    file on disk: a million keys cost one of the org's daily query jobs (not one per chunk)
    and no memory to speak of. With `job_id` (a recorded run's query job, see lookup_soql)
    the rows of that job are read instead of running another."""

    def __init__(
        self, bulk: BulkApi, *, object_name: str, key: str, normalized, events, job_id: str = ""
    ) -> None:
        self.bulk = bulk
        self.soql = lookup_soql(object_name, key)
        self.job_id = job_id
        self.key = key
        self.normalized = normalized
        self.events = events
        self.lock = threading.Lock()
        self.directory: tempfile.TemporaryDirectory | None = None
        self.database: sqlite3.Connection | None = None

    def ids(self, value: str) -> list[str]:
        """The Ids of the records whose key is `value` (normalized)."""
        with self.lock:
            if self.database is None:
                self._load()
            rows = self.database.execute(
                "SELECT id FROM keys WHERE key = ?", (self.normalized(value),)
            )
            return [record_id for (record_id,) in rows]

    def _load(self) -> None:
        self.directory = tempfile.TemporaryDirectory(prefix="key-lookup-")
        path = Path(self.directory.name) / "keys.sqlite3"
        database = sqlite3.connect(path, check_same_thread=False)
        database.execute("CREATE TABLE keys (key TEXT, id TEXT)")
        if self.job_id:
            records = self.bulk.query_results(self.job_id)
        else:
            records = self.bulk.query(self.soql, on_job=self.events.job_started)
        batch: list[tuple[str, str]] = []
        for record in records:
            value = record.get(self.key) or ""
            if value:
                batch.append((self.normalized(value), record.get("Id") or ""))
            if len(batch) >= 10_000:
                database.executemany("INSERT INTO keys VALUES (?, ?)", batch)
                batch = []
        database.executemany("INSERT INTO keys VALUES (?, ?)", batch)
        database.execute("CREATE INDEX keys_by_key ON keys (key)")
        database.commit()
        self.database = database

    def close(self) -> None:
        if self.database is not None:
            self.database.close()
        if self.directory is not None:
            self.directory.cleanup()


class KeyLookup:
    """Rewrites a chunk keyed by `key` into one keyed by Id, failing rows whose key matches
    no record or several."""

    def __init__(
        self,
        bulk: BulkApi,
        *,
        object_name: str,
        key_field: dict,
        columns: Sequence[str],
        events,
        job_id: str = "",
    ) -> None:
        self.bulk = bulk
        self.object_name = object_name
        self.key = key_field["name"]
        self.numeric = key_field.get("type") in NUMERIC_TYPES
        self.case_sensitive = bool(key_field.get("caseSensitive"))
        self.columns = list(columns)
        self.sent_columns = ["Id"] + [column for column in columns if column != self.key]
        self.events = events
        self.index = KeyIndex(
            bulk,
            object_name=object_name,
            key=self.key,
            normalized=self.normalized,
            events=events,
            job_id=job_id,
        )

    def close(self) -> None:
        self.index.close()

    def normalized(self, value: str) -> str:
        if self.numeric:
            try:
                return str(Decimal(value).normalize())
            except InvalidOperation:
                return value
        return value if self.case_sensitive else value.casefold()

    def __call__(self, chunk: Chunk) -> tuple[Chunk, list[FailedRow]]:
        key_of_id: dict[str, str] = {}

        def restore(echo: dict[str, str]) -> list[str]:
            record_id = echo.get("Id") or echo.get("sf__Id") or ""
            return [
                key_of_id.get(record_id, "") if column == self.key else (echo.get(column) or "")
                for column in self.columns
            ]

        writer = ChunkWriter(self.sent_columns, restore)
        failures: list[FailedRow] = []
        for row in chunk.rows():
            value = row.get(self.key) or ""
            original = [row.get(column) or "" for column in self.columns]
            valid = bool(value) and soql_literal(value, numeric=self.numeric) is not None
            ids = self.index.ids(value) if valid else []
            if not value:
                failures.append(FailedRow(original, f"The key {self.key} is empty"))
            elif self.numeric and soql_literal(value, numeric=True) is None:
                failures.append(FailedRow(original, f"The key {self.key} is not a number: {value}"))
            elif not ids:
                failures.append(
                    FailedRow(original, f"No {self.object_name} has {self.key} = '{value}'")
                )
            elif len(ids) > 1:
                failures.append(
                    FailedRow(
                        original,
                        f"{len(ids)} {self.object_name} records have {self.key} = '{value}'; "
                        "update by key needs exactly one",
                    )
                )
            else:
                key_of_id.setdefault(ids[0], value)
                writer.add(
                    [
                        ids[0] if column == "Id" else row.get(column) or ""
                        for column in self.sent_columns
                    ]
                )
        return writer.finish(), failures
