"""beat.py keeps one django-celery-beat PeriodicTask per scheduled activation, in step with it."""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from activations import beat
from activations.models import Activation
from tests.factories import (
    make_activation,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 5, 14, 9, 20, 30, tzinfo=UTC)


@pytest.fixture
def scheduled():
    """An activation scheduled every Monday at 06:30 in Tokyo, synced to beat."""
    activation = make_activation(
        schedule_type="cron",
        cron="30 6 1 * mon",
        timezone="Asia/Tokyo",
    )
    with time_machine.travel(NOW, tick=False):
        beat.sync_periodic_task(activation)
    return activation


def crontab_of(task):
    crontab = task.crontab
    return {
        "minute": crontab.minute,
        "hour": crontab.hour,
        "day_of_month": crontab.day_of_month,
        "month_of_year": crontab.month_of_year,
        "day_of_week": crontab.day_of_week,
        "timezone": str(crontab.timezone),
    }


def test_a_scheduled_activation_gets_one_periodic_task(scheduled):
    task = PeriodicTask.objects.get(name=f"activation:{scheduled.pk}")
    assert task.task == "activations.run_scheduled_activation"
    assert json.loads(task.kwargs) == {"activation_id": scheduled.pk}
    assert json.loads(task.args) == []
    assert task.enabled is True
    assert task.one_off is False
    assert task.interval is None
    # The day of month is ignored (Mondays run more often), so it is "*" for celery.
    assert crontab_of(task) == {
        "minute": "30",
        "hour": "6",
        "day_of_month": "*",
        "month_of_year": "*",
        "day_of_week": "1",
        "timezone": "Asia/Tokyo",
    }
    assert task.crontab.timezone == ZoneInfo("Asia/Tokyo")
    assert Activation.objects.get(pk=scheduled.pk).periodic_task_id == task.pk
    assert scheduled.periodic_task == task
    assert PeriodicTask.objects.filter(name__startswith="activation:").count() == 1


def test_a_new_task_counts_from_the_time_it_was_made(scheduled):
    assert scheduled.periodic_task.last_run_at == NOW


def test_syncing_again_changes_nothing(scheduled):
    task_id, crontab_id = scheduled.periodic_task_id, scheduled.periodic_task.crontab_id
    beat.sync_periodic_task(scheduled)
    beat.sync_periodic_task(Activation.objects.get(pk=scheduled.pk))
    assert list(PeriodicTask.objects.values_list("pk", "crontab_id")) == [(task_id, crontab_id)]
    assert CrontabSchedule.objects.count() == 1
    assert PeriodicTask.objects.get(pk=task_id).last_run_at == NOW


def test_changing_the_cron_updates_the_same_task(scheduled):
    task_id = scheduled.periodic_task_id
    scheduled.cron = "0 0 */5 * *"
    scheduled.save()
    beat.sync_periodic_task(scheduled)
    task = PeriodicTask.objects.get()
    assert task.pk == task_id
    assert crontab_of(task) == {
        "minute": "0",
        "hour": "0",
        "day_of_month": "5,10,15,20,25,30",
        "month_of_year": "*",
        "day_of_week": "*",
        "timezone": "Asia/Tokyo",
    }


def test_changing_the_schedule_restarts_it_from_now(scheduled):
    # A task last run long ago would be fired at once for the slot the old schedule missed.
    PeriodicTask.objects.filter(pk=scheduled.periodic_task_id).update(
        last_run_at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    scheduled.cron = "15 8 * * *"
    later = NOW + timedelta(days=3)
    with time_machine.travel(later, tick=False):
        beat.sync_periodic_task(scheduled)
    assert PeriodicTask.objects.get().last_run_at == later


def test_a_change_that_keeps_the_schedule_keeps_the_last_run(scheduled):
    last_run = datetime(2024, 5, 13, 21, 30, tzinfo=UTC)
    PeriodicTask.objects.filter(pk=scheduled.periodic_task_id).update(last_run_at=last_run)
    scheduled.name = "Renamed"
    scheduled.delay_seconds = 600
    scheduled.save()
    beat.sync_periodic_task(scheduled)
    assert PeriodicTask.objects.get().last_run_at == last_run


def test_changing_the_time_zone_changes_the_crontab_zone(scheduled):
    scheduled.timezone = "America/New_York"
    beat.sync_periodic_task(scheduled)
    task = PeriodicTask.objects.get()
    assert task.crontab.timezone == ZoneInfo("America/New_York")
    assert crontab_of(task)["hour"] == "6"


def test_hourly_and_daily_become_crontabs(scheduled):
    scheduled.schedule_type = "hourly"
    beat.sync_periodic_task(scheduled)
    assert crontab_of(PeriodicTask.objects.get()) == {
        "minute": "0",
        "hour": "*",
        "day_of_month": "*",
        "month_of_year": "*",
        "day_of_week": "*",
        "timezone": "Asia/Tokyo",
    }
    scheduled.schedule_type = "daily"
    beat.sync_periodic_task(scheduled)
    assert crontab_of(PeriodicTask.objects.get())["hour"] == "0"
    assert PeriodicTask.objects.count() == 1


def test_disabling_and_enabling_the_activation_mirrors_on_the_task(scheduled):
    scheduled.enabled = False
    scheduled.save()
    beat.sync_periodic_task(scheduled)
    task = PeriodicTask.objects.get()
    assert task.enabled is False
    scheduled.enabled = True
    scheduled.save()
    beat.sync_periodic_task(scheduled)
    task.refresh_from_db()
    assert task.enabled is True
    assert PeriodicTask.objects.count() == 1


def test_setting_the_schedule_to_none_deletes_the_task(scheduled):
    scheduled.schedule_type = "none"
    scheduled.save()
    assert beat.sync_periodic_task(scheduled) is None
    assert PeriodicTask.objects.count() == 0
    assert scheduled.periodic_task is None
    assert Activation.objects.get(pk=scheduled.pk).periodic_task_id is None
    # A schedule set again gets a new task.
    scheduled.schedule_type = "daily"
    beat.sync_periodic_task(scheduled)
    assert PeriodicTask.objects.get().name == f"activation:{scheduled.pk}"


def test_removing_before_deleting_the_activation_leaves_no_task(scheduled):
    beat.remove_periodic_task(scheduled)
    scheduled.delete()
    assert PeriodicTask.objects.count() == 0
    assert Activation.objects.count() == 0


def test_removing_an_activation_without_schedule_is_harmless(scheduled):
    scheduled.schedule_type = "none"
    beat.sync_periodic_task(scheduled)
    beat.remove_periodic_task(scheduled)
    assert PeriodicTask.objects.count() == 0


def test_each_activation_has_its_own_task_and_equal_schedules_share_a_crontab(scheduled):
    other = make_activation(
        segment=scheduled.segment,
        connection=scheduled.connection,
        name="Other",
        schedule_type="cron",
        cron="30 6 * * 1",  # the same runs as "30 6 1 * mon"
        timezone="Asia/Tokyo",
    )
    beat.sync_periodic_task(other)
    tasks = PeriodicTask.objects.order_by("name")
    assert [task.name for task in tasks] == sorted(
        [f"activation:{scheduled.pk}", f"activation:{other.pk}"]
    )
    assert CrontabSchedule.objects.count() == 1
    beat.remove_periodic_task(other)
    assert list(PeriodicTask.objects.values_list("name", flat=True)) == [
        f"activation:{scheduled.pk}"
    ]


def test_a_task_left_without_link_is_taken_over_not_duplicated(scheduled):
    Activation.objects.filter(pk=scheduled.pk).update(periodic_task=None)
    fresh = Activation.objects.get(pk=scheduled.pk)
    beat.sync_periodic_task(fresh)
    assert PeriodicTask.objects.count() == 1
    assert Activation.objects.get(pk=scheduled.pk).periodic_task_id == PeriodicTask.objects.get().pk


def test_a_schedule_change_tells_beat(scheduled):
    # A running beat reloads its schedule only when this change counter moves.
    before = PeriodicTasks.last_change()
    scheduled.cron = "0 12 * * *"
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        beat.sync_periodic_task(scheduled)
    assert PeriodicTasks.last_change() == NOW + timedelta(minutes=5)
    assert PeriodicTasks.last_change() > before


def test_disabling_tells_beat(scheduled):
    scheduled.enabled = False
    with time_machine.travel(NOW + timedelta(minutes=7), tick=False):
        beat.sync_periodic_task(scheduled)
    assert PeriodicTasks.last_change() == NOW + timedelta(minutes=7)


def test_deleting_tells_beat(scheduled):
    with time_machine.travel(NOW + timedelta(minutes=9), tick=False):
        beat.remove_periodic_task(scheduled)
    assert PeriodicTasks.last_change() == NOW + timedelta(minutes=9)


def test_sync_writes_only_the_link_on_the_activation(scheduled):
    Activation.objects.filter(pk=scheduled.pk).update(periodic_task=None)
    scheduled.periodic_task = None
    scheduled.name = "Unsaved name"
    beat.sync_periodic_task(scheduled)
    stored = Activation.objects.get(pk=scheduled.pk)
    assert stored.name == "Push to Contacts"
    assert stored.periodic_task_id == scheduled.periodic_task_id is not None


# The slot a firing belongs to ------------------------------------------------------------------


def test_scheduled_slot_is_the_slot_that_fired(scheduled):
    # Mondays 06:30 in Tokyo; beat fired on Monday 2024-05-20 at 06:30:00.4.
    fired_at = datetime(2024, 5, 20, 6, 30, 0, 400_000, tzinfo=ZoneInfo("Asia/Tokyo"))
    slot = beat.scheduled_slot(scheduled, fired_at)
    assert slot == datetime(2024, 5, 19, 21, 30, tzinfo=UTC)
    assert slot.isoformat() == "2024-05-20T06:30:00+09:00"


def test_a_late_or_repeated_firing_gives_the_same_slot(scheduled):
    first = datetime(2024, 5, 19, 21, 30, 1, tzinfo=UTC)
    again = datetime(2024, 5, 19, 23, 5, 0, tzinfo=UTC)
    assert beat.scheduled_slot(scheduled, first) == beat.scheduled_slot(scheduled, again)


def test_scheduled_slot_follows_the_time_zone_across_dst(scheduled):
    scheduled.schedule_type = "cron"
    scheduled.cron = "30 2 * * *"
    scheduled.timezone = "Europe/Berlin"
    # 2024-03-31 02:30 does not exist in Berlin; beat fires at 03:30 CEST (01:30 UTC).
    slot = beat.scheduled_slot(scheduled, datetime(2024, 3, 31, 1, 30, 0, 300_000, tzinfo=UTC))
    assert slot.isoformat() == "2024-03-31T03:30:00+02:00"


def test_scheduled_slot_without_schedule_is_the_minute_of_the_firing(scheduled):
    scheduled.schedule_type = "none"
    fired_at = datetime(2024, 5, 20, 6, 30, 42, 5, tzinfo=UTC)
    assert beat.scheduled_slot(scheduled, fired_at) == datetime(2024, 5, 20, 6, 30, tzinfo=UTC)
