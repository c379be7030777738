"""Incremental sync, full resync and retry of failed rows, against the Salesforce emulator:
what each run uploads (read from the emulator's jobs), what ends up in the org, and the
fingerprints left behind."""

import csv
import io

import pytest

from activations import fingerprints, retry, runner, services
from activations.models import Activation, FailedRow, Fingerprint, Run
from segments.models import Profile
from tests.activations.test_runner import make_emulated_activation
from tests.factories import output_mapping

pytestmark = pytest.mark.django_db

ROWS = 12
# Salesforce refuses it: LastName holds at most 80 characters.
TOO_LONG = "x" * 81

# Update by a looked-up key: Email is an idLookup field, records are found by a query job.
EMAIL_MAPPING = output_mapping(
    ("email", "Email"),
    ("last_name", "LastName"),
    ("first_name", "FirstName"),
    strings=[],
    export_all_columns=False,
)
APPEND_MAPPING = output_mapping(
    ("last_name", "LastName"), ("email", "Email"), strings=[], export_all_columns=False
)

MODES = {
    "upsert": {},
    "update_by_key": {"upsert": False, "key": "Email", "output_mapping": EMAIL_MAPPING},
    "append": {
        "mode": Activation.Mode.APPEND,
        "upsert": False,
        "key": "",
        "output_mapping": APPEND_MAPPING,
    },
}


def make_incremental(emulator, kind: str, **fields) -> Activation:
    fields = {**MODES[kind], **fields}
    fields.setdefault("sync", Activation.Sync.INCREMENTAL)
    activation = make_emulated_activation(emulator, rows=ROWS, **fields)
    if kind == "update_by_key":
        # Records to update must exist: one Contact per profile, found by its e-mail.
        emulator.insert_records(
            "Contact",
            [
                {"LastName": "Old", "Email": f"customer{number}@example.com"}
                for number in range(1, ROWS + 1)
            ],
        )
    return activation


def set_attribute(activation, number: int, **changes) -> None:
    profile = Profile.objects.get(
        parent_segment=activation.segment.parent_segment, key=f"C{number:04d}"
    )
    profile.attributes = {**profile.attributes, **changes}
    profile.save()


def run_now(activation, trigger=Run.Trigger.MANUAL) -> Run:
    run = services.request_run(activation=activation, trigger=trigger, publish=False)
    return runner.execute_run(run.pk)


def uploaded(emulator, *, after: int = 0, operation: str | None = None) -> list[dict]:
    """The rows uploaded to ingest jobs created after the first `after` jobs."""
    rows = []
    for job in emulator.jobs[after:]:
        if job.upload and (operation is None or job.operation == operation):
            rows.extend(csv.DictReader(io.StringIO(job.upload.decode())))
    return rows


def last_names(rows) -> list[str]:
    return sorted(row["LastName"] for row in rows)


def stored(activation) -> dict[str, int]:
    return dict(Fingerprint.objects.filter(activation=activation).values_list("key", "fingerprint"))


@pytest.mark.parametrize("mode", MODES)
def test_a_second_run_sends_only_the_failed_rows_then_only_what_changed(salesforce_emulator, mode):
    activation = make_incremental(salesforce_emulator, mode)
    set_attribute(activation, 3, last_name=TOO_LONG)

    first = run_now(activation)

    assert (first.status, first.sync) == (Run.Status.PARTIALLY_FAILED, "full")
    assert "First incremental run" in first.sync_reason
    assert (first.rows_succeeded, first.rows_failed) == (ROWS - 1, 1)
    assert len(stored(activation)) == ROWS - 1
    jobs = len(salesforce_emulator.jobs)

    second = run_now(activation)

    assert (second.sync, second.rows_unchanged) == ("incremental", ROWS - 1)
    assert last_names(uploaded(salesforce_emulator, after=jobs)) == [TOO_LONG]
    assert (second.rows_read, second.rows_sent, second.rows_failed) == (1, 1, 1)
    jobs = len(salesforce_emulator.jobs)

    set_attribute(activation, 3, last_name="Last3")
    set_attribute(activation, 7, last_name="Seventh")
    third = run_now(activation)

    assert third.status == Run.Status.SUCCEEDED
    assert last_names(uploaded(salesforce_emulator, after=jobs)) == ["Last3", "Seventh"]
    assert (third.rows_sent, third.rows_succeeded, third.rows_unchanged) == (2, 2, ROWS - 2)
    assert len(stored(activation)) == ROWS
    jobs = len(salesforce_emulator.jobs)

    fourth = run_now(activation)

    assert fourth.status == Run.Status.SUCCEEDED
    assert (fourth.rows_read, fourth.rows_unchanged) == (0, ROWS)
    assert uploaded(salesforce_emulator, after=jobs) == []
    assert "nothing changed" in fourth.log[-1]["message"]


def leave_segment(activation, number: int) -> None:
    """Profile `number` stops matching the segment's rules."""
    set_attribute(activation, number, country="FR")
    activation.segment.rules = {
        "type": "and",
        "conditions": [{"column": "country", "operator": "eq", "value": "JP"}],
    }
    activation.segment.save()


def test_a_row_leaving_is_ignored_by_default(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "upsert")
    run_now(activation)
    jobs = len(salesforce_emulator.jobs)
    leave_segment(activation, 5)

    run = run_now(activation)

    assert (run.status, run.rows_deleted, run.rows_read) == (Run.Status.SUCCEEDED, 0, 0)
    assert uploaded(salesforce_emulator, after=jobs) == []
    assert len(salesforce_emulator.records("Contact")) == ROWS


def test_a_row_leaving_is_deleted_with_on_leave_delete(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "upsert", on_leave="delete")
    run_now(activation)
    leave_segment(activation, 5)

    run = run_now(activation)

    assert run.status == Run.Status.SUCCEEDED
    assert (run.rows_deleted, run.rows_unchanged, run.rows_succeeded) == (1, ROWS - 1, 1)
    keys = {record["Customer_Key__c"] for record in salesforce_emulator.records("Contact")}
    assert "C0005" not in keys
    assert len(keys) == ROWS - 1
    assert [job.operation for job in salesforce_emulator.jobs][-1] == "delete"
    assert "C0005" not in stored(activation)

    again = run_now(activation)

    assert (again.rows_read, again.rows_deleted) == (0, 0)


def test_a_segment_that_shrank_too_much_deletes_nothing_with_on_leave_delete(
    salesforce_emulator,
):
    # A broken rule or import must not delete most of the object's records.
    activation = make_incremental(salesforce_emulator, "upsert", on_leave="delete")
    run_now(activation)
    jobs = len(salesforce_emulator.jobs)
    for number in range(2, ROWS + 1):
        leave_segment(activation, number)

    run = run_now(activation)

    assert run.status == Run.Status.FAILED
    assert "Blocked before anything was deleted" in run.error
    assert f"has 1 rows, {100 - 100 // ROWS}% fewer than the {ROWS} of the last" in run.error
    assert 'export.on_leave "delete"' in run.error
    assert salesforce_emulator.jobs[jobs:] == []
    assert len(salesforce_emulator.records("Contact")) == ROWS
    assert len(stored(activation)) == ROWS


def test_a_row_leaving_is_cleared_with_on_leave_clear(salesforce_emulator):
    # LastName is required, so it cannot be cleared: this mapping leaves it out.
    mapping = {
        **EMAIL_MAPPING,
        "columns": [EMAIL_MAPPING["columns"][0], EMAIL_MAPPING["columns"][2]],
    }
    activation = make_incremental(
        salesforce_emulator, "update_by_key", on_leave="clear", output_mapping=mapping
    )
    run_now(activation)
    jobs = len(salesforce_emulator.jobs)
    leave_segment(activation, 5)

    run = run_now(activation)

    assert run.status == Run.Status.SUCCEEDED
    assert (run.rows_deleted, run.rows_sent) == (1, 1)
    sent = uploaded(salesforce_emulator, after=jobs)
    assert sent == [{"Id": sent[0]["Id"], "FirstName": "#N/A"}]
    record = next(
        r for r in salesforce_emulator.records("Contact") if r["Email"] == "customer5@example.com"
    )
    assert record.get("FirstName") in (None, "")
    assert "customer5@example.com" not in stored(activation)


def test_a_killed_run_leaves_fingerprints_only_for_accepted_rows(salesforce_emulator, monkeypatch):
    activation = make_incremental(salesforce_emulator, "upsert", concurrency_mode="serial")
    accepted_batches = []
    original = fingerprints.ChunkFingerprints.accepted

    def crash_after_first_batch(self, kind, rows, accepted):
        if accepted_batches:
            raise SystemExit("worker killed")
        accepted_batches.append([row[0] for row in accepted])
        return original(self, kind, rows, accepted)

    monkeypatch.setattr(fingerprints.ChunkFingerprints, "accepted", crash_after_first_batch)
    run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)
    with pytest.raises(SystemExit):
        runner.execute_run(run.pk)

    # Salesforce took both jobs, but only the first chunk's outcome was recorded.
    assert len(salesforce_emulator.records("Contact")) == ROWS
    assert sorted(stored(activation)) == sorted(accepted_batches[0])
    assert len(accepted_batches[0]) == 10
    run.refresh_from_db()
    assert run.rows_succeeded == 10


def test_a_change_of_mapping_makes_the_next_run_full(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "upsert")
    run_now(activation)
    activation.output_mapping = {
        **activation.output_mapping,
        "columns": activation.output_mapping["columns"][:3],
    }
    activation.save()

    run = run_now(activation)

    assert (run.sync, run.rows_sent, run.rows_unchanged) == ("full", ROWS, 0)
    assert "mapping, object, key or mode changed" in run.sync_reason


def test_full_resync_forgets_the_fingerprints(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    activation = make_incremental(salesforce_emulator, "upsert")
    run_now(activation)

    with django_capture_on_commit_callbacks(execute=True):
        run = fingerprints.request_full_resync(activation)
    run.refresh_from_db()

    assert (run.sync, run.rows_sent, run.rows_unchanged) == ("full", ROWS, 0)
    assert "Full resync requested" in run.sync_reason
    assert len(stored(activation)) == ROWS


def test_truncate_is_always_full(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "append", mode=Activation.Mode.TRUNCATE)
    run_now(activation)

    run = run_now(activation)

    assert (run.sync, run.rows_sent) == ("full", ROWS)
    assert run.sync_reason == "Truncate mode always sends every row."
    assert not stored(activation)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sync", ["full", "incremental"])
def test_retry_sends_exactly_the_failed_rows_with_their_current_values(
    salesforce_emulator, mode, sync
):
    activation = make_incremental(salesforce_emulator, mode, sync=sync)
    set_attribute(activation, 3, last_name=TOO_LONG)
    set_attribute(activation, 8, last_name=TOO_LONG)
    failed = run_now(activation)
    assert failed.rows_failed == 2
    key_of = {"update_by_key": "customer{}@example.com"}.get(mode, "C000{}")
    assert sorted(FailedRow.objects.filter(run=failed).values_list("key", flat=True)) == [
        key_of.format(3),
        key_of.format(8),
    ]
    jobs = len(salesforce_emulator.jobs)
    set_attribute(activation, 3, last_name="Fixed3")
    set_attribute(activation, 1, last_name="Changed1")

    retried = runner.execute_run(retry.request_retry(failed).pk)

    assert (retried.trigger, retried.sync) == (Run.Trigger.RETRY, "retry")
    assert last_names(uploaded(salesforce_emulator, after=jobs)) == ["Fixed3", TOO_LONG]
    assert (retried.rows_read, retried.rows_succeeded, retried.rows_failed) == (2, 1, 1)


def test_retry_reports_rows_that_left_the_segment(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "upsert")
    set_attribute(activation, 3, last_name=TOO_LONG)
    failed = run_now(activation)
    jobs = len(salesforce_emulator.jobs)
    leave_segment(activation, 3)

    retried = runner.execute_run(retry.request_retry(failed).pk)

    assert retried.status == Run.Status.SUCCEEDED
    assert uploaded(salesforce_emulator, after=jobs) == []
    assert any(
        "1 of the failed rows have left the segment" in line["message"] for line in retried.log
    )


def test_retry_refuses_a_run_without_failed_rows(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "upsert")
    run = run_now(activation)

    with pytest.raises(retry.NothingToRetry, match="no failed rows"):
        retry.request_retry(run)
