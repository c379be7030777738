"""Executes runs: checks the destination, streams the segment through the mapping into the
connector, and keeps the score (counts, job ids, failed rows, log) in the database as it goes.

Every step leaves its mark on the Run row, so a task message delivered twice, or again after
a worker died, never does a step twice: the run is claimed by a conditional update, a run
whose worker died is found by its stale heartbeat and resumed from its recorded steps
(steps.py) or, when it was not recorded, marked failed, and the bookkeeping after the end
(auto-disable, mail) is flagged in `Run.progress` once done.
"""

import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection as database_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from common.masking import mask_secrets
from common.validation import InvalidInput
from connectors.base import ConnectorError, ExportParams
from connectors.base import FailedRow as FailedOutcome
from connectors.models import Connection
from segments import audience, live, refresh, sizes
from segments.models import AudienceSize, Refresh

from . import (
    beat,
    fingerprints,
    guards,
    leavers,
    mapping,
    notifications,
    prephase,
    steps,
    streaming,
)
from .dispatch import publish_run
from .models import Activation, FailedRow, Run

logger = logging.getLogger(__name__)

# Rows between two checkpoints (counts and heartbeat stored, cancellation looked at).
CHECKPOINT_EVERY_ROWS = 1000
# Seconds between two checkpoints while rows stream, whatever their number.
CHECKPOINT_EVERY_SECONDS = 5.0
FAILED_ROWS_PER_INSERT = 1000
# A connector that logs every poll must not grow a run's log without bound.
LOG_LIMIT = 1000
# How a connector marks a failed row that never reached the destination (an outage, a cancel).
NOT_SENT_PREFIX = "Not sent:"


class RunCancelled(Exception):
    """Raised inside a write when someone asked the run to stop."""


class RunTakenOver(Exception):
    """Raised when the run is no longer ours: marked failed as stale, or deleted."""


# --- What a run sends -------------------------------------------------------------------


def export_params(activation: Activation) -> ExportParams:
    """The activation's export settings, as a connector reads them."""
    return ExportParams(
        mode=activation.mode,
        object_name=activation.object_name,
        upsert=activation.upsert,
        key=activation.key,
        hard_delete=activation.hard_delete,
        concurrency_mode=activation.concurrency_mode,
        batch_size=activation.batch_size,
        api_version=activation.api_version,
        retry_initial_delay=activation.retry_initial_delay,
        retry_limit=activation.retry_limit,
        column_types=_column_types(activation),
    )


def _column_types(activation: Activation) -> tuple[tuple[str, str], ...]:
    """The output columns' parent column types; none for a mapping that no longer fits
    (output_columns reports that)."""
    columns = activation.segment.parent_segment.columns
    try:
        mapping.validate(activation.output_mapping, columns)
    except InvalidInput:
        return ()
    return tuple(mapping.output_column_types(activation.output_mapping, columns).items())


def output_columns(activation: Activation) -> list[str]:
    """The output column names; raises InvalidInput (paths under `output_mapping`) when the
    mapping no longer fits the parent segment's columns."""
    columns = activation.segment.parent_segment.columns
    try:
        mapping.validate(activation.output_mapping, columns)
    except InvalidInput as invalid:
        raise InvalidInput(invalid.prefixed("output_mapping")) from None
    return mapping.output_columns(activation.output_mapping, columns)


# --- The run's record in the database ---------------------------------------------------


class RunRecorder:
    """The ResultSink of a run: stores outcomes, job ids, log lines and the heartbeat as the
    connector reports them, and stops the write when the run is cancelled or taken over.

    It must be called from the thread that called `execute_run` (database connections are
    per thread, and a test's transaction is only visible there).
    """

    def __init__(self, run: Run) -> None:
        self.run_id = run.pk
        # A resumed run has read its rows before (its snapshot); a new one starts at 0.
        self.rows_read = run.rows_read
        # Failed rows that never reached Salesforce, so a write that raised is not said to
        # have sent them.
        self.rows_not_sent = 0
        self.cancelled = False
        # Set by the heartbeat thread when a cancel is asked for while the connector waits on
        # a long Salesforce job and calls no sink method; the connector then aborts the job.
        self.stop_requested = threading.Event()
        # Set by the heartbeat thread when this worker shuts down (SIGTERM): a recorded run
        # stops between two steps and is handed over to another worker.
        self.shutdown_requested = threading.Event()
        self.taken_over = False
        self._stored_rows_read = run.rows_read
        self._last_checkpoint = time.monotonic()
        self._secrets = [
            value
            for value in (
                getattr(run.activation.connection, name) for name in Connection.SECRET_FIELDS
            )
            if value and len(value) >= 4
        ]
        self._rows_between_checkpoints = min(CHECKPOINT_EVERY_ROWS, run.activation.batch_size)
        # Set by _write: the run's fingerprints (incremental sync, retry), told of outcomes.
        self.sync: fingerprints.RunSync | None = None

    # ResultSink

    def job_started(self, job_id: str) -> None:
        with transaction.atomic():
            run = self._locked_run()
            run.salesforce_job_ids = [*run.salesforce_job_ids, job_id]
            run.save(update_fields=["salesforce_job_ids"])
        self.log(f"Salesforce job {job_id} started.")
        self.checkpoint()

    def rows_succeeded(self, count: int) -> None:
        if count:
            self._update(rows_succeeded=F("rows_succeeded") + count)
        self.checkpoint()

    def rows_accepted(self, rows: Sequence[Sequence[str]]) -> None:
        """Succeeded rows with their values: counted, and their fingerprints advanced in the
        same transaction."""
        rows = list(rows)
        if rows:
            with transaction.atomic():
                left = self.sync.accepted(rows) if self.sync else 0
                self._update(
                    rows_succeeded=F("rows_succeeded") + len(rows),
                    rows_deleted=F("rows_deleted") + left,
                )
        self.checkpoint()

    def rows_failed(self, rows: Sequence[FailedOutcome], *, keys: list[str] | None = None) -> None:
        """Failed rows, stored with their keys (`keys`, else found by the run's sync)."""
        rows = list(rows)
        if rows:
            self.rows_not_sent += sum(row.error.startswith(NOT_SENT_PREFIX) for row in rows)
            if keys is None and self.sync:
                keys = self.sync.failed_keys([row.values for row in rows])
            with transaction.atomic():
                self._update(rows_failed=F("rows_failed") + len(rows))
                FailedRow.objects.bulk_create(
                    [
                        FailedRow(
                            run_id=self.run_id,
                            values=list(row.values),
                            error=row.error,
                            key=keys[index] if keys else "",
                        )
                        for index, row in enumerate(rows)
                    ],
                    batch_size=FAILED_ROWS_PER_INSERT,
                )
        self.checkpoint()

    def log(self, message: str) -> None:
        append_log(self.run_id, self.scrub(message))

    # Rows and checkpoints

    def counted(self, rows: Iterable[dict]) -> Iterator[dict]:
        """Pass rows through, counting them and checkpointing between batches."""
        for row in rows:
            self.rows_read += 1
            if (
                self.rows_read % self._rows_between_checkpoints == 0
                or time.monotonic() - self._last_checkpoint >= CHECKPOINT_EVERY_SECONDS
            ):
                self.checkpoint()
            yield row
        self.store_rows_read()

    def checkpoint(self) -> None:
        """Store the rows read and the heartbeat; raise RunCancelled if a stop was asked for,
        RunTakenOver if the run is no longer running."""
        self.store_rows_read()
        self._last_checkpoint = time.monotonic()
        cancel = Run.objects.filter(pk=self.run_id).values_list("progress__cancel", flat=True)
        if cancel.first():
            self.cancelled = True
            self.stop_requested.set()
            raise RunCancelled()

    def restart_count(self, rows_read: int) -> None:
        """Take `rows_read` as read and stored (a resumed run counted them before)."""
        self.rows_read = self._stored_rows_read = rows_read

    def store_rows_read(self) -> None:
        unstored = self.rows_read - self._stored_rows_read
        self._update(rows_read=F("rows_read") + unstored)
        self._stored_rows_read = self.rows_read

    def scrub(self, text: str) -> str:
        """`text` without any of the connection's secrets, should a message quote one."""
        return mask_secrets(text, self._secrets)

    def add_counts(self, **fields) -> None:
        """Update the run's counters (F expressions), with the heartbeat."""
        self._update(**fields)

    def _update(self, **fields) -> None:
        updated = Run.objects.filter(pk=self.run_id, status=Run.Status.RUNNING).update(
            heartbeat_at=timezone.now(), **fields
        )
        if not updated:
            self.taken_over = True
            raise RunTakenOver()

    def _locked_run(self) -> Run:
        run = Run.objects.select_for_update().filter(pk=self.run_id).first()
        if run is None or run.status != Run.Status.RUNNING:
            self.taken_over = True
            raise RunTakenOver()
        return run


def append_log(run_id: int, message: str) -> None:
    """Add a line to the run's log (never row data or secrets: callers make sure)."""
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return
        if len(run.log) > LOG_LIMIT:
            return
        if len(run.log) == LOG_LIMIT:
            message = "Further log lines were dropped."
        run.log = [*run.log, {"at": timezone.now().isoformat(), "message": message}]
        run.save(update_fields=["log"])


def heartbeat_interval() -> float:
    """Seconds between two heartbeats of a live worker."""
    return max(1.0, min(60.0, settings.RUN_STALE_AFTER_SECONDS / 4))


def worker_is_dead(run: Run, *, now: datetime) -> bool:
    """Whether a running run's worker has missed three heartbeats in a row: it died (a live
    worker beats from a side thread, whatever it waits on)."""
    if run.heartbeat_at is None:
        return False
    return (now - run.heartbeat_at).total_seconds() > 3 * heartbeat_interval()


class Heartbeat(threading.Thread):
    """Refreshes a run's heartbeat from a side thread while a connector waits on Salesforce
    (a big job can take longer than the stale limit with no row moving). It dies with the
    worker process, which is the point: a dead worker's run goes stale."""

    # Seconds between two looks for a cancel request; a cancel should not wait a minute.
    CANCEL_CHECK_SECONDS = 2.0

    def __init__(
        self,
        run_id: int,
        *,
        stop_requested: threading.Event | None = None,
        shutdown_requested: threading.Event | None = None,
    ) -> None:
        super().__init__(name=f"heartbeat-run-{run_id}", daemon=True)
        self.run_id = run_id
        self.interval = heartbeat_interval()
        self.stop_requested = stop_requested
        self.shutdown_requested = shutdown_requested
        self.stopped = threading.Event()

    def run(self) -> None:
        last_beat = time.monotonic()
        try:
            while not self.stopped.wait(min(self.interval, self.CANCEL_CHECK_SECONDS)):
                try:
                    if time.monotonic() - last_beat >= self.interval:
                        Run.objects.filter(pk=self.run_id, status=Run.Status.RUNNING).update(
                            heartbeat_at=timezone.now()
                        )
                        last_beat = time.monotonic()
                    cancel, shutdown = self._asked()
                    if self.stop_requested is not None and cancel:
                        self.stop_requested.set()
                    if self.shutdown_requested is not None and shutdown:
                        self.shutdown_requested.set()
                except Exception:
                    logger.exception("Could not refresh the heartbeat of run %s", self.run_id)
        finally:
            database_connection.close()

    def _asked(self) -> tuple[bool, bool]:
        """Whether a cancel, and whether this worker's shutdown, was asked for."""
        asked = (
            Run.objects.filter(pk=self.run_id)
            .values_list("progress__cancel", "progress__shutdown")
            .first()
        )
        return (bool(asked[0]), bool(asked[1])) if asked else (False, False)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


# --- Executing a run --------------------------------------------------------------------


def execute_run(run_id: int, *, background_heartbeat: bool = False, worker: str = "") -> Run | None:
    """Execute a queued run to its end, once, whatever the number of task deliveries.

    The run is claimed by a conditional update (queued → running); a delivery that finds it
    already running with a fresh heartbeat leaves it to its worker; one that finds its
    heartbeat stale resumes it when it was recorded step by step (steps.py) and marks it
    failed otherwise. `background_heartbeat` keeps the heartbeat fresh from a side thread,
    for real workers; `worker` (its Celery hostname) lets its shutdown hand the run over.
    Returns the run as it ended, or None if this call did not execute it.
    """
    now = timezone.now()
    claimed = Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(
        status=Run.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        _handle_unclaimed(run_id)
        return None
    if worker:  # so that this worker's shutdown can hand the run over (request_shutdown)
        _merge_progress(run_id, worker=worker, shutdown=False)
    run = Run.objects.select_related(
        "activation__segment__parent_segment", "activation__connection"
    ).get(pk=run_id)
    recorder = RunRecorder(run)
    heartbeat = (
        Heartbeat(
            run_id,
            stop_requested=recorder.stop_requested,
            shutdown_requested=recorder.shutdown_requested,
        )
        if background_heartbeat
        else None
    )
    if heartbeat is not None:
        heartbeat.start()
    try:
        outcome = _write(run, recorder)
    except RunTakenOver:
        logger.warning("Run %s was taken over (marked failed or deleted) while running", run_id)
        return None
    finally:
        if heartbeat is not None:
            heartbeat.stop()
    outcome.setdefault("rows_sent", None)
    if outcome["rows_sent"] is None:
        outcome["rows_not_sent"] = recorder.rows_not_sent
    if not _finish(run_id, recorder, **outcome):
        return None
    after_finish(run_id)
    return Run.objects.get(pk=run_id)


def _check_fresh_data(activation, recorder: RunRecorder) -> None:
    """Refresh the parent segment first when the activation asks for fresh data, and say on
    the run when the parent's last refresh failed (its rows are older than expected)."""
    parent = activation.segment.parent_segment
    if parent.source_id is None:
        return
    if live.is_live(parent):  # nothing to refresh: the rows are read in the source now
        return recorder.log(f"Reading the rows live from the source {parent.source.name}.")
    if activation.refresh_before_run:
        recorder.log(f"Refreshing the parent segment {parent.name} from its source first.")
        refresh.refresh_before_run(parent)
        parent.refresh_from_db()  # the rows may have moved (segments/snapshots.py)
    last = refresh.last_finished(parent)
    if last is not None and last.status == Refresh.Status.FAILED:
        recorder.log(
            f"Warning: the last refresh of the parent segment {parent.name} failed "
            f"({last.error}); the rows sent are those of the refresh before."
        )
    elif last is not None:
        recorder.log(f"The parent segment was refreshed: {last.rows_imported} rows.")


def _write(run: Run, recorder: RunRecorder) -> dict:
    """The run's work; returns how it ended as keyword arguments for _finish."""
    activation = run.activation
    connector = None
    keyed = None
    try:
        recorder.log("Started.")
        connector = activation.connection.connector
        _check_fresh_data(activation, recorder)
        columns = output_columns(activation)
        Run.objects.filter(pk=run.pk).update(columns=columns)
        params = export_params(activation)
        recorder.log(
            f"Checking {len(columns)} output columns against the Salesforce object "
            f"{activation.object_name}."
        )
        connector.validate_export(params, columns)
        recorder.checkpoint()
        before_writing(activation, connector, params, deleting=prephase.deletes_ahead(run))
        timestamp = _run_timestamp(run)
        row_limit = run.progress.get("row_limit")
        if row_limit:
            # A test run: the first rows only, as a full send that keeps no fingerprints
            # (rows it does not read must not look like rows that left the segment).
            sync = recorder.sync = fingerprints.RunSync.build(
                activation,
                columns,
                fingerprints.Decision("full", f"Test run: the first {row_limit} rows only."),
                run_id=None,
            )
            recorder.log(f"Test run: the first {row_limit} rows only.")
        elif connector.resumable(params):
            # Every run but a test run is written as recorded steps (steps.py).
            return _write_steps(run, recorder, connector, params, columns, timestamp)
        else:
            sync = recorder.sync = fingerprints.begin(run, activation, columns, recorder.log)
        # The rows as final cells from one SELECT, each with its key last (for the sync).
        keyed = streaming.cells(activation, timestamp=timestamp, limit=row_limit, with_key=True)
        selected = sync.select(keyed, checkpoint=recorder.checkpoint)
        recorder.log(f"Sending the segment {activation.segment.name} ({_operation(params)}).")
        result = connector.write(params, columns, recorder.counted(selected), recorder)
        result.rows_sent += fingerprints.after_write(
            sync, connector, params, recorder, recorder.counted, recorder.log
        )
        recorder.store_rows_read()
        if recorder.stop_requested.is_set():
            return {
                "status": Run.Status.CANCELLED,
                "error": "Cancelled while running; the Salesforce job in flight was aborted.",
                "rows_sent": result.rows_sent,
            }
    except RunTakenOver:
        raise
    except guards.DestructiveRunBlocked as blocked:
        return {"status": Run.Status.FAILED, "error": blocked.message, "config_error": True}
    except Exception as error:
        if recorder.taken_over:
            raise RunTakenOver() from error
        if (
            recorder.cancelled
            or recorder.stop_requested.is_set()
            or isinstance(error, RunCancelled)
        ):
            return {"status": Run.Status.CANCELLED, "error": "Cancelled while running."}
        if isinstance(error, ConnectorError):
            if error.field == "connection":
                # The run page links to the connection: that is where the fix is.
                _merge_progress(run.pk, fix_in="connection")
            return {
                "status": Run.Status.FAILED,
                "error": recorder.scrub(error.message),
                "config_error": not error.retryable,
            }
        if isinstance(error, live.LiveSourceError):  # unreadable source, duplicate keys
            config_error = isinstance(error, live.LiveKeyError)
            return {
                "status": Run.Status.FAILED,
                "error": error.message,
                "config_error": config_error,
            }
        if isinstance(error, InvalidInput):
            message = (
                "The output mapping no longer fits the parent segment's columns: "
                f"{recorder.scrub(str(error))}"
            )
            return {"status": Run.Status.FAILED, "error": message, "config_error": True}
        logger.exception("Run %s failed on an internal error", run.pk)
        return {
            "status": Run.Status.FAILED,
            "error": f"Internal error ({type(error).__name__}); see the worker log.",
        }
    finally:
        if keyed is not None:
            keyed.close()  # the server-side cursor, at once (a cancel, an error)
        if connector is not None:
            connector.close()
    return {"status": None, "error": "", "rows_sent": result.rows_sent}


def _write_steps(run: Run, recorder, connector, params, columns, timestamp) -> dict:
    """The resumable path (activations/steps.py): snapshot, then one recorded step per job;
    with fingerprints, each accepted row's advances in its chunk's outcome transaction."""
    activation = run.activation
    if not run.progress.get("resumable"):
        _merge_progress(run.pk, resumable=True)
        run.refresh_from_db()
    recorder.restart_count(run.rows_read)
    try:
        if not run.progress.get("snapshot"):
            _take_snapshot(run, recorder, params, columns, timestamp)
        recorder.log(f"Sending the segment {activation.segment.name} ({_operation(params)}).")
        recorder.restart_count(run.rows_read)
        prephase.before_chunks(run, connector, params, columns, recorder)
        tracker = (
            fingerprints.ChunkFingerprints(
                activation.pk,
                streaming.key_index(activation, activation.segment.parent_segment.columns),
            )
            if run.progress.get("fingerprints")
            else None
        )
        steps.send_chunks(run, connector, params, columns, recorder, tracker)
        leavers.send_deletes(run, connector, params, recorder, tracker)
        steps.forget_snapshot(run)
    except steps.Taken:
        raise RunTakenOver() from None
    except steps.ShutdownRequested:
        _hand_over(run.pk)
        raise RunTakenOver() from None
    run.refresh_from_db()
    rows_sent = run.rows_succeeded + run.rows_failed - steps.rows_not_sent(run)
    if recorder.stop_requested.is_set():
        return {
            "status": Run.Status.CANCELLED,
            "error": "Cancelled while running; the Salesforce job in flight was aborted.",
            "rows_sent": rows_sent,
        }
    return {"status": None, "error": "", "rows_sent": rows_sent}


def _take_snapshot(run: Run, recorder, params, columns, timestamp) -> None:
    """The run's rows, stored once: a full run's every row as CSV lines; an incremental
    run's new, changed and failed rows (their fingerprints compared once, here) and the
    rows that left the segment; a retry's rows whose key failed. Whether accepted rows'
    fingerprints advance is decided here too and kept with the snapshot."""
    activation = run.activation
    sync = fingerprints.begin(run, activation, columns, recorder.log)
    _merge_progress(run.pk, fingerprints=sync.keep)
    run.refresh_from_db(fields=["progress"])
    if sync.stored or sync.only_keys is not None:
        # Incremental or retry: the rows picked from the keyed cells, their key last.
        keyed = streaming.cells(activation, timestamp=timestamp, with_key=True)
        with contextlib.closing(keyed):
            steps.take_snapshot(
                run,
                sync.chosen(keyed, every_skipped=recorder.checkpoint),
                batch_size=params.batch_size,
                recorder=recorder,
                after=lambda: leavers.snapshot_rows(sync),
                unchanged=lambda: sync.unchanged,
            )
        if sync.only_keys:
            recorder.log(
                f"{len(sync.only_keys):,} of the failed rows have left the segment since; "
                "they were not sent."
            )
        if leavers.has_deletes(run):
            # The deletions are fixed by the snapshot: a resume is past the guard.
            _merge_progress(run.pk, deletes_listed=True)
    else:
        # The rows' key: update mode's key cell, else the parent's key as one more field.
        key_cell = streaming.key_index(activation, activation.segment.parent_segment.columns)
        lines = _snapshot_lines(activation, timestamp, with_key=key_cell is None)
        with contextlib.closing(lines) as rows:
            steps.take_snapshot(
                run, rows, batch_size=params.batch_size, recorder=recorder, key_cell=key_cell
            )
    run.refresh_from_db()


def _snapshot_lines(
    activation: Activation, timestamp: datetime, *, with_key: bool
) -> Iterator[bytes]:
    """The rows as CSV lines (PostgreSQL's COPY output, else csvio's), read only if the
    snapshot is still to be taken (a resumed run sends its stored one, whatever the mapping
    or the rows are now)."""
    lines = streaming.lines(activation, timestamp=timestamp, with_key=with_key)
    try:
        yield from lines
    finally:
        lines.close()


def before_writing(
    activation: Activation, connector, params: ExportParams, *, deleting: bool = True
) -> None:
    """The last checks before anything is written or deleted: a destructive run whose
    segment came back empty or shrank too much is blocked, and the org must have the daily
    limits the run needs. Each raises, so no job is created. A resumed truncate whose
    deletions began (`deleting` False) is past the guard: its deletions are fixed by its
    recorded listing, and stopping it now would leave the object emptied without its rows."""
    size = audience.size(activation.segment)
    if deleting:
        guards.check_destructive_run(activation, size=size)
    connector.check_capacity(params, size, deleting=deleting)


def _run_timestamp(run: Run) -> datetime:
    """The run's export timestamp: one for all its rows, kept in progress so it survives."""
    stored = run.progress.get("timestamp")
    if stored:
        return datetime.fromisoformat(stored)
    timestamp = timezone.now()
    _merge_progress(run.pk, timestamp=timestamp.isoformat())
    return timestamp


def _operation(params: ExportParams) -> str:
    if params.mode == Activation.Mode.UPDATE:
        kind = "upsert" if params.upsert else "update"
        return f"{kind} by {params.key}"
    if params.mode == Activation.Mode.TRUNCATE:
        return "hard delete all, then insert" if params.hard_delete else "delete all, then insert"
    return "insert"


def _finish(
    run_id: int,
    recorder: RunRecorder,
    *,
    status: str | None,
    error: str,
    config_error: bool = False,
    rows_sent: int | None = None,
    rows_not_sent: int = 0,
) -> bool:
    """Store the final status. A None status means the write returned: the counts decide.
    Without `rows_sent` (the write raised), the rows Salesforce reported on less those that
    failed as never sent count as sent. Returns False if the run was no longer ours."""
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != Run.Status.RUNNING:
            return False
        accounted = run.rows_succeeded + run.rows_failed
        if rows_sent is None:
            rows_sent = max(accounted - rows_not_sent, 0)
        unconfirmed = run.rows_read - accounted
        if status is None:
            if unconfirmed:
                status = Run.Status.FAILED
                error = (
                    f"Salesforce reported on {accounted:,} of the {run.rows_read:,} rows read; "
                    f"{unconfirmed:,} rows were not confirmed."
                )
            elif run.rows_failed == 0:
                status = Run.Status.SUCCEEDED
            elif run.rows_succeeded == 0:
                status = Run.Status.FAILED
                error = (
                    f"Salesforce refused all {run.rows_failed:,} rows; "
                    "see the failed rows for the reasons."
                )
            else:
                status = Run.Status.PARTIALLY_FAILED
        elif unconfirmed > 0:
            error = f"{error} {_unconfirmed_sentence(unconfirmed, run.rows_read)}"
        now = timezone.now()
        run.status = status
        run.error = error
        run.config_error = config_error
        run.rows_sent = rows_sent
        run.finished_at = now
        run.heartbeat_at = now
        run.progress = {**run.progress, "accounted": False, "notified": False}
        reason = (
            [{"at": now.isoformat(), "message": f"Reason: {error}"}]
            if error and status != Run.Status.SUCCEEDED
            else []
        )
        run.log = [*run.log, *reason, {"at": now.isoformat(), "message": _summary(run)}]
        run.save()
    return True


def _unconfirmed_sentence(unconfirmed: int, rows_read: int) -> str:
    verb = "was" if unconfirmed == 1 else "were"
    return (
        f"{unconfirmed:,} of the {rows_read:,} rows read {verb} not confirmed by Salesforce "
        "(never sent, or sent without a result)."
    )


def _summary(run: Run) -> str:
    counts = (
        f"{run.rows_read:,} read, {run.rows_sent:,} sent, {run.rows_succeeded:,} succeeded, "
        f"{run.rows_failed:,} failed"
    )
    if run.status == Run.Status.SUCCEEDED and run.rows_read == 0 and run.rows_unchanged:
        return f"Succeeded: nothing changed ({run.rows_unchanged:,} rows unchanged), nothing sent."
    if run.status == Run.Status.SUCCEEDED and run.rows_read == 0:
        return "Succeeded: the segment had no rows, nothing was sent."
    if run.rows_unchanged or run.rows_deleted:
        counts += f", {run.rows_unchanged:,} unchanged, {run.rows_deleted:,} deleted or cleared"
    return f"{Run.Status(run.status).label}: {counts}."


def _handle_unclaimed(run_id: int) -> None:
    """A delivery for a run that is not queued: leave it, fail it if its worker died, or
    finish the bookkeeping a previous delivery did not get to."""
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        logger.info("Run %s no longer exists; nothing to do", run_id)
        return
    if run.status == Run.Status.RUNNING:
        cutoff = timezone.now() - timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS)
        if run.heartbeat_at is None or run.heartbeat_at < cutoff:
            _resume_or_fail_stale(run_id, cutoff)
        else:
            logger.info("Run %s is already running on another worker", run_id)
        return
    if run.status != Run.Status.QUEUED and run.progress.get("notified") is False:
        after_finish(run_id)


# --- After the end: auto-disable and mail -----------------------------------------------


def after_finish(run_id: int) -> None:
    """Account the run toward auto-disable and send its mail, each once."""
    disabled = _account(run_id)
    run = Run.objects.select_related("activation__segment", "activation__connection").get(pk=run_id)
    if disabled:
        notifications.notify_activation_disabled(run.activation, run)
    if run.progress.get("notified") is False:
        notifications.notify_run_finished(run)
        _merge_progress(run_id, notified=True)
    _record_audience_size(run)


def _record_audience_size(run: Run) -> None:
    """The segment's size as this run read it, for its chart and drift mail (a test run
    reads only its first rows, so it does not count)."""
    if (
        run.trigger == Run.Trigger.TEST
        or run.status not in (Run.Status.SUCCEEDED, Run.Status.PARTIALLY_FAILED)
        or run.progress.get("size_recorded")
    ):
        return
    try:
        sizes.record_size(
            run.activation.segment, reason=AudienceSize.Reason.RUN, size=run.rows_read
        )
    except Exception:
        # The run is done; a failed statistic must not change how it ended.
        logger.exception("Could not record the audience size after run %s", run.pk)
        return
    _merge_progress(run.pk, size_recorded=True)


def _account(run_id: int) -> bool:
    """Count a scheduled configuration failure (any success resets the count) and disable
    the activation at the limit. Returns True if this call disabled it."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.progress.get("accounted") is not False:
            return False
        activation = Activation.objects.select_for_update().get(pk=run.activation_id)
        disabled = False
        if run.status in (Run.Status.SUCCEEDED, Run.Status.PARTIALLY_FAILED):
            activation.consecutive_failures = 0
        elif (
            run.status == Run.Status.FAILED
            and run.config_error
            and run.trigger == Run.Trigger.SCHEDULE
        ):
            activation.consecutive_failures += 1
            limit = settings.ACTIVATION_DISABLE_AFTER_FAILURES
            if activation.enabled and activation.consecutive_failures >= limit:
                activation.enabled = False
                activation.disabled_reason = (
                    f"Disabled automatically after {activation.consecutive_failures} scheduled "
                    f"runs in a row failed on a configuration error. Last error: {run.error}"
                )
                disabled = True
        activation.save(update_fields=["consecutive_failures", "enabled", "disabled_reason"])
        if disabled:
            beat.sync_periodic_task(activation)
        run.progress = {**run.progress, "accounted": True}
        if disabled:
            run.log = [
                *run.log,
                {"at": timezone.now().isoformat(), "message": activation.disabled_reason},
            ]
        run.save(update_fields=["progress", "log"])
    return disabled


def _merge_progress(run_id: int, **changes) -> None:
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is not None:
            run.progress = {**run.progress, **changes}
            run.save(update_fields=["progress"])


# --- Dead runs and lost messages --------------------------------------------------------


def mark_stale_runs() -> int:
    """Fail running runs whose heartbeat is older than RUN_STALE_AFTER_SECONDS (their worker
    died), and send again the task of queued runs no worker started within that time (the
    message was lost; a duplicate message is harmless, the claim is conditional). Returns
    the number of runs marked failed."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS)
    stale = Run.objects.filter(status=Run.Status.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    failed = 0
    for run_id in stale.values_list("pk", flat=True):
        if _resume_or_fail_stale(run_id, cutoff) == "failed":
            failed += 1
    for run in Run.objects.filter(status=Run.Status.QUEUED, queued_at__lt=cutoff):
        _republish_if_lost(run, now=now, cutoff=cutoff)
    return failed


def _resume_or_fail_stale(run_id: int, cutoff: datetime) -> str | None:
    """A stale run is resumed when it was recorded step by step (and not resumed too often
    already), failed otherwise. Returns "resumed", "failed" or None (not stale after all)."""
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        return None
    if run.progress.get("resumable"):
        resumes = run.progress.get("resumes", 0)
        if resumes < settings.RUN_MAX_RESUMES:
            return "resumed" if _resume(run_id, cutoff) else None
        reason = (
            f"It was already resumed {resumes} times (RUN_MAX_RESUMES), so it is not resumed again."
        )
    else:
        reason = ""
    if _fail_stale(run_id, cutoff, reason=reason):
        after_finish(run_id)
        return "failed"
    return None


def _resume(run_id: int, cutoff: datetime) -> bool:
    """Queue a dead worker's recorded run again; any live worker picks it up and carries on
    from its recorded steps."""
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != Run.Status.RUNNING:
            return False
        last_sign = run.heartbeat_at or run.started_at
        if last_sign is not None and last_sign >= cutoff:
            return False
        since = last_sign.strftime("%Y-%m-%d %H:%M:%S UTC") if last_sign else "its start"
        now = timezone.now()
        resumes = run.progress.get("resumes", 0) + 1
        message = (
            f"The worker stopped (no heartbeat since {since}); the run is resumed from its "
            f"recorded steps (resume {resumes} of at most {settings.RUN_MAX_RESUMES})."
        )
        run.status = Run.Status.QUEUED
        run.heartbeat_at = None
        run.progress = {**run.progress, "resumes": resumes, "republished_at": now.isoformat()}
        run.log = [*run.log, {"at": now.isoformat(), "message": message}]
        run.save(update_fields=["status", "heartbeat_at", "progress", "log"])
        transaction.on_commit(lambda: publish_run(run_id))
    logger.warning("Run %s resumed: %s", run_id, message)
    return True


def request_shutdown(worker: str) -> int:
    """This worker is shutting down (SIGTERM): ask its recorded runs to stop between two
    steps and be handed over (their heartbeat threads pass it on). Returns how many."""
    running = Run.objects.filter(
        status=Run.Status.RUNNING, progress__worker=worker, progress__resumable=True
    )
    asked = 0
    for run_id in running.values_list("pk", flat=True):
        _merge_progress(run_id, shutdown=True)
        asked += 1
    return asked


def _hand_over(run_id: int) -> None:
    """Queue a run its shutting-down worker stopped between two steps, for another worker."""
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != Run.Status.RUNNING:
            return
        now = timezone.now()
        message = (
            "The worker is shutting down: the run stopped between two steps and is resumed "
            "by another worker."
        )
        run.status = Run.Status.QUEUED
        run.heartbeat_at = None
        run.progress = {
            **run.progress,
            "shutdown": False,
            "worker": "",
            "republished_at": now.isoformat(),
        }
        run.log = [*run.log, {"at": now.isoformat(), "message": message}]
        run.save(update_fields=["status", "heartbeat_at", "progress", "log"])
        transaction.on_commit(lambda: publish_run(run_id))
    logger.warning("Run %s handed over: %s", run_id, message)


def _fail_stale(run_id: int, cutoff: datetime, *, reason: str = "") -> bool:
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != Run.Status.RUNNING:
            return False
        last_sign = run.heartbeat_at or run.started_at
        if last_sign is not None and last_sign >= cutoff:
            return False
        since = last_sign.strftime("%Y-%m-%d %H:%M:%S UTC") if last_sign else "its start"
        error = f"The worker stopped while the run was in progress (no heartbeat since {since})."
        if reason:
            error = f"{error} {reason}"
        unconfirmed = run.rows_read - run.rows_succeeded - run.rows_failed
        if unconfirmed > 0:
            error = f"{error} {_unconfirmed_sentence(unconfirmed, run.rows_read)}"
        now = timezone.now()
        run.status = Run.Status.FAILED
        run.error = error
        run.config_error = False
        run.rows_sent = run.rows_succeeded + run.rows_failed
        run.finished_at = now
        run.progress = {**run.progress, "accounted": False, "notified": False}
        run.log = [*run.log, {"at": now.isoformat(), "message": error}]
        run.save()
    logger.warning("Run %s marked failed: %s", run_id, error)
    return True


def _republish_if_lost(run: Run, *, now: datetime, cutoff: datetime) -> None:
    due = run.progress.get("due_at")
    due_at = datetime.fromisoformat(due) if due else run.queued_at
    last = run.progress.get("republished_at")
    last_at = datetime.fromisoformat(last) if last else None
    if due_at >= cutoff or (last_at is not None and last_at >= cutoff):
        return
    _merge_progress(run.pk, republished_at=now.isoformat())
    append_log(run.pk, "No worker had started the run; its task message was sent again.")
    logger.warning("Run %s was still queued; its task message was sent again", run.pk)
    publish_run(run.pk)
