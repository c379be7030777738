"""Resumable runs: a run as recorded steps, so that a run whose worker died is resumed by
another worker, sending no row twice and losing none.

1. Snapshot: the segment's rows, rendered once, stored as RunChunk rows (one per job), so a
   resumed run sends the same rows in the same chunks whatever changed in the segment since.
2. Per chunk: the job id is stored before its upload starts (connector `run_step` calls
   `on_job`); the outcomes (counts, failed rows) and the chunk's end are stored together in
   one transaction. A resumed step with a recorded job id asks Salesforce what became of the
   job instead of sending the rows again.
"""

import time

from django.db import transaction
from django.db.models import F

from connectors.base import ExportParams

from .models import FailedRow, Run, RunChunk

# Rows stored per INSERT of a snapshot chunk's failed rows.
FAILED_ROWS_PER_INSERT = 1000


class Taken(Exception):
    """The run is no longer ours (cancelled while dead, marked failed, deleted)."""


def take_snapshot(run: Run, rows, *, batch_size: int, recorder) -> int:
    """Store the rendered rows in chunks of `batch_size`, once: a snapshot cut short by a
    dead worker is taken again from the start. Returns the number of rows."""
    if run.progress.get("snapshot"):
        return run.rows_read
    RunChunk.objects.filter(run=run).delete()
    total = 0
    number = 0
    batch: list[list[str]] = []

    def store(batch: list[list[str]]) -> None:
        nonlocal number
        number += 1
        RunChunk.objects.create(run=run, number=number, rows=batch)
        recorder.checkpoint()

    for values in rows:
        batch.append(list(values))
        total += 1
        if len(batch) >= batch_size:
            store(batch)
            batch = []
    if batch:
        store(batch)
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.status != Run.Status.RUNNING:
            raise Taken()
        locked.rows_read = total
        locked.progress = {**locked.progress, "snapshot": True}
        locked.save(update_fields=["rows_read", "progress"])
    run.refresh_from_db()
    recorder.log(f"Snapshot taken: {total:,} rows in {number} chunks.")
    return total


def send_chunks(run: Run, connector, params: ExportParams, columns, recorder) -> None:
    """Send every chunk not yet done, in order, one job at a time; each step's outcome is
    stored with the chunk's progress in one transaction."""
    for chunk in RunChunk.objects.filter(run=run, done=False).order_by("number"):
        while not chunk.done:
            recorder.checkpoint()
            _step(run, chunk, connector, params, columns, recorder)


def _step(run: Run, chunk: RunChunk, connector, params, columns, recorder) -> None:
    def on_job(job_id: str) -> None:
        with transaction.atomic():
            locked = _locked_run(run.pk)
            RunChunk.objects.filter(pk=chunk.pk).update(job_id=job_id)
            locked.salesforce_job_ids = [*locked.salesforce_job_ids, job_id]
            locked.save(update_fields=["salesforce_job_ids"])
        chunk.job_id = job_id
        recorder.log(f"Salesforce job {job_id} started (chunk {chunk.number}).")

    outcome = connector.run_step(
        params,
        columns,
        chunk.rows,
        job_id=chunk.job_id,
        on_job=on_job,
        log=recorder.log,
        stop_requested=recorder.stop_requested,
    )
    failed = list(outcome.failed)
    retry = bool(outcome.locked) and chunk.attempts < params.retry_limit
    if outcome.locked and not retry:
        failed.extend(outcome.locked_failures)
    with transaction.atomic():
        _locked_run(run.pk)
        Run.objects.filter(pk=run.pk).update(
            rows_succeeded=F("rows_succeeded") + outcome.succeeded,
            rows_failed=F("rows_failed") + len(failed),
        )
        FailedRow.objects.bulk_create(
            [FailedRow(run_id=run.pk, values=list(row.values), error=row.error) for row in failed],
            batch_size=FAILED_ROWS_PER_INSERT,
        )
        if retry:
            chunk.rows = outcome.locked
            chunk.attempts += 1
            chunk.job_id = ""
        else:
            chunk.done = True
        chunk.save(update_fields=["rows", "attempts", "job_id", "done"])
    if retry:
        time.sleep(min(60.0, params.retry_initial_delay * 2 ** (chunk.attempts - 1)))
        recorder.log(
            f"Retrying {len(outcome.locked)} rows that failed with UNABLE_TO_LOCK_ROW "
            f"(retry {chunk.attempts} of {params.retry_limit})"
        )


def _locked_run(run_id: int) -> Run:
    run = Run.objects.select_for_update().filter(pk=run_id).first()
    if run is None or run.status != Run.Status.RUNNING:
        raise Taken()
    return run


def rows_not_sent(run: Run) -> int:
    """Failed rows that never reached Salesforce (duplicates, a cancel before the job)."""
    return FailedRow.objects.filter(run=run, error__startswith="Not sent:").count()
