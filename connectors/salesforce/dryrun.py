"""A write worked out without writing: which rows would insert, update, delete, or fail our
own checks, and the jobs and API calls it would take. Keys are looked up with query jobs
(read-only), exactly as the write looks them up; no ingest job is created."""

import math
from collections.abc import Iterable, Iterator, Sequence

from common.csvio import encode_row
from connectors.base import ExportParams, WritePlan

from .bulk import BulkApi
from .lookup import KeyLookup, lookup_queries, soql_literal

# REST calls per ingest job at least: create, upload, close, one poll, the successful and
# failed results; per query job: create, one poll, one page of results.
CALLS_PER_INGEST_JOB = 6
CALLS_PER_QUERY_JOB = 3


def chunked(
    rows: Iterable[Sequence[str]], *, batch_size: int, max_bytes: int
) -> Iterator[list[Sequence[str]]]:
    """Rows cut as writer.split_rows cuts them into jobs (by count and CSV bytes)."""
    chunk: list[Sequence[str]] = []
    size = 0
    for values in rows:
        length = len(encode_row(values))
        if chunk and (len(chunk) >= batch_size or size + length > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(values)
        size += length
    if chunk:
        yield chunk


class DryRun:
    def __init__(self, bulk: BulkApi, *, params: ExportParams, describe: dict, max_bytes: int):
        self.bulk = bulk
        self.params = params
        self.describe = describe
        self.max_bytes = max_bytes
        self.plan = WritePlan()

    def rows(
        self, columns: Sequence[str], rows: Iterable[Sequence[str]], *, into: str = ""
    ) -> None:
        """Classify rows the write would send; `into` counts the would-be successes there
        instead ("delete" for rows clearing records that left the segment)."""
        params = self.params
        key_index = list(columns).index(params.key) if params.key in columns else None
        for chunk in chunked(rows, batch_size=params.batch_size, max_bytes=self.max_bytes):
            self._ingest_job()
            if params.mode != "update":
                self._count(into or "insert", len(chunk))
                continue
            keys = [values[key_index] for values in chunk]
            if params.upsert:
                found = self._matches(keys)
                for key in keys:
                    if not key:
                        self._count("invalid")
                    else:
                        self._count(into or ("update" if found.get(key) else "insert"))
            elif params.key.lower() == "id":
                for key in keys:
                    self._count((into or "update") if key else "invalid")
            else:
                found = self._matches(keys)
                for key in keys:
                    self._count((into or "update") if found.get(key) == 1 else "invalid")

    def deletes(self, keys: Iterable[str]) -> None:
        """Records deleted by key (rows that left the segment)."""
        by_id = self.params.key.lower() == "id"
        for chunk in chunked(
            ([key] for key in keys), batch_size=self.params.batch_size, max_bytes=self.max_bytes
        ):
            self._ingest_job()
            keys = [values[0] for values in chunk]
            found = {} if by_id else self._matches(keys)
            for key in keys:
                ok = bool(key) and (by_id or found.get(key) == 1)
                self._count("delete" if ok else "invalid")

    def truncate(self) -> None:
        """The records truncate mode deletes before inserting."""
        records = sum(
            1
            for _ in self.bulk.query(
                f"SELECT Id FROM {self.params.object_name}",  # noqa: S608 (a checked name)
                on_job=self._query_job,
            )
        )
        self._count("delete", records)
        jobs = math.ceil(records / self.params.batch_size)
        self.plan.jobs += jobs
        self.plan.api_calls += jobs * CALLS_PER_INGEST_JOB

    def _matches(self, keys: list[str]) -> dict[str, int]:
        """How many records have each key (by the key field's matching rules)."""
        key_field = next(
            f for f in self.describe["fields"] if f["name"].lower() == self.params.key.lower()
        )
        lookup = KeyLookup(
            self.bulk,
            object_name=self.params.object_name,
            key_field=key_field,
            columns=[self.params.key],
            events=None,
        )
        literals = {}
        for key in keys:
            literal = soql_literal(key, numeric=lookup.numeric) if key else None
            if literal is not None:
                literals.setdefault(lookup.normalized(key), literal)
        counts: dict[str, int] = {}
        for soql in lookup_queries(self.params.object_name, lookup.key, literals.values()):
            for record in self.bulk.query(soql, on_job=self._query_job):
                normalized = lookup.normalized(record.get(lookup.key) or "")
                counts[normalized] = counts.get(normalized, 0) + 1
        return {key: counts.get(lookup.normalized(key), 0) for key in keys if key}

    def _ingest_job(self) -> None:
        self.plan.jobs += 1
        self.plan.api_calls += CALLS_PER_INGEST_JOB

    def _query_job(self, job_id: str) -> None:
        self.plan.jobs += 1
        self.plan.api_calls += CALLS_PER_QUERY_JOB

    def _count(self, what: str, number: int = 1) -> None:
        setattr(self.plan, what, getattr(self.plan, what) + number)
