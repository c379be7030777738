"""What beat fires is what next_runs() shows, across daylight-saving changes: New York, Berlin,
London and Lord Howe (a half-hour change), and a schedule changed or disabled while beat runs.

The real scheduler (activations.scheduler, django-celery-beat's DatabaseScheduler driving our
schedule's is_due) reads the PeriodicTask and CrontabSchedule rows beat.py wrote and is ticked
through a day and a half with time-machine; only the sending of the message is replaced (by
recording it), as django-celery-beat's own tests do with tracking subclasses.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from activations import beat
from common import schedules
from config.celery import app as celery_app
from tests.activations.test_schedule_edges import (
    RecordingScheduler,
    make_scheduled,
    run_beat,
    whole_seconds,
)

# The scheduler commits and closes connections itself, as it does in a beat process.
pytestmark = pytest.mark.django_db(transaction=True)

# Slots in and around the changes: a gap, two slots in a gap, a repeated hour, a range across it.
EDGES = [
    ("hourly", ""),
    ("cron", "30 1 * * *"),
    ("cron", "30 2 * * *"),
    ("cron", "0,30 2 * * *"),
    ("cron", "*/15 * * * *"),
    ("cron", "29-35 2 * * *"),
]
# The day rules on top, for windows that hold a Monday and the days they pick.
DAYS = [
    *EDGES,
    ("daily", ""),
    ("cron", "*/20 1-3 * * *"),
    ("cron", "0 0 1 * 1"),  # rule 1: Mondays
    ("cron", "45 3 */2,*/3 * *"),  # rule 2: multiples of 2 or 3
]


def window(name: str, tz_name: str, start: str, end: str, schedule_list=EDGES):
    """A parametrize case: the schedules in `tz_name`, beat ticked from start to end (UTC)."""
    moments = (datetime.fromisoformat(start + "+00:00"), datetime.fromisoformat(end + "+00:00"))
    return pytest.param(tz_name, *moments, schedule_list, id=name)


# The changes: New York 2025-03-09 02:00 -> 03:00 and 11-02 02:00 -> 01:00; Berlin 2024-03-31
# 02:00 -> 03:00 and 10-27 03:00 -> 02:00; London 2025-03-30 01:00 -> 02:00 and 10-26 02:00 ->
# 01:00; Lord Howe 2025-10-05 02:00 -> 02:30 and 04-06 02:00 -> 01:30.
WINDOWS = [
    window("new york spring", "America/New_York", "2025-03-08T17:00:10", "2025-03-09T19:00"),
    window("new york autumn", "America/New_York", "2025-11-01T17:00:10", "2025-11-02T18:00"),
    window("berlin spring", "Europe/Berlin", "2024-03-30T00:00:10", "2024-04-01T03:00", DAYS),
    window("berlin autumn", "Europe/Berlin", "2024-10-26T12:00:10", "2024-10-28T04:00", DAYS),
    window("london spring", "Europe/London", "2025-03-29T12:00:10", "2025-03-30T14:00"),
    window("london autumn", "Europe/London", "2025-10-25T12:00:10", "2025-10-26T14:00"),
    window("lord howe spring", "Australia/Lord_Howe", "2025-10-04T03:00:10", "2025-10-05T04:00"),
    window("lord howe autumn", "Australia/Lord_Howe", "2025-04-05T03:00:10", "2025-04-06T04:00"),
]


@pytest.mark.parametrize(("tz_name", "start", "end", "schedule_list"), WINDOWS)
def test_beat_fires_each_run_we_show_once_and_tells_it_its_slot(tz_name, start, end, schedule_list):
    activations = make_scheduled(tz_name, start, schedule_list)

    sent = run_beat(start, end)

    for activation in activations:
        name = f"activation:{activation.pk}"
        firings = [(at, kwargs) for task_name, at, kwargs in sent if task_name == name]
        shown = [
            run.astimezone(UTC)
            for run in schedules.next_runs(
                activation.schedule_type, activation.cron, tz_name, count=300, after=start
            )
            if run < end
        ]
        assert shown, activation.name  # every schedule here runs in the window
        # Beat fires exactly the runs next_runs shows ...
        assert [whole_seconds(at) for at, _ in firings] == shown, activation.name
        # ... and each firing carries the slot it fills, read on beat's clock.
        slots = [datetime.fromisoformat(kwargs["scheduled_for"]) for _, kwargs in firings]
        assert slots == shown, activation.name
        assert all(kwargs["activation_id"] == activation.pk for _, kwargs in firings)
    # Nothing else fires but beat's own housekeeping.
    names = {f"activation:{activation.pk}" for activation in activations}
    assert {task_name for task_name, _, _ in sent} - names <= {"celery.backend_cleanup"}


def shown(cron, tz_name, after, count):
    runs = schedules.next_runs("cron", cron, tz_name, count=count, after=after)
    return [run.isoformat() for run in runs]


def test_the_windows_hold_the_edges_the_policy_is_about():
    """The table above exercises what it claims: a moved, a merged and a repeated slot."""
    # Both slots of New York's gap run, an hour later.
    assert shown("0,30 2 * * *", "America/New_York", datetime(2025, 3, 8, 12, tzinfo=UTC), 2) == [
        "2025-03-09T03:00:00-04:00",
        "2025-03-09T03:30:00-04:00",
    ]
    # London's repeated 01:00-01:59 runs once, in summer time.
    assert shown("30 1 * * *", "Europe/London", datetime(2025, 10, 25, 12, tzinfo=UTC), 2) == [
        "2025-10-26T01:30:00+01:00",
        "2025-10-27T01:30:00+00:00",
    ]
    # Lord Howe's half-hour gap: 02:29 runs at 02:59, the real 02:30-02:35 still run.
    assert shown("29-35 2 * * *", "Australia/Lord_Howe", datetime(2025, 10, 4, tzinfo=UTC), 7)[
        -1
    ] == ("2025-10-05T02:59:00+11:00")
    # Berlin's 02:00-02:59 happens again in winter time and is not repeated.
    berlin_autumn = shown(
        "*/20 1-3 * * *", "Europe/Berlin", datetime(2024, 10, 26, 12, tzinfo=UTC), 9
    )
    assert berlin_autumn == [
        "2024-10-27T01:00:00+02:00",
        "2024-10-27T01:20:00+02:00",
        "2024-10-27T01:40:00+02:00",
        "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:20:00+02:00",
        "2024-10-27T02:40:00+02:00",
        "2024-10-27T03:00:00+01:00",
        "2024-10-27T03:20:00+01:00",
        "2024-10-27T03:40:00+01:00",
    ]


def test_a_changed_schedule_is_picked_up_by_a_running_beat():
    start = datetime(2024, 6, 3, 8, 0, 10, tzinfo=UTC)
    (activation,) = make_scheduled("Europe/Berlin", start, [("hourly", "")])
    name = f"activation:{activation.pk}"
    with time_machine.travel(start, tick=False) as traveller:
        # Beat wakes at least once a minute here: the change at 09:30 is seen before 09:45.
        scheduler = RecordingScheduler(app=celery_app, max_interval=60)

        def tick_until(moment):
            while timezone.now() < moment:
                traveller.shift(timedelta(seconds=max(scheduler.tick(), 0.01)))

        tick_until(datetime(2024, 6, 3, 9, 30, tzinfo=UTC))
        activation.schedule_type = "cron"
        activation.cron = "45 * * * *"
        activation.save()
        beat.sync_periodic_task(activation)
        tick_until(datetime(2024, 6, 3, 11, 50, tzinfo=UTC))
    fired = [whole_seconds(at) for task_name, at, _ in scheduler.sent if task_name == name]
    assert fired == [
        datetime(2024, 6, 3, 9, 0, tzinfo=UTC),  # hourly, 11:00 in Berlin
        datetime(2024, 6, 3, 9, 45, tzinfo=UTC),  # then at :45
        datetime(2024, 6, 3, 10, 45, tzinfo=UTC),
        datetime(2024, 6, 3, 11, 45, tzinfo=UTC),
    ]


def test_a_disabled_activation_is_not_fired_by_beat():
    start = datetime(2024, 6, 3, 8, 0, 10, tzinfo=UTC)
    activations = make_scheduled("Europe/Berlin", start, DAYS)
    with time_machine.travel(start, tick=False):
        for activation in activations:
            activation.enabled = False
            activation.save()
            beat.sync_periodic_task(activation)
    sent = run_beat(start, start + timedelta(hours=3))
    assert {task_name for task_name, _, _ in sent} <= {"celery.backend_cleanup"}
