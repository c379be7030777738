"""Schedules at their edges, through beat itself (activations.scheduler, django-celery-beat's
DatabaseScheduler driving our schedule's is_due) and the task a firing runs: a worker clock
behind beat's, catch-up after beat was down, a crontab edited by hand. (Daylight-saving
changes, through the same scheduler: test_beat_dst.py.)

Only the sending of the message is replaced (by recording it with its arguments, as beat
evaluates them), as django-celery-beat's own tests do with tracking subclasses.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from celery.beat import _evaluate_entry_kwargs
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from activations import beat, tasks
from activations.models import Activation, Run
from activations.scheduler import ActivationEntry, ActivationScheduler
from config.celery import app as celery_app
from tests.factories import (
    make_activation,
    make_connection,
    make_parent_segment,
    make_segment,
    make_workspace,
)

# The scheduler commits and closes connections itself, as it does in a beat process.
pytestmark = pytest.mark.django_db(transaction=True)


class RecordingScheduler(ActivationScheduler):
    """Our scheduler, recording what it would send (with the arguments beat computes at
    sending time) instead of sending it."""

    producer = None  # never connect to a broker

    def __init__(self, *args, **kwargs):
        self.sent: list[tuple[str, datetime, dict]] = []
        super().__init__(*args, **kwargs)

    def setup_schedule(self):
        self.install_default_entries(self.schedule)

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        self.sent.append((entry.name, timezone.now(), _evaluate_entry_kwargs(entry.kwargs)))


@pytest.fixture(autouse=True)
def broker(monkeypatch):
    """Stands in for the broker: the run_activation messages of queued runs are recorded,
    not executed (the runs themselves are not under test here)."""
    sent = []
    monkeypatch.setattr(tasks.run_activation, "apply_async", lambda *a, **k: sent.append((a, k)))
    monkeypatch.setattr(tasks.run_activation, "delay", lambda *a, **k: sent.append((a, k)))
    return sent


def run_beat(start: datetime, end: datetime) -> list[tuple[str, datetime, dict]]:
    """Tick a scheduler from start to end (frozen time, moved by the delays beat asks for)."""
    with time_machine.travel(start, tick=False) as traveller:
        scheduler = RecordingScheduler(app=celery_app, max_interval=3600)
        for _ in range(100_000):
            if timezone.now() >= end:
                break
            delay = scheduler.tick()
            traveller.shift(timedelta(seconds=max(delay, 0.01)))
        else:
            raise AssertionError("the scheduler did not reach the end")
        scheduler.sync()  # as beat does when it stops: last_run_at is stored
        return scheduler.sent


def make_scheduled(tz_name: str, start: datetime, schedule_list, **fields):
    """An activation per (schedule type, cron) in `tz_name`, made at `start`, with its
    PeriodicTask."""
    workspace = make_workspace()
    segment = make_segment(parent=make_parent_segment(workspace=workspace))
    connection = make_connection(workspace=workspace)
    activations = []
    with time_machine.travel(start, tick=False):
        for index, (schedule_type, cron) in enumerate(schedule_list):
            activation = make_activation(
                segment=segment,
                connection=connection,
                name=f"{schedule_type} {cron} #{index}",
                schedule_type=schedule_type,
                cron=cron,
                timezone=tz_name,
                **fields,
            )
            beat.sync_periodic_task(activation)
            activations.append(activation)
    return activations


def whole_seconds(moment: datetime) -> datetime:
    return datetime.fromtimestamp(round(moment.timestamp()), UTC)


# The task on a worker whose clock differs from beat's ------------------------------------------


def beat_kwargs(activation: Activation, beat_time: datetime) -> dict:
    """The arguments beat sends for the activation's PeriodicTask at `beat_time`."""
    with time_machine.travel(beat_time, tick=False):
        entry = ActivationEntry(PeriodicTask.objects.get(pk=activation.periodic_task_id))
        return _evaluate_entry_kwargs(entry.kwargs)


def test_a_worker_30_seconds_behind_beat_fills_the_slot_beat_fired():
    (activation,) = make_scheduled(
        "Asia/Tokyo", datetime(2025, 3, 10, 8, 30, tzinfo=UTC), [("hourly", "")]
    )
    # Beat fires the 10:00 UTC slot; the worker's clock says 09:59:30.2.
    kwargs = beat_kwargs(activation, datetime(2025, 3, 10, 10, 0, 0, 200_000, tzinfo=UTC))
    assert kwargs["scheduled_for"] == "2025-03-10T19:00:00+09:00"

    with time_machine.travel(datetime(2025, 3, 10, 9, 59, 30, 200_000, tzinfo=UTC), tick=False):
        tasks.run_scheduled_activation.apply(kwargs=kwargs)

    run = Run.objects.get(activation=activation)
    assert run.trigger == Run.Trigger.SCHEDULE
    assert run.scheduled_for == datetime(2025, 3, 10, 10, 0, tzinfo=UTC)
    # The next firing, also received 30 s early by the worker's clock, fills the next slot.
    kwargs = beat_kwargs(activation, datetime(2025, 3, 10, 11, 0, 0, 100_000, tzinfo=UTC))
    Run.objects.filter(pk=run.pk).update(status=Run.Status.SUCCEEDED)
    with time_machine.travel(datetime(2025, 3, 10, 10, 59, 30, 100_000, tzinfo=UTC), tick=False):
        tasks.run_scheduled_activation.apply(kwargs=kwargs)
    assert list(
        Run.objects.filter(activation=activation)
        .order_by("scheduled_for")
        .values_list("scheduled_for", flat=True)
    ) == [datetime(2025, 3, 10, 10, 0, tzinfo=UTC), datetime(2025, 3, 10, 11, 0, tzinfo=UTC)]


# Catch-up after beat was down ------------------------------------------------------------------

DOWN_FROM = datetime(2025, 6, 2, 9, 0, 30, tzinfo=UTC)
BACK_AT = DOWN_FROM + timedelta(days=3, minutes=17)  # 2025-06-05 09:17:30 UTC


@pytest.mark.parametrize(
    ("catch_up", "runs"),
    [
        # The latest missed slot (09:15 UTC, 18:15 in Tokyo), once.
        (Activation.CatchUp.RUN_ONCE, [datetime(2025, 6, 5, 9, 15, tzinfo=UTC)]),
        (Activation.CatchUp.SKIP, []),
    ],
)
def test_after_three_days_down_beat_fires_once_and_the_policy_decides(catch_up, runs):
    (activation,) = make_scheduled(
        "Asia/Tokyo", DOWN_FROM, [("cron", "*/15 * * * *")], catch_up=catch_up
    )
    # Beat last fired just before going down; 288 slots pass while it is down.

    sent = run_beat(BACK_AT, BACK_AT + timedelta(minutes=1))

    firings = [kwargs for name, _, kwargs in sent if name == f"activation:{activation.pk}"]
    assert len(firings) == 1
    assert firings[0]["scheduled_for"] == "2025-06-05T18:15:00+09:00"
    with time_machine.travel(BACK_AT + timedelta(seconds=1), tick=False):
        tasks.run_scheduled_activation.apply(kwargs=firings[0])
    assert (
        list(Run.objects.filter(activation=activation).values_list("scheduled_for", flat=True))
        == runs
    )

    # Back to normal: the next slot fires on time, and runs whatever the policy.
    later = run_beat(BACK_AT + timedelta(minutes=1), BACK_AT + timedelta(minutes=14))
    firings = [kwargs for name, _, kwargs in later if name == f"activation:{activation.pk}"]
    assert [kwargs["scheduled_for"] for kwargs in firings] == ["2025-06-05T18:30:00+09:00"]
    Run.objects.filter(activation=activation).update(status=Run.Status.SUCCEEDED)
    with time_machine.travel(datetime(2025, 6, 5, 9, 30, 0, 50_000, tzinfo=UTC), tick=False):
        tasks.run_scheduled_activation.apply(kwargs=firings[0])
    assert Run.objects.filter(
        activation=activation, scheduled_for=datetime(2025, 6, 5, 9, 30, tzinfo=UTC)
    ).exists()


def test_a_crontab_edited_by_hand_out_of_our_dialect_does_not_stop_beat():
    (activation,) = make_scheduled(
        "UTC", datetime(2025, 3, 10, 8, 30, tzinfo=UTC), [("cron", "0 9 * * *")]
    )
    task = PeriodicTask.objects.get(pk=activation.periodic_task_id)
    task.crontab.minute = "*/70"  # celery reads it as minute 0; our dialect refuses it
    task.crontab.save()

    sent = run_beat(
        datetime(2025, 3, 10, 8, 30, tzinfo=UTC), datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
    )

    assert [at for name, at, _ in sent if name == task.name] != []
