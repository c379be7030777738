"""What django-celery-beat fires is what next_runs() shows, across daylight-saving changes.

The real DatabaseScheduler reads the PeriodicTask and CrontabSchedule rows beat.py wrote and is
ticked through a day and a half with time-machine; only the sending of the message is replaced
(by recording it), as django-celery-beat's own tests do with tracking subclasses.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from activations import beat
from activations.scheduler import ActivationScheduler
from common import schedules
from config.celery import app as celery_app
from tests.activations.test_schedule_edges import make_scheduled

# The scheduler commits and closes connections itself, as it does in a beat process.
pytestmark = pytest.mark.django_db(transaction=True)


class RecordingScheduler(ActivationScheduler):
    """The database scheduler, recording what it would send instead of sending it."""

    producer = None  # never connect to a broker

    def __init__(self, *args, **kwargs):
        self.sent: list[tuple[str, datetime]] = []
        super().__init__(*args, **kwargs)

    def setup_schedule(self):
        # Only the rows beat.py writes (and beat's own default entry); the fixed jobs of
        # CELERY_BEAT_SCHEDULE, such as a task every minute, are not under test here.
        self.install_default_entries(self.schedule)

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        self.sent.append((entry.name, timezone.now()))


def run_beat(start: datetime, end: datetime) -> dict[str, list[datetime]]:
    """Tick a scheduler from start to end (frozen time, moved by the delays beat asks for)."""
    sent: list[tuple[str, datetime]] = []
    with time_machine.travel(start, tick=False) as traveller:
        # Beat wakes at least every 5 seconds; an hour here keeps the test fast. Each wake-up
        # is then more than 5 minutes after the last one, so the scheduler reloads the rows
        # every time, through its filter that leaves out crontabs whose hour is far from now.
        scheduler = RecordingScheduler(app=celery_app, max_interval=3600)
        for _ in range(100_000):
            if timezone.now() >= end:
                break
            delay = scheduler.tick()
            # A delay of 0 means "tick again now"; real time would move on a little.
            traveller.shift(timedelta(seconds=max(delay, 0.01)))
        else:
            raise AssertionError("the scheduler did not reach the end")
        sent = scheduler.sent
    fired: dict[str, list[datetime]] = {}
    for name, at in sent:
        # Sent within milliseconds of the slot; compare whole seconds.
        fired.setdefault(name, []).append(datetime.fromtimestamp(round(at.timestamp()), UTC))
    return fired


def shown_runs(activation, start: datetime, end: datetime) -> list[datetime]:
    runs = schedules.next_runs(
        activation.schedule_type, activation.cron, activation.timezone, count=200, after=start
    )
    return [run.astimezone(UTC) for run in runs if run < end]


SCHEDULES = [
    ("hourly", ""),
    ("daily", ""),
    ("cron", "30 2 * * *"),  # in the spring gap
    ("cron", "0,30 2 * * *"),  # two slots in the gap
    ("cron", "30 1 * * *"),  # repeated in autumn (New York)
    ("cron", "30 2 * * *"),  # repeated in autumn (Berlin)
    ("cron", "*/20 1-3 * * *"),
    ("cron", "0 0 1 * 1"),  # rule 1: Mondays
    ("cron", "45 3 */2,*/3 * *"),  # rule 2: multiples of 2 or 3
]


@pytest.mark.parametrize(
    ("tz_name", "start", "end"),
    [
        # Spring forward: 2024-03-10 02:00 -> 03:00 in New York, 03-31 02:00 -> 03:00 in Berlin.
        pytest.param(
            "America/New_York",
            datetime(2024, 3, 9, 17, 0, 10, tzinfo=UTC),
            datetime(2024, 3, 11, 5, 0, tzinfo=UTC),
            id="new york spring",
        ),
        pytest.param(
            "Europe/Berlin",
            datetime(2024, 3, 30, 0, 0, 10, tzinfo=UTC),
            datetime(2024, 4, 1, 3, 0, tzinfo=UTC),
            id="berlin spring",
        ),
        # Fall back: 2024-11-03 02:00 -> 01:00 in New York, 10-27 03:00 -> 02:00 in Berlin.
        pytest.param(
            "America/New_York",
            datetime(2024, 11, 2, 17, 0, 10, tzinfo=UTC),
            datetime(2024, 11, 4, 8, 0, tzinfo=UTC),
            id="new york autumn",
        ),
        pytest.param(
            "Europe/Berlin",
            datetime(2024, 10, 26, 12, 0, 10, tzinfo=UTC),
            datetime(2024, 10, 28, 4, 0, tzinfo=UTC),
            id="berlin autumn",
        ),
    ],
)
def test_beat_fires_exactly_the_runs_we_show_across_dst(tz_name, start, end):
    activations = make_scheduled(tz_name, start, SCHEDULES)

    fired = run_beat(start, end)

    for activation in activations:
        expected = shown_runs(activation, start, end)
        assert expected, activation.name  # every schedule here runs in the window
        assert fired.get(f"activation:{activation.pk}", []) == expected, activation.name
    assert set(fired) - {f"activation:{a.pk}" for a in activations} <= {"celery.backend_cleanup"}


def test_the_dst_windows_hold_the_special_cases():
    """The table above exercises what it claims: a moved, a merged and a repeated slot."""
    new_york_spring = schedules.next_runs(
        "cron",
        "0,30 2 * * *",
        "America/New_York",
        count=2,
        after=datetime(2024, 3, 9, 17, 0, 10, tzinfo=UTC),
    )
    assert [run.isoformat() for run in new_york_spring] == [
        # Each slot of the gap runs once, an hour later.
        "2024-03-10T03:00:00-04:00",
        "2024-03-10T03:30:00-04:00",
    ]
    berlin_autumn = schedules.next_runs(
        "cron",
        "*/20 1-3 * * *",
        "Europe/Berlin",
        count=9,
        after=datetime(2024, 10, 26, 12, 0, 10, tzinfo=UTC),
    )
    assert [run.isoformat() for run in berlin_autumn] == [
        "2024-10-27T01:00:00+02:00",
        "2024-10-27T01:20:00+02:00",
        "2024-10-27T01:40:00+02:00",
        "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:20:00+02:00",
        "2024-10-27T02:40:00+02:00",
        # 02:00-02:59 happens again in winter time and is not repeated.
        "2024-10-27T03:00:00+01:00",
        "2024-10-27T03:20:00+01:00",
        "2024-10-27T03:40:00+01:00",
    ]


def test_a_changed_schedule_is_picked_up_by_a_running_beat():
    start = datetime(2024, 6, 3, 8, 0, 10, tzinfo=UTC)
    (activation, *_) = make_scheduled("Europe/Berlin", start, SCHEDULES)  # hourly
    fired: list[datetime] = []
    with time_machine.travel(start, tick=False) as traveller:
        scheduler = RecordingScheduler(app=celery_app, max_interval=5)
        name = f"activation:{activation.pk}"

        def tick_until(moment):
            while timezone.now() < moment:
                traveller.shift(timedelta(seconds=max(scheduler.tick(), 0.01)))

        tick_until(datetime(2024, 6, 3, 9, 30, tzinfo=UTC))
        activation.schedule_type = "cron"
        activation.cron = "45 * * * *"
        activation.save()
        beat.sync_periodic_task(activation)
        tick_until(datetime(2024, 6, 3, 11, 50, tzinfo=UTC))
        fired = [at for task_name, at in scheduler.sent if task_name == name]
    assert [datetime.fromtimestamp(round(at.timestamp()), UTC) for at in fired] == [
        datetime(2024, 6, 3, 9, 0, tzinfo=UTC),  # hourly, 11:00 in Berlin
        datetime(2024, 6, 3, 9, 45, tzinfo=UTC),  # then at :45
        datetime(2024, 6, 3, 10, 45, tzinfo=UTC),
        datetime(2024, 6, 3, 11, 45, tzinfo=UTC),
    ]


def test_a_disabled_activation_is_not_fired_by_beat():
    start = datetime(2024, 6, 3, 8, 0, 10, tzinfo=UTC)
    activations = make_scheduled("Europe/Berlin", start, SCHEDULES)
    with time_machine.travel(start, tick=False):
        for activation in activations:
            activation.enabled = False
            activation.save()
            beat.sync_periodic_task(activation)
    fired = run_beat(start, start + timedelta(hours=3))
    assert set(fired) <= {"celery.backend_cleanup"}
