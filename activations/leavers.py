"""An incremental run's rows that left the segment (`export.on_leave`), as recorded steps.

Which keys left is decided once, at the snapshot (activations/steps.py): the keys with a
fingerprint that the segment's SELECT no longer gave. With on_leave "clear" each becomes a
row clearing every field but the key, stored as a chunk of kind "leave-clear" and sent like
the rows (its accepted rows' fingerprints are forgotten in the outcome's transaction). With
"delete" the keys are stored as chunks of kind "leave-delete", deleted after every other
chunk, each like a truncate's delete step (activations/prephase.py): the chunk's keys are
first turned into record Ids (`Connector.record_ids`), stored in the chunk as [Id, key] rows
together with the failures of keys naming no record, in one transaction; then the delete
job's id is stored before its upload, and its outcome, with the deleted keys' fingerprints
forgotten, in one transaction (`steps.store_outcome`). A resumed run asks Salesforce what
became of a recorded job instead of deleting again.
"""

import dataclasses
from collections.abc import Iterator

from django.db import transaction
from django.db.models import F

from . import fingerprints, steps
from .models import Activation, FailedRow, Run, RunChunk


def snapshot_rows(sync: fingerprints.RunSync) -> Iterator[tuple[str, list[str]]]:
    """The (kind, row) pairs of the rows that left, each row with its key last; read once
    the segment's rows went by (`sync.leavers()` is known then)."""
    if sync.only_keys is not None:  # a retry sends failed rows only
        return
    for key in sync.leavers():
        if sync.on_leave == Activation.OnLeave.CLEAR:
            yield RunChunk.Kind.LEAVE_CLEAR, [*sync.cleared(key), key]
        elif sync.on_leave == Activation.OnLeave.DELETE:
            yield RunChunk.Kind.LEAVE_DELETE, [key, key]


def has_deletes(run: Run) -> bool:
    return RunChunk.objects.filter(run=run, kind=RunChunk.Kind.LEAVE_DELETE).exists()


def send_deletes(run: Run, connector, params, recorder, tracker) -> None:
    """One delete job per "leave-delete" chunk not done, one at a time in this thread."""
    waiting = RunChunk.objects.filter(run=run, kind=RunChunk.Kind.LEAVE_DELETE, done=False)
    # Rows that left are deleted, never hard-deleted (that setting is truncate's).
    delete_params = dataclasses.replace(params, hard_delete=False)
    for chunk in waiting.order_by("number"):
        if not chunk.attempts and not chunk.job_id and isinstance(chunk.rows, dict):
            _record_ids(run, chunk, connector, params, recorder)
        steps.delete_chunk(
            chunk,
            connector,
            delete_params,
            recorder,
            on_job=lambda job_id, chunk=chunk: steps.store_job(run, chunk, job_id, recorder),
            store=lambda outcome, chunk=chunk: steps.store_outcome(
                run, chunk, outcome, delete_params, recorder, tracker
            ),
        )


def _record_ids(run: Run, chunk: RunChunk, connector, params, recorder) -> None:
    """Turn the chunk's keys into [Id, key] rows, storing the keys that name no record (or
    several) as failed rows, in one transaction; a chunk with no Id left is done."""
    keys = [row[-1] for row in steps.chunk_rows(chunk)]
    pairs, failures = connector.record_ids(params, keys, on_job=recorder.job_started)
    with transaction.atomic():
        steps.locked_run(run.pk)
        FailedRow.objects.bulk_create(
            [
                FailedRow(
                    run_id=run.pk, values=list(row.values), error=row.error, key=row.values[0]
                )
                for row in failures
            ]
        )
        Run.objects.filter(pk=run.pk).update(rows_failed=F("rows_failed") + len(failures))
        chunk.rows = [[record_id, key] for record_id, key in pairs]
        chunk.done = not pairs
        chunk.save(update_fields=["rows", "done"])
    recorder.log(
        f"Deleting the records of {len(pairs):,} rows that left the segment"
        + (f" ({len(failures):,} keys name no single record)." if failures else ".")
    )
