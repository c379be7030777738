"""Celery tasks of segments: parent segment refreshes and audience sizes. Ids only; the work
is in refresh.py and sizes.py.

The names are explicit and stable: django-celery-beat stores them in PeriodicTask.task.
"""

from celery import shared_task

from . import refresh, sizes, snapshots


@shared_task(name=refresh.REFRESH_TASK)
def refresh_parent_segment(refresh_id: int) -> None:
    refresh.execute_refresh(refresh_id)


@shared_task(name=refresh.SCHEDULED_REFRESH_TASK)
def refresh_scheduled(parent_segment_id: int) -> None:
    refresh.run_scheduled(parent_segment_id)


@shared_task(name="segments.record_audience_sizes")
def record_audience_sizes() -> int:
    """Record every segment's audience size (daily, for the size chart and drift mails)."""
    # And drop the snapshot tables nobody uses, e.g. of parents deleted with their workspace.
    snapshots.drop_unused()
    return sizes.record_all_sizes()
