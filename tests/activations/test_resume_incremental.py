"""Incremental runs and retries of failed rows are recorded steps too: their snapshot is the
rows they picked (changed, new, failed last time; or the failed keys), and each chunk's
accepted rows' fingerprints advance in the transaction that stores its outcome. A worker
killed at a step (an exception nothing catches, as in test_resume.py) leaves a run that the
stale-heartbeat check resumes; each picked row reaches Salesforce once and the fingerprints
say exactly what Salesforce accepted."""

import csv
import io

import pytest
from django.test import override_settings
from django.utils import timezone

from activations import fingerprints, retry, runner, services, streaming
from activations.models import Activation, FailedRow, Run
from tests.activations.test_incremental import MODES, TOO_LONG, set_attribute, stored
from tests.activations.test_resume import killed_and_resumed
from tests.activations.test_runner import make_emulated_activation
from tests.connectors.recording import speed_up

pytestmark = pytest.mark.django_db

STALE_AFTER = 600
ROWS = 30
CHANGED = range(1, 26)  # 25 changed rows (C0003 fails): three chunks of 10, 10, 5
BULK = "connectors.salesforce.bulk.BulkApi"
STEPS = {
    # name: (function, which call, after it ran)
    "after the snapshot": ("activations.steps.send_chunks", 1, False),
    "mid-upload (second job uploaded, not closed)": (f"{BULK}.upload", 2, True),
    "second job's results read, not stored": ("connectors.salesforce.results.collect", 2, True),
}


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    speed_up(monkeypatch)


def make(emulator, kind: str, **fields) -> Activation:
    fields = {**MODES[kind], "sync": Activation.Sync.INCREMENTAL, **fields}
    return make_emulated_activation(emulator, rows=ROWS, **fields)


def run_now(activation) -> Run:
    run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)
    return runner.execute_run(run.pk)


def processed_uploads(emulator, *, after: int, operation: str | None = None) -> list[dict]:
    """The rows of the ingest jobs Salesforce processed (an aborted Open job processed none)."""
    rows = []
    for job in emulator.jobs[after:]:
        if job.upload and job.numberRecordsProcessed and operation in (None, job.operation):
            rows.extend(csv.DictReader(io.StringIO(job.upload.decode())))
    return rows


def current_fingerprints(activation) -> dict[str, int]:
    """What each row's fingerprint is now, from the run's own SELECT."""
    keyed = streaming.cells(activation, timestamp=timezone.now(), with_key=True)
    return {row[-1]: fingerprints.fingerprint(row[:-1]) for row in keyed}


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER)
@pytest.mark.parametrize("kind", ["upsert", "append"])
@pytest.mark.parametrize("step", list(STEPS))
def test_an_incremental_run_killed_at_a_step_sends_each_changed_row_once(
    salesforce_emulator, monkeypatch, django_capture_on_commit_callbacks, kind, step
):
    activation = make(salesforce_emulator, kind, concurrency_mode="serial")
    first = run_now(activation)
    assert (first.status, first.rows_succeeded) == (Run.Status.SUCCEEDED, ROWS)
    jobs = len(salesforce_emulator.jobs)
    for number in CHANGED:
        set_attribute(activation, number, last_name=TOO_LONG if number == 3 else f"New{number}")

    run = killed_and_resumed(
        salesforce_emulator,
        monkeypatch,
        django_capture_on_commit_callbacks,
        STEPS[step],
        lambda: services.request_run(
            activation=activation, trigger=Run.Trigger.MANUAL, publish=False
        ),
    )

    assert run.status == Run.Status.PARTIALLY_FAILED, (run.error, run.log[-5:])
    assert (run.sync, run.rows_read, run.rows_unchanged) == ("incremental", 25, ROWS - 25)
    assert (run.rows_succeeded, run.rows_failed) == (24, 1)
    sent = sorted(row["LastName"] for row in processed_uploads(salesforce_emulator, after=jobs))
    assert sent == sorted([TOO_LONG] + [f"New{number}" for number in CHANGED if number != 3])
    # Each changed row is in Salesforce exactly once.
    names = [record["LastName"] for record in salesforce_emulator.records("Contact")]
    for number in CHANGED:
        if number != 3:
            assert names.count(f"New{number}") == 1
    if kind == "upsert":
        assert len(names) == ROWS
    # Fingerprints exactly for what Salesforce accepted: every row as it is now, but the
    # failed one, which keeps what Salesforce accepted in the first run.
    now, kept = current_fingerprints(activation), stored(activation)
    assert kept.keys() == now.keys()
    assert {key for key in now if kept[key] != now[key]} == {"C0003"}

    jobs = len(salesforce_emulator.jobs)
    following = run_now(activation)

    assert [row["LastName"] for row in processed_uploads(salesforce_emulator, after=jobs)] == [
        TOO_LONG
    ]
    assert (following.rows_read, following.rows_unchanged) == (1, ROWS - 1)


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER)
@pytest.mark.parametrize("kind", ["upsert", "append"])
def test_a_retry_killed_mid_way_sends_exactly_the_failed_rows_once(
    salesforce_emulator, monkeypatch, django_capture_on_commit_callbacks, kind
):
    activation = make(salesforce_emulator, kind, concurrency_mode="serial", batch_size=5)
    failing = [2, 5, 9, 11, 14, 17, 20, 23, 26, 29, 30, 4]
    for number in failing:
        set_attribute(activation, number, last_name=TOO_LONG)
    failed = run_now(activation)
    assert failed.rows_failed == len(failing)
    for number in failing:
        set_attribute(activation, number, last_name=f"Fixed{number}")
    set_attribute(activation, 1, last_name="Changed1")  # not failed: not part of the retry
    jobs = len(salesforce_emulator.jobs)

    run = killed_and_resumed(
        salesforce_emulator,
        monkeypatch,
        django_capture_on_commit_callbacks,
        ("connectors.salesforce.bulk.BulkApi.upload", 2, True),
        lambda: retry.request_retry(failed),
    )

    assert run.status == Run.Status.SUCCEEDED, (run.error, run.log[-5:])
    assert (run.sync, run.rows_read, run.rows_succeeded) == ("retry", len(failing), len(failing))
    sent = sorted(row["LastName"] for row in processed_uploads(salesforce_emulator, after=jobs))
    assert sent == sorted(f"Fixed{number}" for number in failing)
    names = [record["LastName"] for record in salesforce_emulator.records("Contact")]
    assert all(names.count(f"Fixed{number}") == 1 for number in failing)
    assert "Changed1" not in names
    # The retry of an incremental activation advanced the retried rows' fingerprints.
    now = current_fingerprints(activation)
    assert all(stored(activation)[key] == now[key] for key in (f"C{n:04d}" for n in failing))


LEAVE_STEPS = {
    # The run's jobs: one upsert (the changed row), then two delete jobs (2 and 1 leavers).
    "after the snapshot": ("activations.steps.send_chunks", 1, False),
    "Ids recorded, no delete job yet": (
        "connectors.salesforce.connector.SalesforceConnector.delete_step",
        1,
        False,
    ),
    "delete job created, not uploaded": (f"{BULK}.upload", 2, False),
    "delete job uploaded, not closed": (f"{BULK}.upload", 2, True),
    "delete job closed": (f"{BULK}.close_job", 2, True),
    "delete results read, not stored": ("connectors.salesforce.results.collect", 2, True),
    "second delete's outcome stored": ("activations.steps.store_outcome", 3, True),
}


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER)
@pytest.mark.parametrize("step", list(LEAVE_STEPS))
def test_on_leave_delete_resumed_deletes_each_leaver_once(
    salesforce_emulator, monkeypatch, django_capture_on_commit_callbacks, step
):
    activation = make(salesforce_emulator, "upsert", on_leave="delete", concurrency_mode="serial")
    run_now(activation)
    Activation.objects.filter(pk=activation.pk).update(batch_size=2)
    activation.refresh_from_db()
    leaving = {7, 8, 9}
    for number in leaving:
        set_attribute(activation, number, country="FR")
    activation.segment.rules = {
        "type": "and",
        "conditions": [{"column": "country", "operator": "eq", "value": "JP"}],
    }
    activation.segment.save()
    set_attribute(activation, 1, last_name="Changed1")
    ids = {
        record["Customer_Key__c"]: record["Id"] for record in salesforce_emulator.records("Contact")
    }

    run = killed_and_resumed(
        salesforce_emulator,
        monkeypatch,
        django_capture_on_commit_callbacks,
        LEAVE_STEPS[step],
        lambda: services.request_run(
            activation=activation, trigger=Run.Trigger.MANUAL, publish=False
        ),
    )

    assert run.status == Run.Status.SUCCEEDED, (run.error, run.log[-5:])
    assert (run.rows_read, run.rows_deleted, run.rows_succeeded) == (4, 3, 4)
    gone = [ids[f"C{number:04d}"] for number in sorted(leaving)]
    assert sorted(r["Id"] for r in salesforce_emulator.recycle_bin("Contact")) == sorted(gone)
    deleted = processed_uploads(salesforce_emulator, after=0, operation="delete")
    assert sorted(row["Id"] for row in deleted) == sorted(gone)  # each leaver deleted once
    assert not set(stored(activation)) & {f"C{number:04d}" for number in leaving}
    assert not FailedRow.objects.filter(run=run).exists()

    again = run_now(activation)
    assert (again.rows_read, again.rows_deleted) == (0, 0)
