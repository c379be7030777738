"""An incremental run's rows that left the segment (`export.on_leave`), as recorded steps.

Which keys left is decided once, at the snapshot (activations/steps.py): the keys with a
fingerprint that the segment's SELECT no longer gave. With on_leave "clear" each becomes a
row clearing every field but the key, stored as a chunk of kind "leave-clear" and sent like
the rows (its accepted rows' fingerprints are forgotten in the outcome's transaction). With
"delete" the keys are stored as chunks of kind "leave-delete", deleted after every other
chunk through `Connector.delete`: each accepted delete forgets its key's fingerprint in the
transaction that counts it, and each failure is stored with its key, so a resumed run sends
again only the keys with no stored outcome; a key whose delete job ran but whose outcome was
not stored yet (the worker died in between) is deleted again and fails as not found.
"""

from collections.abc import Iterator, Sequence

from django.db import transaction
from django.db.models import F

from . import fingerprints, steps
from .models import Activation, FailedRow, Fingerprint, Run, RunChunk


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


def send_deletes(run: Run, connector, params, recorder) -> None:
    """Delete the records of the recorded leaving keys, chunk by chunk, skipping the keys
    whose outcome a previous attempt stored (fingerprint forgotten, or a failed row)."""
    waiting = RunChunk.objects.filter(run=run, kind=RunChunk.Kind.LEAVE_DELETE, done=False)
    for chunk in waiting.order_by("number"):
        recorder.checkpoint()  # heartbeat, and a cancel looked at
        if recorder.shutdown_requested.is_set():
            raise steps.ShutdownRequested()
        keys = [row[-1] for row in steps.chunk_rows(chunk)]
        known = set(
            Fingerprint.objects.filter(activation_id=run.activation_id, key__in=keys).values_list(
                "key", flat=True
            )
        )
        failed = set(FailedRow.objects.filter(run=run, key__in=keys).values_list("key", flat=True))
        todo = [key for key in keys if key in known and key not in failed]
        if todo:
            recorder.log(f"Deleting the records of {len(todo):,} rows that left the segment.")
            connector.delete(params, todo, _DeleteSink(run.activation_id, recorder))
        RunChunk.objects.filter(pk=chunk.pk).update(done=True)


class _DeleteSink:
    """The ResultSink of a leavers' delete: outcome rows are one-cell rows [key]."""

    def __init__(self, activation_id: int, recorder) -> None:
        self.activation_id = activation_id
        self.recorder = recorder
        self.stop_requested = recorder.stop_requested

    def job_started(self, job_id: str) -> None:
        self.recorder.job_started(job_id)

    def rows_succeeded(self, count: int) -> None:  # rows_accepted is called instead
        self.recorder.rows_succeeded(count)

    def rows_accepted(self, rows: Sequence[Sequence[str]]) -> None:
        keys = [row[0] for row in rows if row]
        with transaction.atomic():
            fingerprints.drop(self.activation_id, keys)
            self.recorder.add_counts(
                rows_succeeded=F("rows_succeeded") + len(rows),
                rows_deleted=F("rows_deleted") + len(keys),
            )
        self.recorder.checkpoint()

    def rows_failed(self, rows) -> None:
        rows = list(rows)
        self.recorder.rows_failed(rows, keys=[row.values[0] if row.values else "" for row in rows])

    def log(self, message: str) -> None:
        self.recorder.log(message)
