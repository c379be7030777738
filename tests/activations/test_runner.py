"""The runner against a scriptable in-memory destination: counts, statuses, failed rows,
cancellation, redelivery, auto-disable; then the pipeline end to end against the emulator."""

import copy
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection as db_connection
from django.test import override_settings
from django.utils import timezone

from activations import beat, runner, services
from activations.exports import failed_rows_csv
from activations.models import Activation, FailedRow, Run
from connectors.base import ConnectorError
from segments.models import Profile
from tests import factories
from tests.activations.fake_connector import register_fake_connector
from tests.factories import (
    CONTACT_MAPPING,
    concat,
    make_activation,
    make_connection,
    make_parent_segment,
    make_profiles,
    make_segment,
    make_user,
    make_workspace,
    output_mapping,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_connector(monkeypatch):
    return register_fake_connector(monkeypatch)


def expected_row(number: int) -> list[str]:
    return [f"C{number:04d}", f"Last{number}", f"customer{number}@example.com"]


def make_fake_activation(*, rows: int = 25, **fields) -> Activation:
    fields.setdefault("batch_size", 10)
    fields.setdefault("output_mapping", CONTACT_MAPPING)
    return factories.make_fake_activation(rows=rows, segment_name="Japan", **fields)


def queue_run(activation, trigger=Run.Trigger.MANUAL, **fields) -> Run:
    return Run.objects.create(activation=activation, trigger=trigger, **fields)


def test_successful_run_sends_every_row_in_batches_and_counts_them(fake_connector):
    activation = make_fake_activation(rows=25)
    run = queue_run(activation)

    finished = runner.execute_run(run.pk)

    assert finished.status == Run.Status.SUCCEEDED
    assert finished.error == ""
    assert finished.config_error is False
    assert (finished.rows_read, finished.rows_sent) == (25, 25)
    assert (finished.rows_succeeded, finished.rows_failed) == (25, 0)
    assert finished.salesforce_job_ids == [
        "750FAKE00000000001",
        "750FAKE00000000002",
        "750FAKE00000000003",
    ]
    assert finished.columns == ["Customer_Key__c", "LastName", "Email"]
    assert fake_connector.columns == ["Customer_Key__c", "LastName", "Email"]
    assert sorted(fake_connector.written) == [expected_row(n) for n in range(1, 26)]
    assert finished.started_at is not None
    assert finished.finished_at >= finished.started_at
    messages = [entry["message"] for entry in finished.log]
    assert messages[0] == "Started."
    assert "Job 750FAKE00000000002: 10 succeeded, 0 failed." in messages
    assert messages[-1] == "Succeeded: 25 read, 25 sent, 25 succeeded, 0 failed."


def test_run_with_some_refused_rows_is_partially_failed_and_keeps_them(fake_connector):
    activation = make_fake_activation(rows=12)
    fake_connector.refuse = lambda row: (
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
        if row[0] in ("C0003", "C0011")
        else None
    )
    run = queue_run(activation)

    finished = runner.execute_run(run.pk)

    assert finished.status == Run.Status.PARTIALLY_FAILED
    assert (finished.rows_read, finished.rows_sent) == (12, 12)
    assert (finished.rows_succeeded, finished.rows_failed) == (10, 2)
    stored = list(FailedRow.objects.filter(run=finished).values_list("values", "error"))
    assert stored == [
        (
            expected_row(3),
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
        ),
        (
            expected_row(11),
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
        ),
    ]
    csv_text = b"".join(failed_rows_csv(finished)).decode()
    assert csv_text == (
        "Customer_Key__c,LastName,Email,sf__Error\n"
        "C0003,Last3,customer3@example.com,"
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --\n"
        "C0011,Last11,customer11@example.com,"
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --\n"
    )


def test_run_where_every_row_is_refused_is_failed(fake_connector):
    activation = make_fake_activation(rows=3)
    fake_connector.refuse = lambda row: "DUPLICATE_VALUE:duplicate value found:--"
    run = queue_run(activation)

    finished = runner.execute_run(run.pk)

    assert finished.status == Run.Status.FAILED
    assert finished.config_error is False
    assert (finished.rows_succeeded, finished.rows_failed) == (0, 3)
    assert finished.error == "Salesforce refused all 3 rows; see the failed rows for the reasons."


def test_empty_segment_succeeds_with_nothing_sent(fake_connector):
    activation = make_fake_activation(rows=0)
    run = queue_run(activation)

    finished = runner.execute_run(run.pk)

    assert finished.status == Run.Status.SUCCEEDED
    assert (finished.rows_read, finished.rows_sent, finished.rows_succeeded) == (0, 0, 0)
    assert finished.salesforce_job_ids == []
    assert finished.log[-1]["message"] == "Succeeded: the segment had no rows, nothing was sent."


def test_configuration_error_from_the_destination_fails_the_run_before_any_row(fake_connector):
    activation = make_fake_activation(rows=5)
    fake_connector.validate_error = ConnectorError(
        "Contact has no field Loyalty_Tier__c.", retryable=False, field="Loyalty_Tier__c"
    )
    run = queue_run(activation)

    finished = runner.execute_run(run.pk)

    assert finished.status == Run.Status.FAILED
    assert finished.config_error is True
    assert finished.error == "Contact has no field Loyalty_Tier__c."
    assert (finished.rows_read, finished.rows_sent) == (0, 0)
    assert fake_connector.written == []


def test_transient_error_past_the_retries_fails_and_explains_the_unsent_rows(fake_connector):
    activation = make_fake_activation(rows=25)
    fake_connector.write_error = ConnectorError(
        "Salesforce answered 503 Service Unavailable 4 times; gave up.", retryable=True
    )
    run = queue_run(activation)

    finished = runner.execute_run(run.pk)

    assert finished.status == Run.Status.FAILED
    assert finished.config_error is False
    assert finished.rows_read == 10
    assert (finished.rows_succeeded, finished.rows_failed) == (0, 0)
    assert finished.error == (
        "Salesforce answered 503 Service Unavailable 4 times; gave up. "
        "10 of the 10 rows read were not confirmed by Salesforce "
        "(never sent, or sent without a result)."
    )
    assert finished.salesforce_job_ids == ["750FAKE00000000001"]


def test_error_messages_never_carry_the_connection_secrets(fake_connector):
    activation = make_fake_activation(rows=1)
    fake_connector.validate_error = ConnectorError(
        "Login failed for marketer@example.com with password hunter2TOKEN123", retryable=False
    )
    run = queue_run(activation)

    finished = runner.execute_run(run.pk)

    assert finished.error == "Login failed for marketer@example.com with password [hidden][hidden]"
    assert "hunter2" not in str(finished.log)


def test_mapping_that_no_longer_fits_the_parent_segment_is_a_configuration_error(
    fake_connector,
):
    activation = make_fake_activation(rows=2)
    parent = activation.segment.parent_segment
    parent.columns = [column for column in parent.columns if column["name"] != "email"]
    parent.save()
    run = queue_run(activation)

    finished = runner.execute_run(run.pk)

    assert finished.status == Run.Status.FAILED
    assert finished.config_error is True
    assert finished.error.startswith(
        "The output mapping no longer fits the parent segment's columns: "
        "output_mapping.columns[2].source: "
    )
    assert fake_connector.written == []


def test_one_export_timestamp_for_all_rows_of_a_run(fake_connector):
    activation = make_fake_activation(
        rows=15,
        output_mapping=output_mapping(
            ("customer_id", "Customer_Key__c"),
            strings=[concat("Exported_At__c", {"type": "timestamp"})],
            export_all_columns=False,
        ),
    )
    run = queue_run(activation)

    finished = runner.execute_run(run.pk)

    stamps = {row[1] for row in fake_connector.written}
    assert len(fake_connector.written) == 15
    assert len(stamps) == 1
    stored = datetime.fromisoformat(finished.progress["timestamp"])
    assert stamps == {stored.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_a_second_delivery_of_the_same_run_does_nothing(fake_connector):
    activation = make_fake_activation(rows=5)
    run = queue_run(activation)
    runner.execute_run(run.pk)

    again = runner.execute_run(run.pk)

    assert again is None
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert run.rows_succeeded == 5
    assert len(fake_connector.written) == 5
    assert fake_connector.jobs == 1


def test_a_delivery_while_another_worker_runs_it_leaves_the_run_alone(fake_connector):
    activation = make_fake_activation(rows=5)
    started = timezone.now() - timedelta(seconds=30)
    run = queue_run(
        activation, status=Run.Status.RUNNING, started_at=started, heartbeat_at=timezone.now()
    )

    assert runner.execute_run(run.pk) is None

    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING
    assert run.finished_at is None
    assert fake_connector.jobs == 0


@override_settings(RUN_STALE_AFTER_SECONDS=600)
def test_a_redelivery_after_the_worker_died_marks_the_run_failed(fake_connector):
    activation = make_fake_activation(rows=5)
    last_beat = timezone.now() - timedelta(seconds=601)
    run = queue_run(
        activation,
        status=Run.Status.RUNNING,
        started_at=last_beat,
        heartbeat_at=last_beat,
        rows_read=5,
        rows_succeeded=2,
    )

    assert runner.execute_run(run.pk) is None

    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert run.error == (
        "The worker stopped while the run was in progress (no heartbeat since "
        f"{last_beat:%Y-%m-%d %H:%M:%S} UTC). 3 of the 5 rows read were not confirmed by "
        "Salesforce (never sent, or sent without a result)."
    )
    assert fake_connector.jobs == 0


def test_cancelling_a_running_run_stops_it_before_the_next_batch(fake_connector):
    activation = make_fake_activation(rows=25)
    run = queue_run(activation)

    def cancel_during_first_job(job_number):
        if job_number == 1:
            services.cancel_run(Run.objects.get(pk=run.pk))

    fake_connector.before_report = cancel_during_first_job

    finished = runner.execute_run(run.pk)

    assert finished.status == Run.Status.CANCELLED
    assert finished.error == "Cancelled while running."
    assert (finished.rows_read, finished.rows_succeeded, finished.rows_failed) == (10, 10, 0)
    assert fake_connector.jobs == 1
    assert len(fake_connector.written) == 10
    assert "Cancellation requested." in [entry["message"] for entry in finished.log]


def test_run_mail_follows_notify_on(fake_connector):
    activation = make_fake_activation(
        rows=2, notify_emails=["ops@example.com"], notify_on=Activation.NotifyOn.FAILURE
    )
    runner.execute_run(queue_run(activation).pk)
    assert mail.outbox == []

    fake_connector.refuse = lambda row: "INVALID_EMAIL_ADDRESS:bad:Email --"
    failed = runner.execute_run(queue_run(activation).pk)

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]
    assert mail.outbox[0].subject == (
        f"Activation Push to Contacts: run {failed.pk} failed (0 of 2 rows succeeded)"
    )
    assert failed.progress["notified"] is True


def scheduled_config_failure(activation, fake_connector, minutes_ago: int) -> Run:
    fake_connector.validate_error = ConnectorError(
        "INVALID_LOGIN: Invalid username, password, security token; or user locked out.",
        retryable=False,
    )
    run = queue_run(
        activation,
        trigger=Run.Trigger.SCHEDULE,
        scheduled_for=timezone.now() - timedelta(minutes=minutes_ago),
    )
    return runner.execute_run(run.pk)


@override_settings(ACTIVATION_DISABLE_AFTER_FAILURES=3)
def test_scheduled_configuration_failures_in_a_row_disable_the_activation_and_tell_owners(
    fake_connector,
):
    activation = make_fake_activation(
        rows=2, notify_emails=["ops@example.com"], schedule_type=Activation.ScheduleType.HOURLY
    )
    make_user("olivia", workspace=activation.workspace, role="owner", email="olivia@example.com")
    make_user("eddie", workspace=activation.workspace, role="editor", email="eddie@example.com")
    beat.sync_periodic_task(activation)
    assert activation.periodic_task.enabled is True

    scheduled_config_failure(activation, fake_connector, 180)
    scheduled_config_failure(activation, fake_connector, 120)
    activation.refresh_from_db()
    assert (activation.enabled, activation.consecutive_failures) == (True, 2)

    last = scheduled_config_failure(activation, fake_connector, 60)

    activation.refresh_from_db()
    assert activation.enabled is False
    assert activation.consecutive_failures == 3
    assert activation.disabled_reason == (
        "Disabled automatically after 3 scheduled runs in a row failed on a configuration "
        "error. Last error: INVALID_LOGIN: Invalid username, password, security token; "
        "or user locked out."
    )
    assert activation.periodic_task.enabled is False
    disabled_mails = [m for m in mail.outbox if "was disabled" in m.subject]
    assert len(disabled_mails) == 1
    assert disabled_mails[0].to == ["olivia@example.com", "ops@example.com"]
    assert disabled_mails[0].subject == (
        "Activation Push to Contacts was disabled after 3 failed scheduled runs"
    )
    assert f"/activations/{activation.pk}/" in disabled_mails[0].body
    assert "hunter2" not in disabled_mails[0].body
    # Each failure was also mailed to the recipients (notify_on defaults to failure).
    run_mails = [m for m in mail.outbox if m.subject.startswith("Activation Push to Contacts: run")]
    assert len(run_mails) == 3
    assert last.progress["accounted"] is True


@override_settings(ACTIVATION_DISABLE_AFTER_FAILURES=2)
def test_a_success_resets_the_failure_count_and_manual_failures_do_not_count(fake_connector):
    activation = make_fake_activation(rows=2)
    scheduled_config_failure(activation, fake_connector, 180)
    activation.refresh_from_db()
    assert activation.consecutive_failures == 1

    fake_connector.validate_error = None
    runner.execute_run(queue_run(activation).pk)
    activation.refresh_from_db()
    assert activation.consecutive_failures == 0

    fake_connector.validate_error = ConnectorError("INVALID_LOGIN", retryable=False)
    runner.execute_run(queue_run(activation).pk)
    runner.execute_run(queue_run(activation, trigger=Run.Trigger.API).pk)
    activation.refresh_from_db()
    assert (activation.enabled, activation.consecutive_failures) == (True, 0)

    scheduled_config_failure(activation, fake_connector, 120)
    activation.refresh_from_db()
    assert (activation.enabled, activation.consecutive_failures) == (True, 1)


# --- End to end against the Salesforce emulator -----------------------------------------

UPSERT_MAPPING = output_mapping(
    ("customer_id", "Customer_Key__c"),
    ("first_name", "FirstName"),
    ("last_name", "LastName"),
    ("email", "Email"),
    strings=[],
    export_all_columns=False,
)


def make_emulated_activation(emulator, *, rows: int, **fields) -> Activation:
    workspace = make_workspace()
    parent = make_parent_segment(workspace=workspace)
    make_profiles(parent, rows)
    segment = make_segment(parent=parent, name="Japan")
    connection = make_connection(
        workspace=workspace, login_url=emulator.url, **fields.pop("connection", {})
    )
    fields.setdefault("mode", Activation.Mode.UPDATE)
    fields.setdefault("upsert", True)
    fields.setdefault("key", "Customer_Key__c")
    fields.setdefault("batch_size", 10)
    fields.setdefault("retry_initial_delay", 0)
    fields.setdefault("output_mapping", UPSERT_MAPPING)
    return make_activation(segment=segment, connection=connection, **fields)


def run_through_the_task(activation, capture) -> Run:
    """Request a run and let its task message (published on commit) execute it."""
    with capture(execute=True):
        run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL)
    run.refresh_from_db()
    return run


def contacts_by_key(emulator) -> dict[str, dict]:
    return {record["Customer_Key__c"]: record for record in emulator.records("Contact")}


def test_pipeline_upserts_the_segment_into_salesforce(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    activation = make_emulated_activation(salesforce_emulator, rows=25)

    run = run_through_the_task(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert (run.rows_read, run.rows_sent, run.rows_succeeded, run.rows_failed) == (25, 25, 25, 0)
    assert len(run.salesforce_job_ids) == 3
    assert set(run.salesforce_job_ids) == {job.id for job in salesforce_emulator.jobs}
    contacts = contacts_by_key(salesforce_emulator)
    assert sorted(contacts) == [f"C{number:04d}" for number in range(1, 26)]
    assert contacts["C0007"]["LastName"] == "Last7"
    assert contacts["C0007"]["FirstName"] == "First7"
    assert contacts["C0007"]["Email"] == "customer7@example.com"


def test_pipeline_partial_failure_keeps_the_refused_rows_with_sf_error(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    activation = make_emulated_activation(salesforce_emulator, rows=12)
    parent = activation.segment.parent_segment
    for key in ("C0004", "C0009"):
        profile = Profile.objects.get(parent_segment=parent, key=key)
        profile.attributes["last_name"] = None  # LastName is required on insert
        profile.save()

    run = run_through_the_task(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.PARTIALLY_FAILED
    assert (run.rows_read, run.rows_sent, run.rows_succeeded, run.rows_failed) == (12, 12, 10, 2)
    assert sorted(contacts_by_key(salesforce_emulator)) == [
        f"C{number:04d}" for number in range(1, 13) if number not in (4, 9)
    ]
    lines = b"".join(failed_rows_csv(run)).decode().splitlines()
    assert lines[0] == "Customer_Key__c,FirstName,LastName,Email,sf__Error"
    assert sorted(lines[1:]) == [
        "C0004,First4,,customer4@example.com,"
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
        "C0009,First9,,customer9@example.com,"
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
    ]


def test_pipeline_with_bad_credentials_fails_on_configuration_and_sends_nothing(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    activation = make_emulated_activation(
        salesforce_emulator, rows=5, connection={"password": "wrong-password"}
    )

    run = run_through_the_task(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.FAILED
    assert run.config_error is True
    assert run.error == (
        "Salesforce rejected the username, password or security token (or the user is locked out)."
    )
    assert (run.rows_read, run.rows_sent, run.rows_succeeded, run.rows_failed) == (0, 0, 0, 0)
    assert salesforce_emulator.records("Contact") == []
    assert salesforce_emulator.jobs == []
    assert "wrong-password" not in str(run.log)


def test_pipeline_with_a_field_salesforce_does_not_have_fails_before_any_job(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    mapping = copy.deepcopy(UPSERT_MAPPING)
    mapping["columns"].append({"source": "country", "output": "Country_Code__c"})
    activation = make_emulated_activation(salesforce_emulator, rows=5, output_mapping=mapping)

    run = run_through_the_task(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.FAILED
    assert run.config_error is True
    assert "Country_Code__c" in run.error
    assert salesforce_emulator.jobs == []


def test_check_destination_and_preview_use_the_run_settings(salesforce_emulator):
    activation = make_emulated_activation(salesforce_emulator, rows=3)

    services.check_destination(activation)
    columns, rows = services.preview(activation, limit=2)

    assert columns == ["Customer_Key__c", "FirstName", "LastName", "Email"]
    assert rows == [
        ["C0001", "First1", "Last1", "customer1@example.com"],
        ["C0002", "First2", "Last2", "customer2@example.com"],
    ]
    activation.key = "FirstName"  # neither an External ID nor an idLookup field
    with pytest.raises(ConnectorError) as raised:
        services.check_destination(activation)
    assert raised.value.retryable is False
    assert "FirstName" in raised.value.message


@pytest.mark.postgres
@pytest.mark.skipif(
    db_connection.vendor != "postgresql",
    reason="a second thread writing during the run needs PostgreSQL in tests",
)
@pytest.mark.django_db(transaction=True)
@override_settings(RUN_STALE_AFTER_SECONDS=2)
def test_a_run_waiting_on_a_slow_job_keeps_its_heartbeat_and_is_not_taken_for_dead(
    salesforce_emulator,
):
    # Given a Salesforce job that takes longer than the stale limit, with no row moving
    salesforce_emulator.settings.processing_delay = 2.5
    activation = make_emulated_activation(
        salesforce_emulator,
        rows=5,
        concurrency_mode=Activation.ConcurrencyMode.SERIAL,
    )
    run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)
    found_dead = []

    def look_for_dead_runs_meanwhile():
        try:
            for _ in range(4):
                time.sleep(1)
                found_dead.append(runner.mark_stale_runs())
        finally:
            db_connection.close()

    watcher = threading.Thread(target=look_for_dead_runs_meanwhile)
    watcher.start()

    # when the worker runs it with the background heartbeat
    finished = runner.execute_run(run.pk, background_heartbeat=True)
    watcher.join()

    # then the watcher never found it dead, and it finished.
    assert found_dead == [0, 0, 0, 0]
    assert finished.status == Run.Status.SUCCEEDED
    assert finished.rows_succeeded == 5


@pytest.mark.postgres
@pytest.mark.skipif(
    db_connection.vendor != "postgresql",
    reason="a second thread writing during the run needs PostgreSQL in tests",
)
@pytest.mark.django_db(transaction=True)
def test_cancelling_while_salesforce_works_on_a_long_job_aborts_it_at_once(salesforce_emulator):
    # Given a Salesforce job that would take a minute to process
    salesforce_emulator.settings.processing_delay = 60
    activation = make_emulated_activation(
        salesforce_emulator, rows=5, concurrency_mode=Activation.ConcurrencyMode.SERIAL
    )
    run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)

    def cancel_once_the_job_is_in_flight():
        try:
            for _ in range(100):
                time.sleep(0.2)
                current = Run.objects.get(pk=run.pk)
                if current.salesforce_job_ids:
                    services.cancel_run(current)
                    return
        finally:
            db_connection.close()

    canceller = threading.Thread(target=cancel_once_the_job_is_in_flight)
    canceller.start()

    # when the worker runs it and the run is cancelled while the job is in flight
    finished = runner.execute_run(run.pk, background_heartbeat=True)
    canceller.join()

    # then the run ends cancelled with the job aborted in Salesforce before it processed a
    # row, and every row read is accounted for.
    assert finished.status == Run.Status.CANCELLED
    job_id = finished.salesforce_job_ids[0]
    assert salesforce_emulator.org.ingest_jobs[job_id].state == "Aborted"
    assert finished.rows_read == finished.rows_succeeded + finished.rows_failed
    assert salesforce_emulator.records("Contact") == []
