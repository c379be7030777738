"""Resumable runs: a run as recorded steps, so that a run whose worker died is resumed by
another worker, sending no row twice and losing none.

1. Snapshot: the segment's rows as CSV lines from one SELECT (activations/streaming.py),
   stored once as RunChunk rows (one per job, see `store_chunk`), so a
   resumed run sends the same rows in the same chunks whatever changed in the segment since.
   An incremental run or a retry stores only the rows it picked (and an incremental run
   the rows that left the segment, activations/leavers.py).
2. Per chunk: the job id is stored before its upload starts (connector `run_step` calls
   `on_job`); the outcomes (counts, failed rows) and the chunk's end are stored together in
   one transaction, with the accepted rows' fingerprints when the run keeps them
   (fingerprints.ChunkFingerprints). A resumed step with a recorded job id asks Salesforce what became of the
   job instead of sending the rows again.
"""

import csv
import io
import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from common import csvio
from connectors.base import EncodedRows, ExportParams

from .models import FailedRow, Run, RunChunk

logger = logging.getLogger(__name__)

# Rows stored per INSERT of a snapshot chunk's failed rows.
FAILED_ROWS_PER_INSERT = 1000
# Jobs in flight at once in parallel mode (as the connector's own writer does).
PARALLEL_STEPS = 3
# Seconds between two checkpoints (heartbeat, cancel) while steps are in flight.
CHECKPOINT_SECONDS = 1.0
# Job threads are named so (a database connection one of them opened would be its own).
STEP_THREAD_PREFIX = "run-step"


class Taken(Exception):
    """The run is no longer ours (cancelled while dead, marked failed, deleted)."""


class ShutdownRequested(Exception):
    """The worker shuts down: the run stopped between two steps, nothing in flight."""


class StepsStopped(Exception):
    """Raised in a job thread, before its upload, when the run's thread went away."""


def take_snapshot(
    run: Run,
    rows,
    *,
    batch_size: int,
    recorder,
    key_cell: int | None = None,
    after=None,
    unchanged=None,
) -> int:
    """Store the rows in chunks of `batch_size`, once: a snapshot cut short by a dead worker
    is taken again from the start. Each row is a CSV line (bytes, as `streaming.lines` gives
    it) or a list of cells; its key is its cell `key_cell` (update mode's key), else one more
    cell at its end. `after()`, once the rows are read, gives (kind, row) pairs stored as
    chunks of their kind too (an incremental run's rows that left the segment), numbered on;
    `unchanged()` the rows left out, stored with the snapshot's end (a resumed run does not
    count them again). Returns the number of rows."""
    if run.progress.get("snapshot"):
        return run.rows_read
    RunChunk.objects.filter(run=run).delete()
    total = 0
    number = 0
    batch: list[bytes] = []
    kind = RunChunk.Kind.ROWS

    def store(batch: list[bytes]) -> None:
        nonlocal number
        number += 1
        store_chunk(run, number, batch, key_cell=key_cell, kind=kind)
        recorder.checkpoint()

    def add(row) -> None:
        nonlocal batch, total
        batch.append(row if isinstance(row, bytes) else csvio.encode_row(row))
        total += 1
        if len(batch) >= batch_size:
            store(batch)
            batch = []

    for row in rows:
        add(row)
    for row_kind, row in after() if after else ():
        if row_kind != kind and batch:
            store(batch)
            batch = []
        kind = row_kind
        add(row)
    if batch:
        store(batch)
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.status != Run.Status.RUNNING:
            raise Taken()
        locked.rows_read = total
        locked.rows_unchanged = unchanged() if unchanged else 0
        locked.progress = {**locked.progress, "snapshot": True}
        locked.save(update_fields=["rows_read", "rows_unchanged", "progress"])
    run.refresh_from_db()
    recorder.log(f"Snapshot taken: {total:,} rows in {number} chunks.")
    return total


# A chunk's rows are stored as one CSV text, as the rows come from the database (several
# times smaller than JSON lists of cells), with where each row's key is: its cell `key_cell`
# (update mode: the upload is the text as it is), or with `key_cell` None one more field at
# the end of each line. These functions are the only ones that know it (a chunk of lists,
# the key last, still reads back).


def store_chunk(
    run: Run, number: int, lines: list[bytes], *, key_cell: int | None, kind=RunChunk.Kind.ROWS
) -> RunChunk:
    """Store a chunk of CSV lines whose key is cell `key_cell`, or a last field."""
    text = b"".join(lines).decode()
    return RunChunk.objects.create(
        run=run, kind=kind, number=number, rows={"csv": text, "key_cell": key_cell}
    )


def chunk_rows(chunk: RunChunk) -> list[list[str]]:
    """The chunk's rows as lists of cells, each with its key last."""
    if isinstance(chunk.rows, list):
        return chunk.rows
    rows = csv.reader(io.StringIO(chunk.rows["csv"], newline=""))
    key_cell = chunk.rows["key_cell"]
    if key_cell is None:
        return list(rows)
    return [[*row, row[key_cell]] for row in rows]


def chunk_lines(chunk: RunChunk) -> list[bytes]:
    """The chunk's rows as CSV lines without a key of their own, ready for an upload."""
    if isinstance(chunk.rows, list):
        return [csvio.encode_row(row[:-1]) for row in chunk.rows]
    lines = csv_records(chunk.rows["csv"].encode())
    if chunk.rows["key_cell"] is None:
        return [csvio.split_last(line)[0] for line in lines]
    return lines


def csv_records(text: bytes) -> list[bytes]:
    """LF-terminated CSV text cut into its records (a quoted field may hold a line break)."""
    if b'"' not in text:  # nothing quoted: a line is a record (CR would be quoted)
        return text.splitlines(keepends=True)
    records = []
    pending = b""
    for piece in text.split(b"\n")[:-1]:
        pending += piece + b"\n"
        # A record ends where the quotes seen so far are balanced.
        if pending.count(b'"') % 2 == 0:
            records.append(pending)
            pending = b""
    return records


def send_chunks(
    run: Run, connector, params: ExportParams, columns, recorder, fingerprints=None
) -> None:
    """Send every chunk of rows not yet done (then those clearing the rows that left), in
    order: one job at a time in serial mode, up to PARALLEL_STEPS in parallel mode. Job
    threads only talk to Salesforce; every database write (a job id before its upload, a
    step's outcome with the chunk's progress and, with `fingerprints`
    (fingerprints.ChunkFingerprints), its accepted rows' fingerprints, in one transaction)
    happens in this thread, which a job thread waits on for its job id."""
    sent = RunChunk.objects.filter(
        run=run, done=False, kind__in=[RunChunk.Kind.ROWS, RunChunk.Kind.LEAVE_CLEAR]
    )
    waiting = list(sent.order_by("number"))
    most = PARALLEL_STEPS if params.concurrency_mode != "serial" else 1
    requests: queue.SimpleQueue = queue.SimpleQueue()
    closing = threading.Event()
    in_flight: dict[Future, RunChunk] = {}

    def serve_requests(timeout: float) -> None:
        """Store the job ids and log lines the job threads handed over."""
        try:
            request = requests.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            kind, chunk, value, stored = request
            if kind == "job":
                store_job(run, chunk, value, recorder)
                stored.set()
            else:
                recorder.log(value)
            try:
                request = requests.get_nowait()
            except queue.Empty:
                return

    def submit(pool: ThreadPoolExecutor, chunk: RunChunk) -> None:
        def on_job(job_id: str) -> None:
            stored = threading.Event()
            requests.put(("job", chunk, job_id, stored))
            while not stored.wait(0.2):
                if closing.is_set():
                    raise StepsStopped()

        def log(message: str) -> None:
            requests.put(("log", chunk, message, None))

        future = pool.submit(
            connector.run_step,
            params,
            columns,
            EncodedRows(chunk_lines(chunk))
            if connector.accepts_encoded_rows
            else [row[:-1] for row in chunk_rows(chunk)],
            job_id=chunk.job_id,
            on_job=on_job,
            log=log,
            stop_requested=recorder.stop_requested,
        )
        in_flight[future] = chunk

    last_checkpoint = 0.0
    with ThreadPoolExecutor(max_workers=most, thread_name_prefix=STEP_THREAD_PREFIX) as pool:
        try:
            while waiting or in_flight:
                if time.monotonic() - last_checkpoint >= CHECKPOINT_SECONDS:
                    recorder.checkpoint()  # heartbeat, and a cancel looked at
                    last_checkpoint = time.monotonic()
                stopping = recorder.shutdown_requested.is_set()
                if stopping and not in_flight:
                    raise ShutdownRequested()
                while waiting and len(in_flight) < most and not stopping:
                    submit(pool, waiting.pop(0))
                serve_requests(timeout=0.05)
                for future in [future for future in in_flight if future.done()]:
                    chunk = in_flight.pop(future)
                    serve_requests(timeout=0)
                    outcome = future.result()
                    if not store_outcome(run, chunk, outcome, params, recorder, fingerprints):
                        waiting.insert(0, chunk)  # locked rows to send again
        except ShutdownRequested:
            raise
        except BaseException:
            # Going away (a cancel, the run taken over, an interrupt): job threads waiting for
            # their job id give up before uploading; the jobs stay recorded for a resume.
            closing.set()
            if recorder.stop_requested.is_set():
                # A cancel: the jobs in flight are being aborted; keep what they report.
                _store_cancelled(run, in_flight, params, recorder, fingerprints)
            raise


def delete_chunk(chunk: RunChunk, connector, params, recorder, *, on_job, store) -> None:
    """Send a chunk of record Ids (each row's first cell) to delete jobs, one at a time in
    this thread, until `store(outcome)` marked it done (locked Ids go out again): a
    truncate's deletes and the deletes of rows that left the segment."""
    while not chunk.done:
        recorder.checkpoint()  # heartbeat, and a cancel looked at
        if recorder.shutdown_requested.is_set():
            raise ShutdownRequested()
        outcome = connector.delete_step(
            params,
            [row[0] for row in chunk_rows(chunk)],
            job_id=chunk.job_id,
            on_job=on_job,
            log=recorder.log,
            stop_requested=recorder.stop_requested,
        )
        store(outcome)


def _store_cancelled(run: Run, in_flight: dict, params, recorder, fingerprints) -> None:
    for future, chunk in in_flight.items():
        try:
            outcome = future.result()
            store_outcome(run, chunk, outcome, params, recorder, fingerprints)
        except Exception:
            logger.exception("Could not store the outcome of chunk %s while cancelling", chunk.pk)


def store_job(run: Run, chunk: RunChunk, job_id: str, recorder) -> None:
    with transaction.atomic():
        locked = locked_run(run.pk)
        RunChunk.objects.filter(pk=chunk.pk).update(job_id=job_id)
        locked.salesforce_job_ids = [*locked.salesforce_job_ids, job_id]
        locked.save(update_fields=["salesforce_job_ids"])
    chunk.job_id = job_id
    recorder.log(f"Salesforce job {job_id} started (chunk {chunk.number}).")


def store_outcome(run: Run, chunk: RunChunk, outcome, params, recorder, fingerprints) -> bool:
    """Store a step's outcome and the chunk's progress (and with `fingerprints` its accepted
    rows' fingerprints) together; False when its locked rows are to be sent again (the
    chunk then holds only them)."""
    failed = list(outcome.failed)
    retry = bool(outcome.locked) and chunk.attempts < params.retry_limit
    if outcome.locked and not retry:
        failed.extend(outcome.locked_failures)
    unmatched = 0
    with transaction.atomic():
        locked_run(run.pk)
        rows = chunk_rows(chunk) if failed or retry or fingerprints else []
        left = 0
        if fingerprints is not None and outcome.accepted:
            left, unmatched = fingerprints.accepted(chunk.kind, rows, outcome.accepted)
        Run.objects.filter(pk=run.pk).update(
            rows_succeeded=F("rows_succeeded") + outcome.succeeded,
            rows_failed=F("rows_failed") + len(failed),
            rows_deleted=F("rows_deleted") + left,
            heartbeat_at=timezone.now(),
        )
        # Failed rows are known by their cells; the chunk's rows say whose they are.
        key_of = {tuple(row[:-1]): row[-1] for row in rows} if failed or retry else {}
        keys = [key_of.get(tuple(row.values), "") for row in failed]
        FailedRow.objects.bulk_create(
            [
                FailedRow(
                    run_id=run.pk,
                    values=list(row.values),
                    error=row.error,
                    key=keys[index] if keys else "",
                )
                for index, row in enumerate(failed)
            ],
            batch_size=FAILED_ROWS_PER_INSERT,
        )
        end_chunk(
            chunk,
            locked=[[*values, key_of.get(tuple(values), "")] for values in outcome.locked]
            if retry
            else None,
        )
    if unmatched:
        recorder.log(
            f"{unmatched:,} accepted rows came back changed by Salesforce and could not be "
            "matched; the next incremental run sends them again."
        )
    if retry:
        time.sleep(min(60.0, params.retry_initial_delay * 2 ** (chunk.attempts - 1)))
        recorder.log(
            f"Retrying {len(outcome.locked)} rows that failed with UNABLE_TO_LOCK_ROW "
            f"(retry {chunk.attempts} of {params.retry_limit})"
        )
    return not retry


def end_chunk(chunk: RunChunk, *, locked: list | None) -> None:
    """Store a chunk's end: done, or (`locked`, the rows Salesforce could not lock) to be sent
    again by a new job. Called inside the transaction that stores the chunk's outcome."""
    if locked is not None:
        chunk.rows = locked
        chunk.attempts += 1
        chunk.job_id = ""
    else:
        chunk.done = True
    chunk.save(update_fields=["rows", "attempts", "job_id", "done"])


def forget_snapshot(run: Run) -> None:
    """Drop a finished run's stored chunks (its outcomes are stored; a resume after this
    finds nothing left to send)."""
    RunChunk.objects.filter(run=run).delete()


def locked_run(run_id: int) -> Run:
    run = Run.objects.select_for_update().filter(pk=run_id).first()
    if run is None or run.status != Run.Status.RUNNING:
        raise Taken()
    return run


def rows_not_sent(run: Run) -> int:
    """Failed rows that never reached Salesforce (duplicates, a cancel before the job)."""
    return FailedRow.objects.filter(run=run, error__startswith="Not sent:").count()
