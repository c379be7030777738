"""Truncate and update by a key other than Id are recorded steps too (activations/prephase.py):
their query job is recorded as soon as it exists and read again on resume, a truncate's
deletes are steps like the inserts. A worker killed at any of these steps (the "kill" is an
exception nothing catches, as in test_resume.py) leaves a run that is resumed and ends with
exactly the segment's rows in the object, every original record deleted once, and no row
sent twice."""

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from activations import prephase, runner, services
from activations.models import Activation, Run, RunChunk
from tests.activations.test_resume import WorkerKilled, kill_on, killed_and_resumed
from tests.activations.test_runner import make_emulated_activation
from tests.connectors.recording import speed_up
from tests.factories import KEY_AND_LAST_NAME_MAPPING

pytestmark = pytest.mark.django_db

STALE_AFTER = 600
ROWS = 30  # the segment: C0001 … C0030, three chunks of 10
OLD_RECORDS = 23  # in the object before a truncate: three delete chunks (10, 10, 3)
MAPPING = KEY_AND_LAST_NAME_MAPPING
BULK = "connectors.salesforce.bulk.BulkApi"


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    speed_up(monkeypatch)


def kill_and_resume(emulator, monkeypatch, capture, activation, step) -> Run:
    """Run `activation` until the worker is killed at `step`, then let the stale check resume it."""
    return killed_and_resumed(
        emulator,
        monkeypatch,
        capture,
        step,
        lambda: services.request_run(
            activation=activation, trigger=Run.Trigger.MANUAL, publish=False
        ),
    )


def processed(emulator, operation: str) -> int:
    """Records the jobs of `operation` processed (an aborted Open job processed none)."""
    return sum(job.numberRecordsProcessed for job in emulator.jobs if job.operation == operation)


# Truncate: query job → delete steps → insert steps.

TRUNCATE_STEPS = {
    # name: (function, which call, after it ran)
    "query job created, its id not stored yet": (f"{BULK}.start_query", 1, True),
    "query job recorded, not read": (f"{BULK}.query_results", 1, False),
    "listing half stored": ("activations.models.RunChunk.objects.create", 5, True),
    "delete job created": (f"{BULK}.upload", 2, False),
    "delete job uploaded": (f"{BULK}.upload", 2, True),
    "delete job closed": (f"{BULK}.close_job", 2, True),
    "delete results read": ("connectors.salesforce.results.collect", 2, True),
    "insert job created": (f"{BULK}.upload", 5, False),
    "insert job closed": (f"{BULK}.close_job", 5, True),
    "insert results read": ("connectors.salesforce.results.collect", 5, True),
}


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER)
@pytest.mark.parametrize("step", list(TRUNCATE_STEPS))
def test_a_truncate_killed_at_any_step_deletes_each_record_once_and_keeps_the_new_rows(
    salesforce_emulator, monkeypatch, django_capture_on_commit_callbacks, step
):
    old_ids = salesforce_emulator.insert_records(
        "Contact", [{"LastName": f"Old{number}"} for number in range(OLD_RECORDS)]
    )
    activation = make_emulated_activation(
        salesforce_emulator,
        rows=ROWS,
        mode=Activation.Mode.TRUNCATE,
        upsert=False,
        key="",
        output_mapping=MAPPING,
    )

    run = kill_and_resume(
        salesforce_emulator,
        monkeypatch,
        django_capture_on_commit_callbacks,
        activation,
        TRUNCATE_STEPS[step],
    )

    assert run.status == Run.Status.SUCCEEDED, (run.error, run.log[-5:])
    assert (run.rows_read, run.rows_succeeded, run.rows_failed) == (ROWS, ROWS, 0)
    contacts = salesforce_emulator.records("Contact")
    # Exactly the segment's rows: none inserted twice, none deleted by the resumed deletes.
    assert sorted(record["Customer_Key__c"] for record in contacts) == [
        f"C{number:04d}" for number in range(1, ROWS + 1)
    ]
    # Every original record deleted, once.
    assert sorted(record["Id"] for record in salesforce_emulator.recycle_bin("Contact")) == sorted(
        old_ids
    )
    assert processed(salesforce_emulator, "delete") == OLD_RECORDS
    assert processed(salesforce_emulator, "insert") == ROWS
    assert run.progress["deleted"] == OLD_RECORDS
    assert run.progress["query_job"] in run.salesforce_job_ids
    recorded = set(RunChunk.objects.filter(run=run).values_list("job_id", flat=True))
    assert recorded <= set(run.salesforce_job_ids)
    assert any("resumed from its recorded steps" in line["message"] for line in run.log)


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER)
def test_a_resumed_truncate_reads_its_recorded_query_job_again_and_runs_no_other(
    salesforce_emulator, monkeypatch, django_capture_on_commit_callbacks
):
    salesforce_emulator.insert_records(
        "Contact", [{"LastName": f"Old{number}"} for number in range(OLD_RECORDS)]
    )
    activation = make_emulated_activation(
        salesforce_emulator,
        rows=ROWS,
        mode=Activation.Mode.TRUNCATE,
        upsert=False,
        key="",
        output_mapping=MAPPING,
        hard_delete=True,
    )

    run = kill_and_resume(
        salesforce_emulator,
        monkeypatch,
        django_capture_on_commit_callbacks,
        activation,
        TRUNCATE_STEPS["delete job closed"],
    )

    assert run.status == Run.Status.SUCCEEDED, (run.error, run.log[-5:])
    assert len(salesforce_emulator.query_jobs) == 1
    assert processed(salesforce_emulator, "hardDelete") == OLD_RECORDS
    assert salesforce_emulator.recycle_bin("Contact") == []  # hard-deleted
    assert len(salesforce_emulator.records("Contact")) == ROWS


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER)
def test_a_truncate_whose_segment_emptied_before_its_deletes_began_is_blocked_on_resume(
    salesforce_emulator, monkeypatch, django_capture_on_commit_callbacks
):
    """The guard looks again at the snapshot (the rows the run will insert) before the
    first delete: a snapshot that came back empty deletes nothing."""
    salesforce_emulator.insert_records("Contact", [{"LastName": "Old"}])
    activation = make_emulated_activation(
        salesforce_emulator,
        rows=0,
        mode=Activation.Mode.TRUNCATE,
        upsert=False,
        key="",
        output_mapping=MAPPING,
    )
    # The segment had rows when the run was checked, none when its snapshot was taken.
    monkeypatch.setattr("segments.audience.size", lambda segment: 5)

    with django_capture_on_commit_callbacks(execute=True):
        run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL)
    run.refresh_from_db()

    assert run.status == Run.Status.FAILED
    assert run.error.startswith("Blocked before anything was deleted: the segment Japan is empty")
    assert len(salesforce_emulator.records("Contact")) == 1
    assert salesforce_emulator.jobs == []


# Update by a key other than Id: one recorded query job → update steps.

LOOKUP_STEPS = {
    "query job created, its id not stored yet": (f"{BULK}.start_query", 1, True),
    "query job recorded, not read": (f"{BULK}.query_results", 1, False),
    "update job created": (f"{BULK}.upload", 2, False),
    "update job uploaded": (f"{BULK}.upload", 2, True),
    "update job closed": (f"{BULK}.close_job", 2, True),
    "update results read": ("connectors.salesforce.results.collect", 2, True),
}
KNOWN = 25  # C0001 … C0025 exist; C0026 … C0030 match no record and fail


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER)
@pytest.mark.parametrize("step", list(LOOKUP_STEPS))
def test_an_update_by_key_killed_at_any_step_updates_each_record_once(
    salesforce_emulator, monkeypatch, django_capture_on_commit_callbacks, step
):
    salesforce_emulator.insert_records(
        "Contact",
        [
            {"Customer_Key__c": f"C{number:04d}", "LastName": "Before"}
            for number in range(1, KNOWN + 1)
        ],
    )
    activation = make_emulated_activation(
        salesforce_emulator,
        rows=ROWS,
        mode=Activation.Mode.UPDATE,
        upsert=False,
        key="Customer_Key__c",
        output_mapping=MAPPING,
    )

    run = kill_and_resume(
        salesforce_emulator,
        monkeypatch,
        django_capture_on_commit_callbacks,
        activation,
        LOOKUP_STEPS[step],
    )

    assert run.status == Run.Status.PARTIALLY_FAILED, (run.error, run.log[-5:])
    assert (run.rows_read, run.rows_succeeded, run.rows_failed) == (ROWS, KNOWN, ROWS - KNOWN)
    contacts = {r["Customer_Key__c"]: r for r in salesforce_emulator.records("Contact")}
    assert sorted(contacts) == [f"C{number:04d}" for number in range(1, KNOWN + 1)]
    assert {record["LastName"] for record in contacts.values()} == {
        f"Last{number}" for number in range(1, KNOWN + 1)
    }
    assert processed(salesforce_emulator, "update") == KNOWN  # no row sent twice
    failed = sorted(run.failed_rows.values_list("key", "error"))
    assert failed == [
        (f"C{number:04d}", f"No Contact has Customer_Key__c = 'C{number:04d}'")
        for number in range(KNOWN + 1, ROWS + 1)
    ]
    # One query job per run; a second only when the worker died before recording the first.
    recorded_before_kill = step != "query job created, its id not stored yet"
    assert len(salesforce_emulator.query_jobs) == (1 if recorded_before_kill else 2)
    assert run.progress["query_job"] in run.salesforce_job_ids


def truncate_of(emulator, **fields) -> Activation:
    return make_emulated_activation(
        emulator,
        rows=ROWS,
        mode=Activation.Mode.TRUNCATE,
        upsert=False,
        key="",
        output_mapping=MAPPING,
        **fields,
    )


def test_a_recorded_truncate_inserts_nothing_when_a_record_cannot_be_deleted(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    salesforce_emulator.insert_records("Contact", [{"LastName": "Old 1"}, {"LastName": "Old 2"}])
    salesforce_emulator.inject("unable_to_lock_row", times=None)
    activation = truncate_of(salesforce_emulator, retry_limit=1)

    with django_capture_on_commit_callbacks(execute=True):
        run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL)
    run.refresh_from_db()

    assert run.status == Run.Status.FAILED
    assert run.error.startswith(
        "Could not empty Contact before inserting: 2 of 2 records were not deleted "
        "(first error: UNABLE_TO_LOCK_ROW:"
    )
    assert "No rows were inserted." in run.error
    assert sorted(r["LastName"] for r in salesforce_emulator.records("Contact")) == [
        "Old 1",
        "Old 2",
    ]
    assert {job.operation for job in salesforce_emulator.jobs} == {"delete"}


def test_a_recorded_truncate_deletes_again_the_records_that_were_locked(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    salesforce_emulator.insert_records("Contact", [{"LastName": "Old 1"}, {"LastName": "Old 2"}])
    salesforce_emulator.inject("unable_to_lock_row", times=1)
    activation = truncate_of(salesforce_emulator, retry_limit=2)

    with django_capture_on_commit_callbacks(execute=True):
        run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL)
    run.refresh_from_db()

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.progress["deleted"] == 2
    # The locked record went out again in a second delete job.
    assert [job.operation for job in salesforce_emulator.jobs].count("delete") == 2
    assert len(salesforce_emulator.recycle_bin("Contact")) == 2
    assert len(salesforce_emulator.records("Contact")) == ROWS


def test_a_shutdown_stops_a_truncate_between_two_delete_steps_and_it_is_finished_later(
    salesforce_emulator, monkeypatch, django_capture_on_commit_callbacks
):
    old_ids = salesforce_emulator.insert_records(
        "Contact", [{"LastName": f"Old{number}"} for number in range(OLD_RECORDS)]
    )
    activation = truncate_of(salesforce_emulator)
    store_outcome = prephase._store_outcome

    def then_shutdown(run, chunk, outcome, params, recorder):
        store_outcome(run, chunk, outcome, params, recorder)
        recorder.shutdown_requested.set()  # what the heartbeat does on SIGTERM

    monkeypatch.setattr(prephase, "_store_outcome", then_shutdown)
    run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)
    runner.execute_run(run.pk)

    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED  # handed over, not failed
    assert "stopped between two steps" in run.log[-1]["message"]
    assert run.progress["deleted"] == 10  # one delete step done, no job in flight
    assert len(salesforce_emulator.records("Contact")) == OLD_RECORDS - 10

    monkeypatch.setattr(prephase, "_store_outcome", store_outcome)
    runner.execute_run(run.pk)  # another worker takes it

    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert sorted(r["Id"] for r in salesforce_emulator.recycle_bin("Contact")) == sorted(old_ids)
    assert len(salesforce_emulator.records("Contact")) == ROWS
    assert len(salesforce_emulator.query_jobs) == 1


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER)
def test_a_truncate_resumed_after_its_deletes_inserts_its_snapshot_even_if_the_segment_shrank(
    salesforce_emulator, monkeypatch, django_capture_on_commit_callbacks
):
    """Past its listing a truncate is past the guard: blocking the resume would leave the
    object emptied without the rows the run took to insert."""
    salesforce_emulator.insert_records(
        "Contact", [{"LastName": f"Old{number}"} for number in range(OLD_RECORDS)]
    )
    activation = truncate_of(salesforce_emulator)
    Run.objects.create(
        activation=activation,
        status=Run.Status.SUCCEEDED,
        rows_read=ROWS,
        rows_succeeded=ROWS,
        finished_at=timezone.now(),
    )
    target, call, after = TRUNCATE_STEPS["insert job created"]
    restore = kill_on(monkeypatch, target, call=call, after=after)
    run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)
    with pytest.raises(WorkerKilled):
        runner.execute_run(run.pk)
    restore()
    # Meanwhile the segment lost two thirds of its rows (a shrink the guard would block).
    parent = activation.segment.parent_segment
    parent.profiles.exclude(key__in=[f"C{number:04d}" for number in range(1, 11)]).delete()

    salesforce_emulator.wait_for_jobs()
    with (
        time_machine.travel(timezone.now() + timedelta(seconds=STALE_AFTER + 1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        runner.mark_stale_runs()

    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert len(salesforce_emulator.records("Contact")) == ROWS  # the snapshot's rows
