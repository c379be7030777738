"""Keeping one django-celery-beat PeriodicTask in step with a schedule of our cron dialect.

For objects other than activations (which keep their own in activations/beat.py): the same
traps are handled the same way (see that module): crontab rows from explicit field lists in
the schedule's own time zone, rows changed only through the model so a running beat reloads,
`last_run_at` reset when the schedule changes so no slot of the old schedule fires.
"""

import json
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from common import schedules


@transaction.atomic
def sync_task(
    *,
    name: str,
    task: str,
    kwargs: dict,
    schedule_type: str,
    cron: str,
    timezone_name: str,
    enabled: bool = True,
    description: str = "",
) -> PeriodicTask | None:
    """Create, update or (no schedule) delete the PeriodicTask called `name`; return it."""
    expression = schedules.expression_for(schedule_type, cron)
    existing = PeriodicTask.objects.filter(name=name).first()
    if expression is None:
        if existing is not None:
            existing.delete()
        return None
    fields = schedules.to_crontab_fields(schedules.parse(expression))
    crontab, _ = CrontabSchedule.objects.get_or_create(**fields, timezone=ZoneInfo(timezone_name))
    periodic = existing or PeriodicTask(name=name)
    changed = periodic.pk is None or periodic.crontab_id != crontab.pk
    periodic.task = task
    periodic.kwargs = json.dumps(kwargs)
    periodic.args = "[]"
    periodic.crontab = crontab
    periodic.interval = periodic.solar = periodic.clocked = None
    periodic.one_off = False
    periodic.enabled = enabled
    periodic.description = description
    if changed and enabled:
        periodic.last_run_at = timezone.now()
    periodic.save()
    return periodic


def remove_task(name: str) -> None:
    for periodic in PeriodicTask.objects.filter(name=name):
        periodic.delete()  # through the model: bumps the change counter beat watches
