"""Writing rows to Salesforce: split them into Bulk API 2.0 jobs, run the jobs for the export
mode (append, update, upsert, truncate) in parallel or one at a time, and account for every row.
"""

import logging
import math
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from connectors.base import (
    ConnectorError,
    EncodedRows,
    ExportParams,
    FailedRow,
    ResultSink,
    WriteResult,
)

from . import results
from .auth import WORKER_THREAD_PREFIX
from .bulk import TERMINAL_STATES, BulkApi, Cancelled
from .chunks import Chunk, ChunkWriter, split_lines, split_rows
from .describe import looks_up_keys
from .http import RetryPolicy
from .lookup import KeyLookup
from .results import LOCK_ERROR_CODE
from .strict import without_duplicate_keys

logger = logging.getLogger("connectors.salesforce")

# Salesforce takes at most 150 MB of base64-encoded data per job, i.e. about 100 MB raw
# ("Upload Job Data"). Module constants so that tests can make them small.
MAX_JOB_BYTES = 100_000_000
MAX_PARALLEL_JOBS = 3


@dataclass(frozen=True)
class Plan:
    """What each job of a write does."""

    object_name: str
    operation: str  # insert | update | upsert | delete | hardDelete
    external_id_field: str = ""

    @property
    def key_column(self) -> str:
        """The column naming each row's record; no two rows of one job may share it."""
        if self.operation == "upsert":
            return self.external_id_field
        return "" if self.operation == "insert" else "Id"


@dataclass
class Outcome:
    """What happened to the rows of one chunk (over all the jobs it took)."""

    succeeded: int = 0
    failed: list[FailedRow] = field(default_factory=list)
    error: ConnectorError | None = None
    # The values of the succeeded rows, as the sink's optional rows_accepted takes them.
    accepted: list[list[str]] = field(default_factory=list)


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
        key_case_sensitive: bool = False,
    ) -> None:
        self.bulk = bulk
        self.plan = plan
        self.retry = retry
        self.events = events
        self.prepare = prepare
        self.key_case_sensitive = key_case_sensitive

    def run(self, chunk: Chunk) -> Outcome:
        outcome = Outcome()
        pending = chunk
        try:
            if self.prepare:
                pending, early_failures = self.prepare(chunk)
                outcome.failed.extend(early_failures)
            unique, duplicates = without_duplicate_keys(
                pending, self.plan.key_column, case_sensitive=self.key_case_sensitive
            )
            if unique is not pending and pending is not chunk:
                pending.close()
            pending = unique
            outcome.failed.extend(duplicates)
            lock_retries = 0
            while pending.row_count:
                job = self._run_job(pending)
                try:
                    finished = results.collect(self.bulk, pending, job, log=self.events.log)
                except ConnectorError as exc:
                    raise _JobTrouble(
                        exc,
                        f"Outcome unknown (the results of job {job['id']} could not be read): "
                        f"{exc.message}",
                    ) from None
                outcome.succeeded += finished.succeeded
                outcome.accepted.extend(finished.accepted)
                locked = finished.locked
                if not locked or lock_retries >= self.retry.limit:
                    outcome.failed.extend(finished.failed)
                    break
                locked_ids = {id(row) for row, _ in locked}
                outcome.failed.extend(row for row in finished.failed if id(row) not in locked_ids)
                self.events.log(
                    f"Retrying {len(locked)} rows that failed with {LOCK_ERROR_CODE} "
                    f"(retry {lock_retries + 1} of {self.retry.limit})"
                )
                retry_chunk = originals_of(pending, [echo for _, echo in locked])
                if pending is not chunk:
                    pending.close()
                pending = retry_chunk
                self.bulk.sleep(self.retry.delay(lock_retries))
                lock_retries += 1
        except _JobTrouble as trouble:
            outcome.error = trouble.error
            outcome.failed.extend(all_failed(pending, trouble.reason))
        except ConnectorError as exc:
            # Trouble before the chunk's first job (the key lookup failed).
            outcome.error = exc
            outcome.failed.extend(all_failed(pending, f"Not sent: {exc.message}"))
        except Cancelled:
            outcome.error = ConnectorError("The run was cancelled.")
            outcome.failed.extend(all_failed(pending, "Not sent: the run was cancelled"))
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
                job = self._reread(job_id)
                if job is not None:
                    return job
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

    def _reread(self, job_id: str) -> dict | None:
        """After closing or polling a job failed: its final JobInfo when Salesforce can say
        (finished, waited for once more, or stopped by our abort), so that its result files
        tell each row's outcome; None when it still cannot be read (outcome unknown)."""
        bulk = self.bulk
        bulk.sleep(self.retry.delay(0))
        try:
            job = bulk.job_info(job_id)
            if job.get("state") == "Open":  # never closed: Salesforce will not start it
                bulk.abort_job(job_id)
                job = bulk.job_info(job_id)
            elif job.get("state") not in TERMINAL_STATES:
                job = bulk.wait_for_job(job_id)
        except ConnectorError:
            bulk.abort_job(job_id)
            try:
                job = bulk.job_info(job_id)
            except ConnectorError:
                return None
        if job.get("state") not in TERMINAL_STATES:
            return None
        self.events.log(f"Job {job_id} was read again after an error: {job['state']}")
        return job


def originals_of(chunk: Chunk, echoes: list[dict[str, str]]) -> Chunk:
    """A chunk of the rows of `chunk` that Salesforce echoed, with the cells as we sent them:
    an echo carries converted values (a currency 912260031 comes back as 9.12260031E8), so
    sending it back would change what the row says. Each echo is matched to one row by its
    values compared loosely (numbers as numbers); an echo that matches none is sent as is."""
    wanted = Counter(loose_key(echo, chunk.header) for echo in echoes)
    writer = ChunkWriter(chunk.header, chunk.restore)
    matched = 0
    for row in chunk.rows():
        key = loose_key(row, chunk.header)
        if wanted[key]:
            wanted[key] -= 1
            matched += 1
            writer.add([row.get(column) or "" for column in chunk.header])
    if matched < len(echoes):
        left = Counter(wanted)
        for echo in echoes:
            key = loose_key(echo, chunk.header)
            if left[key]:
                left[key] -= 1
                writer.add([echo.get(column) or "" for column in chunk.header])
    return writer.finish()


def loose_key(row: dict[str, str], header: list[str]) -> tuple:
    """A row's values, with numbers compared as numbers (as Salesforce echoes them)."""
    return tuple(_loose_cell(row.get(column) or "") for column in header)


def _loose_cell(text: str):
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def all_failed(chunk: Chunk, reason: str) -> list[FailedRow]:
    """Every row of the chunk, failed with the same reason."""
    return [FailedRow(chunk.restore(row), reason) for row in chunk.rows()]


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
                        Outcome(failed=all_failed(chunk, f"Not sent: {first_error.message}"))
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
    rows: Iterable[Sequence[str]] | EncodedRows,
    sink: ResultSink,
) -> WriteResult:
    """Write rows (lists of cells, or EncodedRows: CSV lines) for the export mode; every row read ends succeeded or failed via `sink`.

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

    plan = plan_for(params)
    prepare = None
    if looks_up_keys(params):
        prepare = _key_lookup(bulk, params, describe, columns, events)
    key_field = next((f for f in describe["fields"] if f["name"] == plan.external_id_field), {})
    runner = JobRunner(
        bulk,
        plan,
        retry=bulk.retry,
        events=events,
        prepare=prepare,
        key_case_sensitive=bool(key_field.get("caseSensitive")),
    )
    # Rows already encoded (EncodedRows) go into the chunks as they are.
    split = split_lines if isinstance(rows, EncodedRows) else split_rows
    chunks = split(counted(rows), columns, batch_size=params.batch_size, max_bytes=MAX_JOB_BYTES)
    on_outcome = _reporter(sink, result)
    try:
        error = run_chunks(chunks, runner, parallel=parallel, events=events, on_outcome=on_outcome)
    finally:
        if prepare is not None:
            prepare.close()
    events.drain()
    result.job_ids = list(events.job_ids)
    if error:
        raise error
    return result


def _key_lookup(bulk, params: ExportParams, describe: dict, columns, events) -> KeyLookup:
    key_field = next(f for f in describe["fields"] if f["name"].lower() == params.key.lower())
    return KeyLookup(
        bulk, object_name=params.object_name, key_field=key_field, columns=columns, events=events
    )


def _reporter(sink: ResultSink, result: WriteResult) -> Callable[[Outcome], None]:
    """Tells the sink each chunk's outcome: the succeeded rows' values to a sink that takes
    them (`rows_accepted`, optional), else their count."""
    accept = getattr(sink, "rows_accepted", None)

    def on_outcome(outcome: Outcome) -> None:
        if outcome.succeeded:
            result.rows_succeeded += outcome.succeeded
            if accept is not None:
                accept(outcome.accepted)
            else:
                sink.rows_succeeded(outcome.succeeded)
        if outcome.failed:
            result.rows_failed += len(outcome.failed)
            sink.rows_failed(outcome.failed)

    return on_outcome


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
