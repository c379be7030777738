"""Cancelling a run whose worker died cancels it at once and aborts the jobs it left open,
instead of asking a worker that will never answer."""

from datetime import timedelta

import pytest
from django.utils import timezone

from activations import runner, services
from activations.models import Run
from connectors.salesforce.auth import SalesforceSession
from connectors.salesforce.bulk import BulkApi
from connectors.salesforce.http import RetryPolicy
from tests.activations.test_runner import make_emulated_activation
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def running_run(activation, *, heartbeat_age: timedelta, job_ids=()) -> Run:
    now = timezone.now()
    return Run.objects.create(
        activation=activation,
        status=Run.Status.RUNNING,
        started_at=now - heartbeat_age,
        heartbeat_at=now - heartbeat_age,
        salesforce_job_ids=list(job_ids),
    )


def open_job(activation) -> str:
    session = SalesforceSession(activation.connection)
    bulk = BulkApi(session, api_version="59.0", retry=RetryPolicy(limit=0, initial_delay=0))
    job = bulk.create_ingest_job(object_name="Contact", operation="insert")
    session.close()
    return job["id"]


def test_cancel_of_a_dead_run_cancels_at_once_and_aborts_its_open_jobs(
    salesforce_emulator, settings
):
    settings.RUN_STALE_AFTER_SECONDS = 600  # heartbeats every 60 s; dead after 180 s
    activation = make_emulated_activation(salesforce_emulator, rows=1)
    job_id = open_job(activation)
    run = running_run(activation, heartbeat_age=timedelta(seconds=200), job_ids=[job_id])

    services.cancel_run(run, user=make_user("bob", workspace=activation.workspace))

    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    assert run.error.startswith("Cancelled by bob; its worker had stopped (no heartbeat since")
    assert run.finished_at is not None
    [job] = salesforce_emulator.jobs
    assert job.state == "Aborted"
    assert run.log[-1]["message"] == f"Aborted the open Salesforce jobs {job_id}."
    # The activation is free again: a new run is accepted.
    assert services.request_run(activation=activation, trigger=Run.Trigger.MANUAL).pk != run.pk


def test_cancel_of_a_live_run_only_asks_its_worker_to_stop(salesforce_emulator, settings):
    settings.RUN_STALE_AFTER_SECONDS = 600
    activation = make_emulated_activation(salesforce_emulator, rows=1)
    run = running_run(activation, heartbeat_age=timedelta(seconds=30))

    services.cancel_run(run)

    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING
    assert run.progress["cancel"] is True


def test_a_worker_is_dead_after_three_missed_heartbeats(settings):
    settings.RUN_STALE_AFTER_SECONDS = 40  # heartbeats every 10 s
    now = timezone.now()

    assert not runner.worker_is_dead(Run(heartbeat_at=now - timedelta(seconds=29)), now=now)
    assert runner.worker_is_dead(Run(heartbeat_at=now - timedelta(seconds=31)), now=now)
