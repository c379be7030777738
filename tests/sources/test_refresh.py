"""Refresh orchestration against a real SQLite source: the beat row, scheduled slots, the mail
about a failed scheduled refresh, and an activation asking for fresh data."""

import sqlite3
from contextlib import closing

import pytest
from django.core import mail
from django_celery_beat.models import PeriodicTask

from activations import runner
from activations.models import Run
from common.validation import InvalidInput
from segments import refresh, services
from segments.models import Profile, Refresh
from sources.models import Source
from tests.activations.fake_connector import register_fake_connector
from tests.factories import make_activation, make_connection, make_segment, make_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(sqlite_file):
    workspace = make_workspace()
    return Source.objects.create(
        workspace=workspace, name="Shop", url=f"sqlite:///{sqlite_file.name}", kind="sqlite"
    )


def make_parent(source, **data):
    return services.create_parent_segment(
        workspace=source.workspace,
        data={
            "name": "Shop customers",
            "key_column": "id",
            "source": {"source": source.pk, "table": "main.customers"},
            **data,
        },
    )


def test_a_refresh_schedule_keeps_a_beat_row_in_step(source):
    parent = make_parent(
        source, refresh={"mode": "upsert", "schedule": {"type": "cron", "cron": "30 6 * * 1"}}
    )
    task = PeriodicTask.objects.get(name=refresh.periodic_task_name(parent.pk))
    assert task.task == "segments.refresh_scheduled"
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "6", "1")
    assert parent.refresh_periodic_task_id == task.pk
    assert parent.refresh_mode == "upsert"

    services.update_parent_segment(parent, data={"refresh": {"schedule": {"type": "none"}}})
    assert not PeriodicTask.objects.filter(name=refresh.periodic_task_name(parent.pk)).exists()


def test_a_bad_schedule_is_named_by_path(source):
    with pytest.raises(InvalidInput) as raised:
        make_parent(
            source, refresh={"mode": "merge", "schedule": {"type": "cron", "cron": "61 * * * *"}}
        )
    assert set(raised.value.errors) == {"refresh.mode", "refresh.schedule.cron.minute"}


def test_a_scheduled_slot_refreshes_once(source, django_capture_on_commit_callbacks):
    parent = make_parent(source, refresh={"schedule": {"type": "hourly"}})
    with django_capture_on_commit_callbacks(execute=True):
        first = refresh.run_scheduled(parent.pk)
    assert first.trigger == Refresh.Trigger.SCHEDULE
    assert first.scheduled_for.minute == 0
    first.refresh_from_db()
    assert first.status == Refresh.Status.SUCCEEDED
    assert Profile.objects.filter(parent_segment=parent).count() == 2
    # A second firing of the same slot (beat catching up, a duplicate) does nothing.
    assert refresh.run_scheduled(parent.pk) is None


def test_a_failed_scheduled_refresh_mails_the_recipients(
    source, sqlite_file, django_capture_on_commit_callbacks
):
    parent = make_parent(
        source,
        refresh={"schedule": {"type": "daily"}},
        notify_emails=["data-team@example.com"],
    )
    with closing(sqlite3.connect(sqlite_file)) as connection:
        connection.execute("DROP VIEW vips")
        connection.execute("DROP TABLE customers")
        connection.commit()
    with django_capture_on_commit_callbacks(execute=True):
        queued = refresh.run_scheduled(parent.pk)
    queued.refresh_from_db()
    assert queued.status == Refresh.Status.FAILED
    assert "no such table" in queued.error
    (message,) = mail.outbox
    assert message.to == ["data-team@example.com"]
    assert "Shop customers" in message.subject
    assert queued.error in message.body


def test_an_activation_asking_for_fresh_data_refreshes_first(source, sqlite_file, monkeypatch):
    fake = register_fake_connector(monkeypatch)
    parent = make_parent(source)
    segment = make_segment(parent=parent)
    connection = make_connection(workspace=parent.workspace, kind="fake", name="Fake org")
    activation = make_activation(
        segment=segment,
        connection=connection,
        refresh_before_run=True,
        output_mapping={
            "export_all_columns": False,
            "columns": [{"source": "email", "output": "Email"}],
            "strings": [],
        },
    )
    run = runner.execute_run(Run.objects.create(activation=activation).pk)
    assert run.status == Run.Status.SUCCEEDED
    assert sorted(fake.written, key=str) == sorted([["ann@example.com"], [""]], key=str)
    assert parent.refreshes.get().trigger == Refresh.Trigger.ACTIVATION
    messages = [entry["message"] for entry in run.log]
    assert "The parent segment was refreshed: 2 rows." in messages

    # The source breaks: the next run still sends (the rows kept) and says so.
    with closing(sqlite3.connect(sqlite_file)) as db:
        db.execute("DROP VIEW vips")
        db.execute("DROP TABLE customers")
        db.commit()
    run = runner.execute_run(Run.objects.create(activation=activation).pk)
    assert run.status == Run.Status.SUCCEEDED
    assert any(m.startswith("Warning: the last refresh") for m in [e["message"] for e in run.log])


def test_deleting_a_workspace_deletes_its_sources_and_their_parent_segments(source):
    parent = make_parent(source, refresh={"schedule": {"type": "daily"}})
    source.workspace.delete()
    assert not Source.objects.exists()
    assert not type(parent).objects.exists()
