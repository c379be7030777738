"""Issue 4 as an operator reads it: runs, schedules and their beat rows, checked end to end."""

import json

import pytest
from django.contrib.auth.models import User
from django.db.models import ProtectedError
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from activations import beat, services, tasks
from activations.exports import failed_rows_csv
from activations.models import Activation, Run
from common.validation import InvalidInput
from tests.activations.test_runner import make_emulated_activation, run_through_the_task
from tests.factories import (
    make_activation,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def scheduled(workspace):
    """An hourly activation with its PeriodicTask."""
    activation = make_activation(
        workspace=workspace,
        schedule_type="hourly",
        timezone="Asia/Tokyo",
    )
    beat.sync_periodic_task(activation)
    assert PeriodicTask.objects.filter(name=f"activation:{activation.pk}").count() == 1
    return activation


def test_deleting_the_segment_removes_the_activations_periodic_task(scheduled):
    scheduled.segment.delete()

    assert not Activation.objects.filter(pk=scheduled.pk).exists()
    assert PeriodicTask.objects.filter(name__startswith="activation:").count() == 0


def test_a_workspace_with_an_activation_cannot_be_deleted_so_no_task_is_orphaned(
    scheduled, workspace
):
    # Activations protect their connection, which protects its workspace.
    with pytest.raises(ProtectedError):
        workspace.delete()

    assert PeriodicTask.objects.filter(name=f"activation:{scheduled.pk}").count() == 1


def test_deleting_the_activation_model_directly_removes_its_periodic_task(scheduled):
    # The admin deletes with Model.delete(), not through the services.
    scheduled.delete()

    assert PeriodicTask.objects.filter(name__startswith="activation:").count() == 0


def test_a_firing_for_a_missing_activation_queues_nothing_and_removes_the_leftover_task():
    leftover = PeriodicTask.objects.create(
        name="activation:987654",
        task=beat.RUN_SCHEDULED_ACTIVATION_TASK,
        kwargs='{"activation_id": 987654}',
        crontab=CrontabSchedule.objects.create(minute="0", hour="*"),
    )

    tasks.run_scheduled_activation.apply(kwargs={"activation_id": 987654}).get()

    assert not PeriodicTask.objects.filter(pk=leftover.pk).exists()
    assert Run.objects.count() == 0


def test_the_connection_of_an_activation_cannot_be_deleted(scheduled):
    with pytest.raises(ProtectedError):
        scheduled.connection.delete()

    assert PeriodicTask.objects.filter(name=f"activation:{scheduled.pk}").count() == 1


# --- Every row read is succeeded or failed with a reason, against the emulator -----------


def test_an_outage_past_the_retries_counts_every_row_read_as_succeeded_or_failed(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    activation = make_emulated_activation(salesforce_emulator, rows=25, retry_limit=1)
    # Salesforce answers 503 to every job creation.
    salesforce_emulator.inject("http_error", times=None, method="POST", path=r"/jobs/ingest$")

    run = run_through_the_task(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.FAILED
    assert run.finished_at is not None
    # Every job creation was refused: nothing reached Salesforce.
    assert (run.rows_read, run.rows_sent, run.rows_succeeded, run.rows_failed) == (25, 0, 0, 25)
    assert salesforce_emulator.records("Contact") == []
    assert run.rows_read == run.rows_succeeded + run.rows_failed
    failed = list(run.failed_rows.all())
    assert len(failed) == run.rows_failed
    assert all(row.error.startswith("Not sent: Salesforce (") for row in failed)
    lines = b"".join(failed_rows_csv(run)).decode().splitlines()
    assert lines[0] == "Customer_Key__c,FirstName,LastName,Email,sf__Error"
    assert len(lines) == 1 + run.rows_failed


def test_a_job_salesforce_fails_counts_its_rows_as_failed_with_the_reason(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    activation = make_emulated_activation(salesforce_emulator, rows=5)
    salesforce_emulator.inject("job_failed", message="InvalidBatch : Field name not found")

    run = run_through_the_task(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.FAILED
    assert (run.rows_read, run.rows_succeeded, run.rows_failed) == (5, 0, 5)
    assert run.salesforce_job_ids == [job.id for job in salesforce_emulator.jobs]
    assert [row.error for row in run.failed_rows.all()] != []
    assert all("InvalidBatch" in row.error for row in run.failed_rows.all())
    assert run.log[-1]["message"] == "Failed: 5 read, 5 sent, 0 succeeded, 5 failed."


# --- The seed's "" cron value: no scheduled run time ---------------------------------------


def test_sending_an_empty_cron_without_a_type_removes_the_schedule(scheduled):
    services.update_activation(scheduled, data={"schedule": {"cron": ""}})

    scheduled.refresh_from_db()
    assert (scheduled.schedule_type, scheduled.cron) == ("none", "")
    assert PeriodicTask.objects.filter(name__startswith="activation:").count() == 0
    schedule = services.activation_payload(scheduled)["schedule"]
    assert schedule["next_runs"] == []
    assert schedule["description"] == "Not scheduled"


def test_sending_a_cron_without_a_type_makes_a_cron_schedule(scheduled):
    services.update_activation(scheduled, data={"schedule": {"cron": "0 0 5,*/10,25 * *"}})

    scheduled.refresh_from_db()
    assert (scheduled.schedule_type, scheduled.cron) == ("cron", "0 0 5,*/10,25 * *")
    assert scheduled.periodic_task.crontab.day_of_month == "5,10,20,25,30"
    assert str(scheduled.periodic_task.crontab.timezone) == "Asia/Tokyo"


# --- The admin, where operators see the beat rows -----------------------------------------


def test_disabling_an_activation_in_the_admin_disables_its_periodic_task(scheduled, client):
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    page = client.get(f"/admin/activations/activation/{scheduled.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data["enabled"] = ""
    for name in ("output_mapping", "notify_emails"):
        data[name] = json.dumps(getattr(scheduled, name))

    answer = client.post(f"/admin/activations/activation/{scheduled.pk}/change/", data)

    assert answer.status_code == 302, answer.context["adminform"].form.errors
    scheduled.refresh_from_db()
    assert scheduled.enabled is False
    assert PeriodicTask.objects.get(name=f"activation:{scheduled.pk}").enabled is False


def test_deleting_an_activation_in_the_admin_removes_its_periodic_task(scheduled, client):
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)

    answer = client.post(f"/admin/activations/activation/{scheduled.pk}/delete/", {"post": "yes"})

    assert answer.status_code == 302
    assert not Activation.objects.filter(pk=scheduled.pk).exists()
    assert PeriodicTask.objects.filter(name__startswith="activation:").count() == 0


def test_a_late_firing_after_the_schedule_was_removed_queues_nothing(scheduled):
    services.update_activation(scheduled, data={"schedule": {"type": "none"}})

    tasks.run_scheduled_activation.apply(kwargs={"activation_id": scheduled.pk}).get()

    assert Run.objects.count() == 0


@pytest.mark.parametrize(
    ("sent_type", "stored_type"),
    [("@hourly", "hourly"), ("@daily", "daily"), ("None", "none"), ("@Daily", "daily")],
)
def test_the_seeds_drop_down_spellings_of_the_schedule_type_are_understood(
    scheduled, sent_type, stored_type
):
    services.update_activation(scheduled, data={"schedule": {"type": sent_type}})

    scheduled.refresh_from_db()
    assert (scheduled.schedule_type, scheduled.cron) == (stored_type, "")


def test_a_custom_cron_schedule_with_the_seeds_empty_cron_is_no_schedule(scheduled):
    services.update_activation(scheduled, data={"schedule": {"type": "cron", "cron": ""}})

    scheduled.refresh_from_db()
    assert (scheduled.schedule_type, scheduled.cron) == ("none", "")
    assert PeriodicTask.objects.filter(name__startswith="activation:").count() == 0
    assert services.activation_payload(scheduled)["schedule"]["next_runs"] == []


def test_a_custom_cron_schedule_sent_without_its_cron_is_refused_on_schedule_cron(scheduled):
    with pytest.raises(InvalidInput) as caught:
        services.update_activation(scheduled, data={"schedule": {"type": "cron"}})

    assert list(caught.value.errors) == ["schedule.cron"]
