"""What a recorded run does before it sends its chunks (steps.py), as recorded steps too, so
that a truncate or an update by another key is resumed like an insert.

- The run's query job (`connector.pre_steps`): its id is stored in `Run.progress` as soon as
  it exists, before anything reads it. A resumed run reads the results of that same job
  again (query job results stay available) instead of running another: update by another
  key looks its keys up in it, truncate deletes what it listed.
- Truncate ("empty"): the guard runs once more against the snapshot, then the listed Ids are
  stored as delete chunks (`RunChunk` kind "delete"), all at once, before the first delete;
  each delete job's id is stored before its upload, and its outcome with the chunk's end in
  one transaction. The deletion is fixed by the recorded listing, so a resumed truncate never
  deletes the rows it has begun to insert. A record that could not be deleted fails the run
  before any row is inserted, as an unrecorded truncate does.
"""

import time

from django.db import transaction

from connectors.base import ConnectorError, ExportParams

from . import guards, steps
from .models import Run, RunChunk


def deletes_ahead(run: Run) -> bool:
    """Whether the run's deletions (if its mode has any) are still to be decided: False
    once a truncate listed what it deletes (a resume then is past the guard)."""
    return not run.progress.get("deletes_listed")


def before_chunks(run: Run, connector, params: ExportParams, columns, recorder) -> None:
    """The recorded query job, and for truncate the delete steps; a no-op when the
    connector needs nothing before the chunks, or when it was all done before a resume."""
    kind = connector.pre_steps(params)
    if not kind:
        return
    run.refresh_from_db(fields=["progress"])
    if run.progress.get("emptied"):
        return
    job_id = run.progress.get("query_job") or _start_query(run, connector, params, recorder)
    connector.use_query(params, columns, job_id)
    if kind != "empty":
        return
    if not run.progress.get("deletes_listed"):
        # The last look before anything is deleted, at the rows the run will insert.
        guards.check_destructive_run(run.activation, size=run.rows_read)
        _list_deletes(run, connector, params, recorder)
    _send_deletes(run, connector, params, recorder)


def _start_query(run: Run, connector, params: ExportParams, recorder) -> str:
    job_id = connector.start_query(params)
    with transaction.atomic():
        locked = _locked(run)
        locked.progress = {**locked.progress, "query_job": job_id}
        locked.salesforce_job_ids = [*locked.salesforce_job_ids, job_id]
        locked.save(update_fields=["progress", "salesforce_job_ids"])
    run.progress = locked.progress
    recorder.log(f"Salesforce query job {job_id} started.")
    return job_id


def _list_deletes(run: Run, connector, params: ExportParams, recorder) -> None:
    """Store the Ids the query job listed as delete chunks; a listing cut short by a dead
    worker is read again from the start (nothing was deleted yet)."""
    RunChunk.objects.filter(run=run, kind=RunChunk.Kind.DELETE).delete()
    number = 0
    total = 0
    batch: list[list[str]] = []

    def store() -> None:
        nonlocal number, batch
        number += 1
        RunChunk.objects.create(run=run, kind=RunChunk.Kind.DELETE, number=number, rows=batch)
        batch = []
        recorder.checkpoint()

    for record_id in connector.listed_ids(params):
        batch.append([record_id])
        total += 1
        if len(batch) >= params.batch_size:
            store()
    if batch:
        store()
    _merge(run, deletes_listed=True, deleted=0, delete_failed=0, delete_error="")
    recorder.log(f"{total:,} {params.object_name} records listed to delete before inserting.")


def _send_deletes(run: Run, connector, params: ExportParams, recorder) -> None:
    """One delete job per chunk not done, one at a time in this thread."""
    waiting = RunChunk.objects.filter(run=run, kind=RunChunk.Kind.DELETE, done=False)
    for chunk in waiting.order_by("number"):
        steps.delete_chunk(
            chunk,
            connector,
            params,
            recorder,
            on_job=lambda job_id, chunk=chunk: _store_job(run, chunk, job_id, recorder),
            # Looked up when called: a test stops the worker after this step.
            store=lambda outcome, chunk=chunk: _store_outcome(
                run, chunk, outcome, params, recorder
            ),
        )
    run.refresh_from_db(fields=["progress"])
    progress = run.progress
    failed, deleted = progress.get("delete_failed", 0), progress.get("deleted", 0)
    if failed:
        raise ConnectorError(
            f"Could not empty {params.object_name} before inserting: {failed} of "
            f"{deleted + failed} records were not deleted (first error: "
            f"{progress.get('delete_error')}). No rows were inserted.",
            retryable=progress.get("delete_error", "").startswith("UNABLE_TO_LOCK_ROW"),
        )
    _merge(run, emptied=True)
    verb = "Hard-deleted" if params.hard_delete else "Deleted"
    recorder.log(f"{verb} {deleted:,} {params.object_name} records before inserting.")


def _store_job(run: Run, chunk: RunChunk, job_id: str, recorder) -> None:
    with transaction.atomic():
        locked = _locked(run)
        RunChunk.objects.filter(pk=chunk.pk).update(job_id=job_id)
        locked.salesforce_job_ids = [*locked.salesforce_job_ids, job_id]
        locked.save(update_fields=["salesforce_job_ids"])
    chunk.job_id = job_id
    recorder.log(f"Salesforce delete job {job_id} started (delete chunk {chunk.number}).")


def _store_outcome(run: Run, chunk: RunChunk, outcome, params: ExportParams, recorder) -> None:
    """The delete job's counts and the chunk's end in one transaction; Ids that failed with
    UNABLE_TO_LOCK_ROW stay in the chunk for another job, up to the retry limit."""
    failed = list(outcome.failed)
    retry = bool(outcome.locked) and chunk.attempts < params.retry_limit
    if outcome.locked and not retry:
        failed.extend(outcome.locked_failures)
    with transaction.atomic():
        locked = _locked(run)
        progress = locked.progress
        locked.progress = {
            **progress,
            "deleted": progress.get("deleted", 0) + outcome.succeeded,
            "delete_failed": progress.get("delete_failed", 0) + len(failed),
            "delete_error": progress.get("delete_error") or (failed[0].error if failed else ""),
        }
        locked.save(update_fields=["progress"])
        steps.end_chunk(chunk, locked=[[values[0]] for values in outcome.locked] if retry else None)
    if retry:
        time.sleep(min(60.0, params.retry_initial_delay * 2 ** (chunk.attempts - 1)))
        recorder.log(
            f"Deleting {len(outcome.locked)} records again that failed with UNABLE_TO_LOCK_ROW "
            f"(retry {chunk.attempts} of {params.retry_limit})"
        )


def _merge(run: Run, **changes) -> None:
    with transaction.atomic():
        locked = _locked(run)
        locked.progress = {**locked.progress, **changes}
        locked.save(update_fields=["progress"])
    run.progress = locked.progress


def _locked(run: Run) -> Run:
    locked = Run.objects.select_for_update().filter(pk=run.pk).first()
    if locked is None or locked.status != Run.Status.RUNNING:
        raise steps.Taken()
    return locked
