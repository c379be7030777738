"""Writing rows to Salesforce: split them into Bulk API 2.0 jobs, run the jobs for the export
mode (append, update, upsert, truncate) in parallel or one at a time, and account for every row.
"""

import csv
import io
import logging
import queue
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO

from common.csvio import encode_row
from connectors.base import ConnectorError, ExportParams, FailedRow, ResultSink, WriteResult

from .auth import WORKER_THREAD_PREFIX
from .bulk import BulkApi, Cancelled
from .http import RetryPolicy

logger = logging.getLogger("connectors.salesforce")

# Salesforce takes at most 150 MB of base64-encoded data per job, i.e. about 100 MB raw.
# Module constants so that tests can make them small.
MAX_JOB_BYTES = 100_000_000
MAX_PARALLEL_JOBS = 3
# SOQL statements may not exceed 100,000 characters; stay clear of it.
MAX_SOQL_CHARS = 90_000
# Chunks larger than this are kept on disk while they wait for their job.
SPOOL_BYTES = 8 * 1024 * 1024
LOCK_ERROR_CODE = "UNABLE_TO_LOCK_ROW"
NUMERIC_TYPES = {"int", "long", "double", "currency", "percent"}


@dataclass
class Chunk:
    """The CSV of one job (header included), kept in a spooled file.

    `restore` turns a row as Salesforce echoes it in a result file (a dict by column name)
    back into the values of the run's output columns, so failed rows read like the input.
    """

    header: list[str]
    file: IO[bytes]
    row_count: int
    restore: Callable[[dict[str, str]], list[str]]

    def rows(self) -> Iterator[dict[str, str]]:
        self.file.seek(0)
        text = io.TextIOWrapper(self.file, encoding="utf-8", newline="")
        try:
            yield from csv.DictReader(text)
        finally:
            text.detach()

    def close(self) -> None:
        self.file.close()


class ChunkWriter:
    """Builds one Chunk row by row."""

    def __init__(self, header: Sequence[str], restore) -> None:
        self.header = list(header)
        self.restore = restore
        # Lives as long as its Chunk, which closes it.
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self.size = self.file.write(encode_row(self.header))
        self.row_count = 0

    def add(self, values: Sequence[str]) -> None:
        self.add_line(encode_row(values))

    def add_line(self, line: bytes) -> None:
        self.size += self.file.write(line)
        self.row_count += 1

    def would_exceed(self, line: bytes, max_bytes: int) -> bool:
        return self.row_count > 0 and self.size + len(line) > max_bytes

    def finish(self) -> Chunk:
        return Chunk(self.header, self.file, self.row_count, self.restore)


def by_name(columns: Sequence[str]) -> Callable[[dict[str, str]], list[str]]:
    columns = list(columns)
    return lambda row: [row.get(column) or "" for column in columns]


def split_rows(
    rows: Iterable[Sequence[str]],
    columns: Sequence[str],
    *,
    batch_size: int,
    max_bytes: int,
) -> Iterator[Chunk]:
    """Cut rows into chunks of at most `batch_size` rows and `max_bytes` bytes of CSV
    (header included); a single row larger than that still gets a chunk of its own.

    Rows are consumed lazily: only the chunk being built is read from `rows`.
    """
    restore = by_name(columns)
    writer: ChunkWriter | None = None
    for values in rows:
        line = encode_row(values)
        if writer and (writer.row_count >= batch_size or writer.would_exceed(line, max_bytes)):
            yield writer.finish()
            writer = None
        if writer is None:
            writer = ChunkWriter(columns, restore)
        writer.add_line(line)
    if writer is not None:
        yield writer.finish()


@dataclass(frozen=True)
class Plan:
    """What each job of a write does."""

    object_name: str
    operation: str  # insert | update | upsert | delete | hardDelete
    external_id_field: str = ""


@dataclass
class Outcome:
    """What happened to the rows of one chunk (over all the jobs it took)."""

    succeeded: int = 0
    failed: list[FailedRow] = field(default_factory=list)
    error: ConnectorError | None = None


class Events:
    """Passes job ids and log lines to the sink from the thread that owns it.

    Worker threads must not call the sink (it writes to the database in the runner's
    thread), so their events queue up until the main thread drains them.
    """

    def __init__(self, sink: ResultSink) -> None:
        self.sink = sink
        self.owner = threading.get_ident()
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.job_ids: list[str] = []

    def job_started(self, job_id: str) -> None:
        self._event(("job", job_id))

    def log(self, message: str) -> None:
        self._event(("log", message))

    def _event(self, event: tuple[str, str]) -> None:
        if threading.get_ident() == self.owner:
            self._deliver(event)
        else:
            self.queue.put(event)

    def drain(self) -> None:
        while True:
            try:
                event = self.queue.get_nowait()
            except queue.Empty:
                return
            self._deliver(event)

    def _deliver(self, event: tuple[str, str]) -> None:
        kind, value = event
        if kind == "job":
            self.job_ids.append(value)
            self.sink.job_started(value)
        else:
            self.sink.log(value)


class JobRunner:
    """Runs one chunk through as many jobs as it takes: a new job when an upload fails
    transiently, and new jobs for rows that failed with UNABLE_TO_LOCK_ROW, up to the
    retry limit. Never raises ConnectorError: trouble ends in Outcome.error, with the
    chunk's unsettled rows failed."""

    def __init__(
        self,
        bulk: BulkApi,
        plan: Plan,
        *,
        retry: RetryPolicy,
        events: Events,
        prepare: Callable[[Chunk], tuple[Chunk, list[FailedRow]]] | None = None,
    ) -> None:
        self.bulk = bulk
        self.plan = plan
        self.retry = retry
        self.events = events
        self.prepare = prepare

    def run(self, chunk: Chunk) -> Outcome:
        outcome = Outcome()
        pending = chunk
        try:
            if self.prepare:
                pending, early_failures = self.prepare(chunk)
                outcome.failed.extend(early_failures)
            lock_retries = 0
            while pending.row_count:
                job = self._run_job(pending)
                try:
                    succeeded, failed, locked = self._collect(pending, job)
                except ConnectorError as exc:
                    raise _JobTrouble(
                        exc,
                        f"Outcome unknown (the results of job {job['id']} could not be read): "
                        f"{exc.message}",
                    ) from None
                outcome.succeeded += succeeded
                if not locked or lock_retries >= self.retry.limit:
                    outcome.failed.extend(failed)
                    break
                locked_ids = {id(row) for row, _ in locked}
                outcome.failed.extend(row for row in failed if id(row) not in locked_ids)
                self.events.log(
                    f"Retrying {len(locked)} rows that failed with {LOCK_ERROR_CODE} "
                    f"(retry {lock_retries + 1} of {self.retry.limit})"
                )
                retry_chunk = self._chunk_of_echoes(pending, [echo for _, echo in locked])
                if pending is not chunk:
                    pending.close()
                pending = retry_chunk
                self.bulk.sleep(self.retry.delay(lock_retries))
                lock_retries += 1
        except _JobTrouble as trouble:
            outcome.error = trouble.error
            outcome.failed.extend(
                FailedRow(pending.restore(row), trouble.reason) for row in pending.rows()
            )
        except ConnectorError as exc:
            # Trouble before the chunk's first job (the key lookup failed).
            outcome.error = exc
            outcome.failed.extend(
                FailedRow(pending.restore(row), f"Not sent: {exc.message}")
                for row in pending.rows()
            )
        except Cancelled:
            outcome.error = ConnectorError("The run was cancelled.")
            outcome.failed.extend(
                FailedRow(pending.restore(row), "Not sent: the run was cancelled")
                for row in pending.rows()
            )
        finally:
            if pending is not chunk:
                pending.close()
        return outcome

    def _run_job(self, chunk: Chunk) -> dict:
        """Create, upload, close and wait for one job; returns its final JobInfo.

        Whatever goes wrong once the job exists, the job is aborted, so that Salesforce
        does not go on with rows we are about to report as failed.
        """
        bulk = self.bulk
        for attempt in range(self.retry.limit + 1):
            try:
                job = bulk.create_ingest_job(
                    object_name=self.plan.object_name,
                    operation=self.plan.operation,
                    external_id_field=self.plan.external_id_field,
                )
            except ConnectorError as exc:
                raise _JobTrouble(exc, f"Not sent: {exc.message}") from None
            job_id = job["id"]
            try:
                self.events.job_started(job_id)
                try:
                    bulk.upload(job, chunk.file)
                except ConnectorError as exc:
                    if exc.retryable and attempt < self.retry.limit:
                        bulk.abort_job(job_id)
                        self.events.log(f"Upload to job {job_id} failed ({exc.message}); new job")
                        bulk.sleep(self.retry.delay(attempt))
                        continue
                    raise _JobTrouble(exc, f"Not sent: {exc.message}") from None
                bulk.close_job(job_id)
                return bulk.wait_for_job(job_id)
            except ConnectorError as exc:
                bulk.abort_job(job_id)
                raise _JobTrouble(
                    exc, f"Outcome unknown (job {job_id} was aborted): {exc.message}"
                ) from None
            except Cancelled:  # wait_for_job aborted the job
                raise _JobTrouble(
                    ConnectorError("The run was cancelled."),
                    f"Cancelled (job {job_id} was aborted)",
                ) from None
            except _JobTrouble:
                bulk.abort_job(job_id)
                raise
            except BaseException:
                # The caller is going away (a cancel raised by the sink, an interrupt).
                bulk.abort_job(job_id)
                raise
        raise AssertionError("unreachable")

    def _collect(
        self, chunk: Chunk, job: dict
    ) -> tuple[int, list[FailedRow], list[tuple[FailedRow, dict[str, str]]]]:
        """Read a finished job's results: (succeeded, failed rows, lock-failed rows with
        their echoes). Rows Salesforce gives no outcome for are failed too."""
        job_id = job["id"]
        state = job.get("state")
        complete = state == "JobComplete"
        succeeded = self._count(job_id, "successfulResults", required=complete)
        failed: list[FailedRow] = []
        locked: list[tuple[FailedRow, dict[str, str]]] = []
        for echo in self._results(job_id, "failedResults", required=complete):
            row = FailedRow(chunk.restore(echo), echo.get("sf__Error") or "Failed")
            failed.append(row)
            if row.error.startswith(LOCK_ERROR_CODE):
                locked.append((row, echo))
        reason = (
            f"Not processed by Salesforce: {job.get('errorMessage') or f'the job ended {state}'}"
        )
        if not complete:
            processed = succeeded + len(failed)
            unprocessed = [
                FailedRow(chunk.restore(echo), reason)
                for echo in self._results(job_id, "unprocessedrecords", required=False)
            ]
            if processed == 0 and len(unprocessed) != chunk.row_count:
                # Nothing was processed: every row of the chunk failed for the job's reason.
                unprocessed = [FailedRow(chunk.restore(row), reason) for row in chunk.rows()]
            failed.extend(unprocessed)
            self.events.log(f"Job {job_id} ended {state}: {job.get('errorMessage') or ''}")
        missing = chunk.row_count - succeeded - len(failed)
        if missing > 0:
            logger.warning("Job %s gave no outcome for %s rows", job_id, missing)
            failed.extend(
                FailedRow([], f"Salesforce reported no outcome for this row (job {job_id})")
                for _ in range(missing)
            )
        elif missing < 0:
            logger.warning("Job %s reported %s more outcomes than rows", job_id, -missing)
        return succeeded, failed, locked

    def _results(self, job_id: str, which: str, *, required: bool) -> Iterator[dict[str, str]]:
        try:
            yield from self.bulk.ingest_results(job_id, which)
        except ConnectorError:
            if required:
                raise
            logger.info("No %s for job %s", which, job_id)

    def _count(self, job_id: str, which: str, *, required: bool) -> int:
        return sum(1 for _ in self._results(job_id, which, required=required))

    def _chunk_of_echoes(self, chunk: Chunk, echoes: list[dict[str, str]]) -> Chunk:
        writer = ChunkWriter(chunk.header, chunk.restore)
        for echo in echoes:
            writer.add([echo.get(column) or "" for column in chunk.header])
        return writer.finish()


class _JobTrouble(Exception):
    def __init__(self, error: ConnectorError, reason: str) -> None:
        self.error = error
        self.reason = reason


def run_chunks(
    chunks: Iterator[Chunk],
    runner: JobRunner,
    *,
    parallel: bool,
    events: Events,
    on_outcome: Callable[[Outcome], None],
) -> ConnectorError | None:
    """Run every chunk, reporting each outcome from this thread; stop taking new chunks
    after the first error and return it (rows already taken are still accounted for)."""
    first_error: ConnectorError | None = None

    def settle(outcome: Outcome) -> None:
        nonlocal first_error
        events.drain()
        on_outcome(outcome)
        if outcome.error and first_error is None:
            first_error = outcome.error

    if not parallel:
        for chunk in chunks:
            try:
                settle(runner.run(chunk))
            finally:
                chunk.close()
            if first_error:
                break
        return first_error

    in_flight: dict[Future, Chunk] = {}

    def collect(timeout: float | None) -> None:
        done, _ = wait(list(in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
        events.drain()
        for future in done:
            chunk = in_flight.pop(future)
            try:
                settle(future.result())
            finally:
                chunk.close()

    with ThreadPoolExecutor(
        max_workers=MAX_PARALLEL_JOBS, thread_name_prefix=WORKER_THREAD_PREFIX
    ) as pool:
        try:
            for chunk in chunks:
                while len(in_flight) >= MAX_PARALLEL_JOBS and not first_error:
                    collect(0.2)
                if first_error:
                    on_outcome(
                        Outcome(
                            failed=[
                                FailedRow(chunk.restore(row), f"Not sent: {first_error.message}")
                                for row in chunk.rows()
                            ]
                        )
                    )
                    chunk.close()
                    break
                in_flight[pool.submit(runner.run, chunk)] = chunk
            while in_flight:
                collect(0.2)
        except BaseException:
            # Our caller is going away (an error in the sink, a cancel): stop the jobs.
            runner.bulk.cancelled.set()
            raise
    return first_error


# Update by a key other than Id: Bulk API 2.0 updates only by Id, so look the keys up first.


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
    each under MAX_SOQL_CHARS."""
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


class KeyLookup:
    """Rewrites a chunk keyed by `key` into one keyed by Id, failing rows whose key matches
    no record or several."""

    def __init__(
        self, bulk: BulkApi, *, object_name: str, key_field: dict, columns: Sequence[str], events
    ) -> None:
        self.bulk = bulk
        self.object_name = object_name
        self.key = key_field["name"]
        self.numeric = key_field.get("type") in NUMERIC_TYPES
        self.case_sensitive = bool(key_field.get("caseSensitive"))
        self.columns = list(columns)
        self.sent_columns = ["Id"] + [column for column in columns if column != self.key]
        self.events = events

    def normalized(self, value: str) -> str:
        if self.numeric:
            try:
                return str(Decimal(value).normalize())
            except InvalidOperation:
                return value
        return value if self.case_sensitive else value.casefold()

    def __call__(self, chunk: Chunk) -> tuple[Chunk, list[FailedRow]]:
        literals: dict[str, str] = {}
        for row in chunk.rows():
            value = row.get(self.key) or ""
            literal = soql_literal(value, numeric=self.numeric) if value else None
            if literal is not None:
                literals.setdefault(self.normalized(value), literal)
        matches: dict[str, list[str]] = {}
        for soql in lookup_queries(self.object_name, self.key, literals.values()):
            for record in self.bulk.query(soql, on_job=self.events.job_started):
                ids = matches.setdefault(self.normalized(record.get(self.key) or ""), [])
                ids.append(record.get("Id") or "")

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
            ids = matches.get(self.normalized(value), []) if value else []
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


def plan_for(params: ExportParams) -> Plan:
    """The ingest operation of a mode: append and truncate insert; update upserts on the key
    (with upsert) or updates by Id (the key itself, or Ids looked up by the key)."""
    if params.mode in ("append", "truncate"):
        return Plan(params.object_name, "insert")
    if params.upsert:
        return Plan(params.object_name, "upsert", params.key)
    return Plan(params.object_name, "update")


def write(
    bulk: BulkApi,
    *,
    params: ExportParams,
    describe: dict,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    sink: ResultSink,
) -> WriteResult:
    """Write rows for the export mode; every row read ends succeeded or failed via `sink`.

    Parallel mode keeps up to MAX_PARALLEL_JOBS jobs in flight (rows are still read in
    order, by this thread); serial mode runs one job at a time. Both retry rows that failed
    with UNABLE_TO_LOCK_ROW in new jobs, up to the retry limit; serial mode is the cure when
    the locks come from our own parallel jobs touching the same parent records.

    The returned job ids include the query and delete jobs (lookups, truncate) besides the
    ingest jobs, in the order they were created. Raises ConnectorError after accounting for
    every row already read when Salesforce could not be worked with; no further rows are
    read then. Truncate empties the object before reading any row and raises (inserting
    nothing) if any record could not be deleted.
    """
    events = Events(sink)
    result = WriteResult()
    parallel = params.concurrency_mode != "serial"
    if params.mode == "truncate":
        empty_object(bulk, params=params, events=events, parallel=parallel)

    def counted(rows: Iterable[Sequence[str]]) -> Iterator[Sequence[str]]:
        for row in rows:
            result.rows_sent += 1
            yield row

    def on_outcome(outcome: Outcome) -> None:
        if outcome.succeeded:
            result.rows_succeeded += outcome.succeeded
            sink.rows_succeeded(outcome.succeeded)
        if outcome.failed:
            result.rows_failed += len(outcome.failed)
            sink.rows_failed(outcome.failed)

    plan = plan_for(params)
    prepare = None
    if params.mode == "update" and not params.upsert and params.key != "Id":
        key_field = next(f for f in describe["fields"] if f["name"] == params.key)
        prepare = KeyLookup(
            bulk,
            object_name=params.object_name,
            key_field=key_field,
            columns=columns,
            events=events,
        )
    runner = JobRunner(bulk, plan, retry=bulk.retry, events=events, prepare=prepare)
    chunks = split_rows(
        counted(rows), columns, batch_size=params.batch_size, max_bytes=MAX_JOB_BYTES
    )
    error = run_chunks(chunks, runner, parallel=parallel, events=events, on_outcome=on_outcome)
    events.drain()
    result.job_ids = list(events.job_ids)
    if error:
        raise error
    return result


def empty_object(bulk: BulkApi, *, params: ExportParams, events: Events, parallel: bool) -> int:
    """Delete every record of the object (hardDelete with params.hard_delete); return how
    many. Raises ConnectorError if any record could not be deleted."""
    operation = "hardDelete" if params.hard_delete else "delete"
    ids = (
        [record.get("Id") or ""]
        for record in bulk.query(
            f"SELECT Id FROM {params.object_name}",  # noqa: S608 (a checked object name)
            on_job=events.job_started,
        )
    )
    chunks = split_rows(ids, ["Id"], batch_size=params.batch_size, max_bytes=MAX_JOB_BYTES)
    runner = JobRunner(bulk, Plan(params.object_name, operation), retry=bulk.retry, events=events)
    deleted = 0
    failures: list[FailedRow] = []

    def on_outcome(outcome: Outcome) -> None:
        nonlocal deleted
        deleted += outcome.succeeded
        failures.extend(outcome.failed)

    error = run_chunks(chunks, runner, parallel=parallel, events=events, on_outcome=on_outcome)
    events.drain()
    if error or failures:
        first = error.message if error else failures[0].error
        raise ConnectorError(
            f"Could not empty {params.object_name} before inserting: {len(failures)} of "
            f"{deleted + len(failures)} records were not deleted (first error: {first}). "
            "No rows were inserted.",
            retryable=bool(error and error.retryable)
            or any(row.error.startswith(LOCK_ERROR_CODE) for row in failures),
        )
    events.log(
        f"{'Hard-deleted' if params.hard_delete else 'Deleted'} {deleted} "
        f"{params.object_name} records before inserting"
    )
    return deleted
