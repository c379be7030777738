"""Celery tasks of segments: parent segment refreshes. Ids only; the work is in refresh.py.

The names are explicit and stable: django-celery-beat stores them in PeriodicTask.task.
"""

from celery import shared_task

from . import refresh


@shared_task(name=refresh.REFRESH_TASK)
def refresh_parent_segment(refresh_id: int) -> None:
    refresh.execute_refresh(refresh_id)


@shared_task(name=refresh.SCHEDULED_REFRESH_TASK)
def refresh_scheduled(parent_segment_id: int) -> None:
    refresh.run_scheduled(parent_segment_id)
