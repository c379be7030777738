"""Celery tasks: a beat firing queues the run of its slot once, honours the delay, skips
disabled activations; run messages delivered twice run once; stale runs are looked for."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from activations import beat, tasks
from activations.models import Activation, Run
from config.celery import app
from tests.activations.fake_connector import register_fake_connector
from tests.factories import (
    make_fake_activation,
)

pytestmark = pytest.mark.django_db

FIRED_AT = datetime(2025, 3, 10, 9, 0, 20, tzinfo=UTC)


@pytest.fixture
def destination(monkeypatch):
    return register_fake_connector(monkeypatch)


@pytest.fixture
def scheduled_activation(destination) -> Activation:
    activation = make_fake_activation(
        rows=4,
        schedule_type=Activation.ScheduleType.HOURLY,
        timezone="Asia/Tokyo",
    )
    beat.sync_periodic_task(activation)
    return activation


def fire_like_beat(activation: Activation) -> None:
    """Send the activation's PeriodicTask the way celery beat does: by its stored task name
    and arguments."""
    task = PeriodicTask.objects.get(pk=activation.periodic_task_id)
    app.tasks[task.task].apply_async(args=json.loads(task.args), kwargs=json.loads(task.kwargs))


class PublishedMessages:
    """Stands in for the broker: records run_activation messages instead of sending them."""

    def __init__(self) -> None:
        self.sent = []

    def apply_async(self, args=None, kwargs=None, countdown=None, **options):
        self.sent.append({"args": args, "countdown": countdown})

    def delay(self, *args):
        self.sent.append({"args": list(args), "countdown": None})


@pytest.fixture
def broker(monkeypatch):
    messages = PublishedMessages()
    monkeypatch.setattr(tasks.run_activation, "apply_async", messages.apply_async)
    monkeypatch.setattr(tasks.run_activation, "delay", messages.delay)
    return messages


def test_task_names_are_the_stable_strings_beat_rows_store():
    assert {
        "activations.run_activation",
        "activations.run_scheduled_activation",
        "activations.mark_stale_runs",
    } <= set(app.tasks)


@time_machine.travel(FIRED_AT, tick=False)
def test_a_beat_firing_queues_the_run_of_its_slot_and_the_run_executes(
    scheduled_activation, destination, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        fire_like_beat(scheduled_activation)

    run = Run.objects.get(activation=scheduled_activation)
    assert run.trigger == Run.Trigger.SCHEDULE
    assert run.scheduled_for == datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    assert run.status == Run.Status.SUCCEEDED
    assert run.rows_succeeded == 4
    assert len(destination.written) == 4


def test_a_second_firing_of_the_same_slot_queues_nothing(
    scheduled_activation, destination, django_capture_on_commit_callbacks
):
    with (
        time_machine.travel(FIRED_AT, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        fire_like_beat(scheduled_activation)
    with time_machine.travel(FIRED_AT + timedelta(seconds=25), tick=False):
        fire_like_beat(scheduled_activation)

    assert Run.objects.filter(activation=scheduled_activation).count() == 1
    assert len(destination.written) == 4


def test_the_next_slot_queues_a_new_run(scheduled_activation, django_capture_on_commit_callbacks):
    for fired_at in (FIRED_AT, FIRED_AT + timedelta(hours=1)):
        with (
            time_machine.travel(fired_at, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            fire_like_beat(scheduled_activation)

    slots = list(
        Run.objects.filter(activation=scheduled_activation)
        .order_by("scheduled_for")
        .values_list("scheduled_for", flat=True)
    )
    assert slots == [
        datetime(2025, 3, 10, 9, 0, tzinfo=UTC),
        datetime(2025, 3, 10, 10, 0, tzinfo=UTC),
    ]


@time_machine.travel(FIRED_AT, tick=False)
def test_a_scheduled_run_is_published_with_the_activation_delay(
    scheduled_activation, broker, django_capture_on_commit_callbacks
):
    Activation.objects.filter(pk=scheduled_activation.pk).update(delay_seconds=120)

    with django_capture_on_commit_callbacks(execute=True):
        fire_like_beat(scheduled_activation)

    run = Run.objects.get(activation=scheduled_activation)
    assert broker.sent == [{"args": [run.pk], "countdown": 120}]
    assert run.status == Run.Status.QUEUED
    assert run.progress["due_at"] == (FIRED_AT + timedelta(seconds=120)).isoformat()


def test_a_manual_run_is_published_without_delay(
    scheduled_activation, broker, django_capture_on_commit_callbacks
):
    from activations import services

    Activation.objects.filter(pk=scheduled_activation.pk).update(delay_seconds=120)
    scheduled_activation.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        run = services.request_run(activation=scheduled_activation, trigger=Run.Trigger.MANUAL)

    assert broker.sent == [{"args": [run.pk], "countdown": None}]


@time_machine.travel(FIRED_AT, tick=False)
def test_a_firing_for_a_disabled_or_deleted_activation_queues_nothing(
    scheduled_activation, broker, django_capture_on_commit_callbacks
):
    Activation.objects.filter(pk=scheduled_activation.pk).update(enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.run_scheduled_activation.delay(activation_id=scheduled_activation.pk)
        tasks.run_scheduled_activation.delay(activation_id=scheduled_activation.pk + 1000)

    assert Run.objects.count() == 0
    assert broker.sent == []


def test_a_run_message_delivered_twice_runs_once(scheduled_activation, destination):
    run = Run.objects.create(activation=scheduled_activation)

    tasks.run_activation.delay(run.pk)
    tasks.run_activation.delay(run.pk)

    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert run.rows_succeeded == 4
    assert destination.jobs == 1
    assert len(destination.written) == 4


@override_settings(RUN_STALE_AFTER_SECONDS=300)
def test_stale_runs_are_looked_for_by_the_periodic_task_and_at_worker_start(
    scheduled_activation,
):
    long_ago = timezone.now() - timedelta(seconds=301)
    first = Run.objects.create(
        activation=scheduled_activation,
        status=Run.Status.RUNNING,
        started_at=long_ago,
        heartbeat_at=long_ago,
    )

    assert tasks.mark_stale_runs.delay().get() == 1

    first.refresh_from_db()
    assert first.status == Run.Status.FAILED
    second = Run.objects.create(
        activation=scheduled_activation,
        status=Run.Status.RUNNING,
        started_at=long_ago,
        heartbeat_at=long_ago,
    )

    tasks.mark_stale_runs_at_start(sender=None)

    second.refresh_from_db()
    assert second.status == Run.Status.FAILED


def test_beat_installs_the_stale_run_task_to_run_every_minute():
    from django_celery_beat.schedulers import DatabaseScheduler

    # What beat's setup_schedule does for each configured entry (the scheduler itself would
    # close the test's database connection).
    for name, fields in app.conf.beat_schedule.items():
        DatabaseScheduler.Entry.from_entry(name, app=app, **fields)

    task = PeriodicTask.objects.get(name="activations-mark-stale-runs")
    assert task.task == "activations.mark_stale_runs"
    assert (task.interval.every, task.interval.period) == (60, "seconds")
    assert task.enabled is True
