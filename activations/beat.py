"""The only module that touches django-celery-beat rows: one PeriodicTask per scheduled activation.

Beat (activations/scheduler.py) fires the task `activations.run_scheduled_activation` at each
run time of the schedule, with the slot in the message; the delay of execution is applied by
that task (it records the slot and starts the run `delay_seconds` later), so the crontab row
holds exactly the slots we show.

django-celery-beat traps handled here:
- each CrontabSchedule carries its own time zone; we store the activation's zone there, and
  the fields come from schedules.to_crontab_fields() (explicit lists), never the user's text;
- beat reloads only when the PeriodicTasks change counter moves, which PeriodicTask.save() and
  delete() do but a queryset update() does not, so rows are only changed through the model;
- beat catches up a slot that passed since `last_run_at`, so a changed schedule restarts from
  now instead of firing at once for a slot of the old one.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from activations.models import Activation
from common import schedules

RUN_SCHEDULED_ACTIVATION_TASK = "activations.run_scheduled_activation"


def periodic_task_name(activation_id: int) -> str:
    return f"activation:{activation_id}"


@transaction.atomic
def sync_periodic_task(activation: Activation) -> PeriodicTask | None:
    """Make the activation's PeriodicTask match its schedule, time zone and `enabled`.

    Creates, updates or (schedule "none") deletes the row named `activation:<pk>` and stores
    it on `activation.periodic_task` (written with an UPDATE of that one column, so the caller's
    other unsaved changes are neither saved nor lost). The activation's schedule must be valid
    (services validate it with schedules.validate first). Returns the task, or None.
    """
    expression = schedules.expression_for(activation.schedule_type, activation.cron)
    if expression is None:
        remove_periodic_task(activation)
        return None

    fields = schedules.to_crontab_fields(schedules.parse(expression))
    crontab = _crontab(fields, activation.timezone)
    task = _existing_task(activation) or PeriodicTask(name=periodic_task_name(activation.pk))
    schedule_changed = task.pk is None or task.crontab_id != crontab.pk
    task.name = periodic_task_name(activation.pk)
    task.task = RUN_SCHEDULED_ACTIVATION_TASK
    task.kwargs = json.dumps({"activation_id": activation.pk})
    task.args = "[]"
    task.crontab = crontab
    task.interval = task.solar = task.clocked = None
    task.one_off = False
    task.enabled = activation.enabled
    task.description = f"Scheduled runs of activation {activation.pk} ({activation.name})"
    if schedule_changed and activation.enabled:
        # Without this, beat would fire at once for a slot of the old schedule that passed
        # since the last run; the next run is the one next_runs() shows from now.
        task.last_run_at = timezone.now()
    task.save()  # bumps PeriodicTasks, so a running beat reloads within seconds

    if activation.periodic_task_id != task.pk:
        Activation.objects.filter(pk=activation.pk).update(periodic_task=task)
        activation.periodic_task = task
    return task


@transaction.atomic
def remove_periodic_task(activation: Activation) -> None:
    """Delete the activation's PeriodicTask, if any, and clear `activation.periodic_task`.

    Call it before deleting an activation (its foreign key does not cascade to the task).
    """
    task = _existing_task(activation)
    if task is not None:
        task.delete()  # bumps PeriodicTasks too
    if activation.periodic_task_id is not None:
        if activation.pk is not None:
            Activation.objects.filter(pk=activation.pk).update(periodic_task=None)
        activation.periodic_task = None


@receiver(post_delete, sender=Activation, dispatch_uid="activations.beat.delete_periodic_task")
def delete_periodic_task_of_deleted_activation(sender, instance: Activation, **kwargs) -> None:
    """Delete the PeriodicTask of an activation deleted any other way than through the
    services (its segment or workspace deleted, the admin): the foreign key points from the
    activation to the task, so nothing cascades, and beat would fire for an activation that
    no longer exists."""
    remove_orphan_periodic_task(instance.pk, task_id=instance.periodic_task_id)


def remove_orphan_periodic_task(activation_id: int, *, task_id: int | None = None) -> None:
    """Delete the PeriodicTask of an activation that no longer exists (by id and by name),
    through the model so a running beat reloads."""
    tasks = PeriodicTask.objects.filter(name=periodic_task_name(activation_id))
    if task_id is not None:
        tasks = tasks | PeriodicTask.objects.filter(pk=task_id)
    for task in tasks:
        task.delete()


def _crontab(fields: dict[str, str], tz_name: str) -> CrontabSchedule:
    """The CrontabSchedule with these fields and zone, reused if one exists. django-celery-beat
    has no unique constraint: the admin or two concurrent first saves can leave duplicates,
    which get_or_create() would refuse with MultipleObjectsReturned; the oldest is taken."""
    tz = ZoneInfo(tz_name)
    existing = CrontabSchedule.objects.filter(**fields, timezone=tz).order_by("pk").first()
    return existing or CrontabSchedule.objects.create(**fields, timezone=tz)


def _existing_task(activation: Activation) -> PeriodicTask | None:
    # By id first; by name too, for a row left behind by an interrupted earlier sync.
    if activation.periodic_task_id is not None:
        task = PeriodicTask.objects.filter(pk=activation.periodic_task_id).first()
        if task is not None:
            return task
    return PeriodicTask.objects.filter(name=periodic_task_name(activation.pk)).first()


# Beat sends a due slot within a second or so; a slot sent later than this was missed while
# beat was down (or stuck), and the activation's catch-up policy decides whether it runs.
MISSED_AFTER = timedelta(minutes=1)
# Only for a firing without its slot (see tasks.run_scheduled_activation): a worker whose clock
# is a little behind beat's must not take it for the previous slot.
CLOCK_SKEW = timedelta(seconds=5)


def missed_while_down(slot: datetime, fired_at: datetime) -> bool:
    """Whether beat fired `slot` so late (at `fired_at`, its own clock) that it was down."""
    return fired_at - slot > MISSED_AFTER


def scheduled_slot(activation: Activation, fired_at: datetime) -> datetime:
    """The schedule slot of a firing that did not carry one, from the time it was received
    (`fired_at`, with a few seconds of clock skew allowed), as an aware datetime.

    Firings sent by our scheduler (activations/scheduler.py) carry their slot on beat's
    clock and do not need this. When the schedule has no run (it was set to "none"
    meanwhile), `fired_at` rounded down to the minute.
    """
    slot = schedules.latest_run(
        activation.schedule_type, activation.cron, activation.timezone, at=fired_at + CLOCK_SKEW
    )
    if slot is None:
        return fired_at.replace(second=0, microsecond=0)
    return slot
