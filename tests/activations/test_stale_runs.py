"""Runs whose worker died are found by their stale heartbeat and failed; lost task messages
are sent again; an upsert activation killed halfway and run again leaves no duplicates."""

import os
import signal
import time
import warnings
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from activations import runner, services
from activations.models import Activation, Run
from tests import factories
from tests.activations.fake_connector import register_fake_connector
from tests.activations.test_runner import UPSERT_MAPPING
from tests.factories import (
    KEY_AND_LAST_NAME_MAPPING,
    make_activation,
    make_connection,
    make_parent_segment,
    make_profiles,
    make_segment,
    make_workspace,
)

pytestmark = pytest.mark.django_db

STALE_AFTER = 600


def make_fake_activation(workspace, name: str, **fields) -> Activation:
    return factories.make_fake_activation(
        rows=3, workspace=workspace, parent_name=f"{name} parent", name=name, **fields
    )


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER)
def test_only_runs_silent_for_longer_than_the_limit_are_marked_failed(monkeypatch):
    register_fake_connector(monkeypatch)
    workspace = make_workspace()
    now = timezone.now()
    long_ago = now - timedelta(seconds=STALE_AFTER + 5)
    silent = Run.objects.create(
        activation=make_fake_activation(workspace, "Silent"),
        status=Run.Status.RUNNING,
        started_at=long_ago - timedelta(minutes=3),
        heartbeat_at=long_ago,
        rows_read=300,
        rows_succeeded=100,
        rows_failed=0,
    )
    never_beat = Run.objects.create(
        activation=make_fake_activation(workspace, "Never beat"),
        status=Run.Status.RUNNING,
        started_at=long_ago,
    )
    alive = Run.objects.create(
        activation=make_fake_activation(workspace, "Alive"),
        status=Run.Status.RUNNING,
        started_at=long_ago,
        heartbeat_at=now - timedelta(seconds=STALE_AFTER - 30),
    )

    assert runner.mark_stale_runs() == 2

    silent.refresh_from_db()
    assert silent.status == Run.Status.FAILED
    assert silent.error == (
        "The worker stopped while the run was in progress (no heartbeat since "
        f"{long_ago:%Y-%m-%d %H:%M:%S} UTC). 200 of the 300 rows read were not confirmed by "
        "Salesforce (never sent, or sent without a result)."
    )
    assert silent.rows_sent == 100
    assert silent.finished_at is not None
    assert silent.log[-1]["message"] == silent.error
    never_beat.refresh_from_db()
    assert never_beat.status == Run.Status.FAILED
    assert never_beat.error == (
        "The worker stopped while the run was in progress (no heartbeat since "
        f"{long_ago:%Y-%m-%d %H:%M:%S} UTC)."
    )
    alive.refresh_from_db()
    assert alive.status == Run.Status.RUNNING
    assert alive.error == ""
    assert runner.mark_stale_runs() == 0


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER)
def test_a_dead_run_is_mailed_as_a_failure(monkeypatch):
    register_fake_connector(monkeypatch)
    activation = make_fake_activation(
        make_workspace(), "Nightly", notify_emails=["ops@example.com"]
    )
    long_ago = timezone.now() - timedelta(seconds=STALE_AFTER + 5)
    run = Run.objects.create(
        activation=activation,
        status=Run.Status.RUNNING,
        started_at=long_ago,
        heartbeat_at=long_ago,
    )

    runner.mark_stale_runs()

    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == f"Activation Nightly: run {run.pk} failed"
    assert "The worker stopped while the run was in progress" in mail.outbox[0].body
    # Dying is not a configuration error: it does not count toward auto-disable.
    activation.refresh_from_db()
    assert activation.consecutive_failures == 0


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER)
def test_a_queued_run_no_worker_started_is_sent_again(monkeypatch):
    destination = register_fake_connector(monkeypatch)
    activation = make_fake_activation(make_workspace(), "Lost message")
    run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)
    long_ago = timezone.now() - timedelta(seconds=STALE_AFTER + 5)
    Run.objects.filter(pk=run.pk).update(
        queued_at=long_ago, progress={"due_at": long_ago.isoformat()}
    )

    runner.mark_stale_runs()

    # Celery is eager in tests, so the message sent again ran the run at once.
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert run.rows_succeeded == 3
    assert len(destination.written) == 3
    messages = [entry["message"] for entry in run.log]
    assert "No worker had started the run; its task message was sent again." in messages


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER)
def test_a_delayed_scheduled_run_is_not_sent_again_before_it_is_due(monkeypatch):
    destination = register_fake_connector(monkeypatch)
    activation = make_fake_activation(make_workspace(), "Delayed", delay_seconds=3600)
    with time_machine.travel(timezone.now() - timedelta(seconds=STALE_AFTER + 5)):
        run = services.request_run(
            activation=activation,
            trigger=Run.Trigger.SCHEDULE,
            scheduled_for=timezone.now().replace(second=0, microsecond=0),
            publish=False,
        )

    runner.mark_stale_runs()

    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED
    assert len(run.log) == 1
    assert destination.written == []


# --- The same with real processes: a Celery worker SIGKILLed mid-run ---------------------

# A Redis database of this test's own.
LIVE_BROKER_URL = os.environ.get("TEST_REDIS_URL_2", "redis://127.0.0.1:6379/14")


@pytest.fixture
def live_broker():
    from tests.redis_db import own_redis_database

    with own_redis_database(LIVE_BROKER_URL) as url:
        yield url


@pytest.fixture
def worker_processes(transactional_db, live_broker, salesforce_emulator, tmp_path):
    from tests.activations.test_celery_beat_live import CeleryProcesses, shared_database_url

    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",  # not the eager test settings
        "DATABASE_URL": shared_database_url(),
        "CELERY_BROKER_URL": live_broker,
        "SALESFORCE_ALLOWED_HOSTS": salesforce_emulator.host,
        "REQUESTS_CA_BUNDLE": salesforce_emulator.ca_path,
        "CURL_CA_BUNDLE": salesforce_emulator.ca_path,
        "VAR_DIR": str(tmp_path / "var"),
        "EMAIL_HOST": "",
        "RUN_STALE_AFTER_SECONDS": "4",
        "PYTHONUNBUFFERED": "1",
    }
    processes = CeleryProcesses(environment, tmp_path)
    yield processes
    processes.stop()


def start_worker(processes, name: str) -> None:
    processes.start(
        "worker",
        "--loglevel=INFO",
        "--concurrency=1",
        f"--hostname={name}@%h",
        "--without-mingle",
        "--without-gossip",
    )


def send_to_workers(run: Run) -> None:
    """Publish the run's task to the Redis broker (this process runs tasks eagerly)."""
    from celery.exceptions import AlwaysEagerIgnored

    from config.celery import app

    with app.connection_for_write(LIVE_BROKER_URL) as connection, warnings.catch_warnings():
        # Sending past the eager mode is the point here.
        warnings.simplefilter("ignore", AlwaysEagerIgnored)
        app.send_task("activations.run_activation", args=[run.pk], connection=connection)


def wait_for(condition, *, seconds: float, processes, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        processes.check_alive()
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen within {seconds} s\n{processes.logs()}")


APPEND_MAPPING = KEY_AND_LAST_NAME_MAPPING
LIVE_ROWS = 20_000
LIVE_BATCH = 2_000


@pytest.mark.redis
@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_a_worker_sigkilled_mid_run_is_resumed_at_restart_and_each_row_lands_once(
    worker_processes, salesforce_emulator, mode
):
    salesforce_emulator.settings.processing_delay = 0.3
    workspace = make_workspace()
    parent = make_parent_segment(workspace=workspace)
    make_profiles(parent, LIVE_ROWS)
    if mode == "append":
        settings = {"mode": Activation.Mode.APPEND, "output_mapping": APPEND_MAPPING}
    else:
        settings = {
            "mode": Activation.Mode.UPDATE,
            "upsert": True,
            "key": "Customer_Key__c",
            "output_mapping": UPSERT_MAPPING,
        }
    activation = make_activation(
        segment=make_segment(parent=parent),
        connection=make_connection(workspace=workspace, login_url=salesforce_emulator.url),
        batch_size=LIVE_BATCH,
        retry_initial_delay=0,
        **settings,
    )
    start_worker(worker_processes, "first")
    killed = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)
    send_to_workers(killed)

    # Kill the worker (main process and pool child, no chance to clean up) mid-run: after
    # the snapshot, while the jobs go out.
    wait_for(
        lambda: Run.objects.get(pk=killed.pk).rows_succeeded >= 2 * LIVE_BATCH,
        seconds=120,
        processes=worker_processes,
        what="two jobs reported",
    )
    first_worker, _ = worker_processes.processes[0]
    os.killpg(first_worker.pid, signal.SIGKILL)
    first_worker.wait(timeout=10)
    worker_processes.processes.pop(0)
    killed.refresh_from_db()
    assert killed.status == Run.Status.RUNNING
    assert killed.rows_succeeded < LIVE_ROWS

    # A new worker finds the dead run at start (its heartbeat is older than 4 s by then)
    # and resumes it from its recorded steps.
    time.sleep(5)
    start_worker(worker_processes, "second")
    finished = wait_for(
        lambda: Run.objects.filter(
            pk=killed.pk, status__in=[Run.Status.SUCCEEDED, Run.Status.FAILED]
        ).first(),
        seconds=180,
        processes=worker_processes,
        what="the resumed run finished",
    )
    assert finished.status == Run.Status.SUCCEEDED, (finished.error, finished.log[-5:])
    assert (finished.rows_read, finished.rows_succeeded, finished.rows_failed) == (
        LIVE_ROWS,
        LIVE_ROWS,
        0,
    )
    assert finished.progress["resumes"] == 1
    keys = [record["Customer_Key__c"] for record in salesforce_emulator.records("Contact")]
    assert len(keys) == LIVE_ROWS  # none sent twice
    assert set(keys) == {f"C{number:04d}" for number in range(1, LIVE_ROWS + 1)}


@pytest.mark.redis
def test_sigterm_stops_a_run_between_two_steps_and_another_worker_finishes_it(
    worker_processes, salesforce_emulator
):
    salesforce_emulator.settings.processing_delay = 0.3
    rows = 4_000
    workspace = make_workspace()
    parent = make_parent_segment(workspace=workspace)
    make_profiles(parent, rows)
    activation = make_activation(
        segment=make_segment(parent=parent),
        connection=make_connection(workspace=workspace, login_url=salesforce_emulator.url),
        mode=Activation.Mode.APPEND,
        output_mapping=APPEND_MAPPING,
        batch_size=200,
        concurrency_mode=Activation.ConcurrencyMode.SERIAL,
        retry_initial_delay=0,
    )
    start_worker(worker_processes, "first")
    run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)
    send_to_workers(run)
    wait_for(
        lambda: Run.objects.get(pk=run.pk).rows_succeeded >= 400,
        seconds=120,
        processes=worker_processes,
        what="two jobs reported",
    )

    # A deploy stops the worker gracefully: it exits without waiting for the run's end.
    first_worker, _ = worker_processes.processes[0]
    os.kill(first_worker.pid, signal.SIGTERM)
    first_worker.wait(timeout=60)
    worker_processes.processes.pop(0)
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED, (run.status, run.log[-3:])
    assert run.rows_succeeded < rows
    assert "stopped between two steps" in run.log[-1]["message"]

    start_worker(worker_processes, "second")
    finished = wait_for(
        lambda: Run.objects.filter(
            pk=run.pk, status__in=[Run.Status.SUCCEEDED, Run.Status.FAILED]
        ).first(),
        seconds=180,
        processes=worker_processes,
        what="the handed-over run finished",
    )
    assert finished.status == Run.Status.SUCCEEDED, (finished.error, finished.log[-5:])
    keys = [record["Customer_Key__c"] for record in salesforce_emulator.records("Contact")]
    assert len(keys) == rows  # none sent twice
    assert set(keys) == {f"C{number:04d}" for number in range(1, rows + 1)}


@pytest.mark.redis
def test_a_truncate_whose_worker_is_sigkilled_mid_deletes_deletes_each_record_once(
    worker_processes, salesforce_emulator
):
    """SIGKILL while the delete jobs go out: the new worker resumes from the recorded
    listing (no second query job) and its recorded delete jobs, then inserts."""
    salesforce_emulator.settings.processing_delay = 0.3
    rows, old = 500, 1_500
    old_ids = salesforce_emulator.insert_records(
        "Contact", [{"LastName": f"Old{number}"} for number in range(old)]
    )
    workspace = make_workspace()
    parent = make_parent_segment(workspace=workspace)
    make_profiles(parent, rows)
    activation = make_activation(
        segment=make_segment(parent=parent),
        connection=make_connection(workspace=workspace, login_url=salesforce_emulator.url),
        mode=Activation.Mode.TRUNCATE,
        output_mapping=APPEND_MAPPING,
        batch_size=250,
        concurrency_mode=Activation.ConcurrencyMode.SERIAL,
        retry_initial_delay=0,
    )
    start_worker(worker_processes, "first")
    killed = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)
    send_to_workers(killed)
    wait_for(
        lambda: Run.objects.get(pk=killed.pk).progress.get("deleted", 0) >= 500,
        seconds=120,
        processes=worker_processes,
        what="two delete jobs reported",
    )
    first_worker, _ = worker_processes.processes[0]
    os.killpg(first_worker.pid, signal.SIGKILL)
    first_worker.wait(timeout=10)
    worker_processes.processes.pop(0)
    killed.refresh_from_db()
    assert killed.status == Run.Status.RUNNING
    assert killed.progress["deleted"] < old

    time.sleep(5)
    start_worker(worker_processes, "second")
    finished = wait_for(
        lambda: Run.objects.filter(
            pk=killed.pk, status__in=[Run.Status.SUCCEEDED, Run.Status.FAILED]
        ).first(),
        seconds=180,
        processes=worker_processes,
        what="the resumed truncate finished",
    )
    assert finished.status == Run.Status.SUCCEEDED, (finished.error, finished.log[-5:])
    assert finished.progress["resumes"] == 1
    keys = [record["Customer_Key__c"] for record in salesforce_emulator.records("Contact")]
    assert sorted(keys) == sorted(f"C{number:04d}" for number in range(1, rows + 1))
    binned = [record["Id"] for record in salesforce_emulator.recycle_bin("Contact")]
    assert sorted(binned) == sorted(old_ids)  # every original record deleted, once
    assert len(salesforce_emulator.query_jobs) == 1
