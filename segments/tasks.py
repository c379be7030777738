"""Segment tasks run by Celery beat."""

from celery import shared_task

from . import sizes


@shared_task(name="segments.record_audience_sizes")
def record_audience_sizes() -> int:
    """Record every segment's audience size (daily, for the size chart and drift mails)."""
    return sizes.record_all_sizes()
