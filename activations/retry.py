"""Retry failed rows: a new run (trigger "retry") that sends exactly the rows a finished run
failed, read again from the segment with their current values. A failed row is known by its
key (`FailedRow.key`, see activations/fingerprints.py); one that has left the segment since
is reported in the new run's log, not sent."""

from django.db import transaction

from .dispatch import request_run
from .models import FailedRow, Run


class NothingToRetry(Exception):
    """The run is still going, or no row of it failed."""


def failed_keys(run_id: int) -> tuple[set[str], int]:
    """The keys of the run's failed rows, and how many failed rows have no known key."""
    keys: set[str] = set()
    unknown = 0
    for key in FailedRow.objects.filter(run_id=run_id).values_list("key", flat=True).iterator():
        if key:
            keys.add(key)
        else:
            unknown += 1
    return keys, unknown


def request_retry(run: Run, *, user=None) -> Run:
    """Queue a run of the activation that sends the rows `run` failed. Raises NothingToRetry
    for an active run or one without failed rows, RunConflict while another run is active."""
    if run.is_active:
        raise NothingToRetry(f"Run {run.pk} has not finished yet.")
    if not run.failed_rows.exists():
        raise NothingToRetry(f"Run {run.pk} has no failed rows to retry.")
    with transaction.atomic():
        retry = request_run(activation=run.activation, trigger=Run.Trigger.RETRY, user=user)
        retry.progress = {**retry.progress, "retry_of": run.pk}
        retry.save(update_fields=["progress"])
    return retry
