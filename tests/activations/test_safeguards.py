"""Runs that never harm, end to end against the emulator: destructive runs blocked on an empty
or shrunken segment, the hard delete permission checked first, the org's daily limits read
before any job, and one login and one describe per run."""

import pytest
from django.core import mail
from django.utils import timezone

from activations import guards, services
from activations.models import Activation, Run
from segments.models import Profile
from tests.activations.test_runner import make_emulated_activation, make_profiles
from tests.connectors.recording import speed_up
from tests.factories import output_mapping

pytestmark = pytest.mark.django_db

TRUNCATE_MAPPING = output_mapping(
    ("customer_id", "Customer_Key__c"),
    ("last_name", "LastName"),
    strings=[],
    export_all_columns=False,
)


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    speed_up(monkeypatch)


def truncate_activation(emulator, *, rows: int, **fields) -> Activation:
    fields.setdefault("notify_emails", ["ops@example.com"])
    return make_emulated_activation(
        emulator,
        rows=rows,
        mode=Activation.Mode.TRUNCATE,
        upsert=False,
        key="",
        output_mapping=TRUNCATE_MAPPING,
        **fields,
    )


def run_now(activation, capture) -> Run:
    with capture(execute=True):
        run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL)
    run.refresh_from_db()
    return run


def record_success(activation, rows_read: int) -> None:
    Run.objects.create(
        activation=activation,
        status=Run.Status.SUCCEEDED,
        rows_read=rows_read,
        rows_succeeded=rows_read,
        finished_at=timezone.now(),
    )


def existing_contacts(emulator, count: int) -> list[str]:
    return emulator.insert_records("Contact", [{"LastName": f"Old{i}"} for i in range(count)])


# Guardrails


def test_an_empty_segment_truncate_leaves_every_record_and_notifies(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    existing_contacts(salesforce_emulator, 3)
    activation = truncate_activation(salesforce_emulator, rows=0)

    run = run_now(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.FAILED
    assert run.error == (
        "Blocked before anything was deleted: the segment Japan is empty, and truncate mode "
        "would delete every Contact record. If this is intended, allow it in the "
        "activation's export settings (export.allow_destructive_shrink)."
    )
    assert len(salesforce_emulator.records("Contact")) == 3
    assert salesforce_emulator.jobs == []
    assert salesforce_emulator.query_jobs == []
    [message] = mail.outbox
    assert "Blocked before anything was deleted" in message.body


def run_after_ten_rows(emulator, callbacks, *, rows: int) -> Run:
    """Truncates 2 Contacts with `rows` rows, allowing 50% fewer than the last run's 10."""
    existing_contacts(emulator, 2)
    activation = truncate_activation(emulator, rows=rows, max_shrink_percent=50)
    record_success(activation, rows_read=10)
    return run_now(activation, callbacks)


def test_a_shrink_above_the_threshold_is_blocked(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    run = run_after_ten_rows(salesforce_emulator, django_capture_on_commit_callbacks, rows=4)

    assert run.status == Run.Status.FAILED
    assert "has 4 rows, 60% fewer than the 10 of the last successful run" in run.error
    assert "more than the 50% this activation allows" in run.error
    assert len(salesforce_emulator.records("Contact")) == 2
    assert salesforce_emulator.jobs == []


def test_a_shrink_within_the_threshold_runs(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    run = run_after_ten_rows(salesforce_emulator, django_capture_on_commit_callbacks, rows=6)

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert sorted(r["LastName"] for r in salesforce_emulator.records("Contact")) == [
        f"Last{number}" for number in range(1, 7)
    ]


def test_an_activation_that_allows_it_truncates_even_when_empty(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    existing_contacts(salesforce_emulator, 3)
    activation = truncate_activation(salesforce_emulator, rows=0, allow_destructive_shrink=True)

    run = run_now(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert salesforce_emulator.records("Contact") == []


def test_the_guard_is_reusable_for_other_deletions(salesforce_emulator):
    activation = make_emulated_activation(salesforce_emulator, rows=1, max_shrink_percent=20)
    record_success(activation, rows_read=100)

    with pytest.raises(guards.DestructiveRunBlocked) as blocked:
        guards.check_shrink(activation, size=70, what="the rows that left would be deleted")

    assert "30% fewer than the 100" in blocked.value.message
    guards.check_shrink(activation, size=85, what="the rows that left would be deleted")


def test_the_guard_settings_are_validated(salesforce_emulator):
    activation = make_emulated_activation(salesforce_emulator, rows=1)
    payload = services.stored_payload(activation)
    payload["export"].update(max_shrink_percent=150, allow_destructive_shrink="yes")

    with pytest.raises(services.InvalidInput) as invalid:
        services.validate_activation(payload, workspace=activation.workspace, instance=activation)

    assert invalid.value.errors == {
        "export.allow_destructive_shrink": ["Expected true or false."],
        "export.max_shrink_percent": ["Must be between 0 and 100."],
    }


# Hard delete permission


def test_a_missing_hard_delete_permission_fails_fast_naming_the_fix(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    existing_contacts(salesforce_emulator, 2)
    salesforce_emulator.user().hard_delete_allowed = False
    activation = truncate_activation(salesforce_emulator, rows=3, hard_delete=True)

    run = run_now(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.FAILED
    assert 'the "Bulk API Hard Delete" permission' in run.error
    assert "grant it through a permission set" in run.error
    assert len(salesforce_emulator.records("Contact")) == 2
    assert salesforce_emulator.jobs == []
    assert salesforce_emulator.query_jobs == []


# The org's limits


def test_an_org_with_40_calls_left_refuses_a_150_call_run_before_creating_a_job(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    # 15 jobs of 10 rows: about 150 API calls.
    activation = make_emulated_activation(
        salesforce_emulator, rows=150, mode="append", upsert=False, key=""
    )
    # 41 left before the run; its describe spends one.
    salesforce_emulator.org.api_requests = salesforce_emulator.settings.daily_api_requests - 41

    run = run_now(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.FAILED
    assert run.error.startswith(
        "The Salesforce org has 40 of its 15,000 daily DailyApiRequests left and this run "
        "needs about 150, so nothing was sent."
    )
    assert "rolling 24 hours" in run.error
    assert salesforce_emulator.jobs == []
    assert not run.config_error  # a limit is not a configuration mistake


def test_too_few_bulk_batches_left_refuses_the_run(
    salesforce_emulator, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("connectors.salesforce.limits.RECORDS_PER_BULK_BATCH", 2)
    activation = make_emulated_activation(salesforce_emulator, rows=10, batch_size=10)
    for number in range(15_000 - 3):
        salesforce_emulator.org.ingest_jobs[f"done{number}"] = None

    run = run_now(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.FAILED
    assert "3 of its 15,000 daily DailyBulkApiBatches left and this run needs about 5" in (
        run.error
    )


def test_one_login_and_one_describe_per_run(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    activation = make_emulated_activation(salesforce_emulator, rows=25)

    run = run_now(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.SUCCEEDED, run.error
    log = salesforce_emulator.requests_log
    assert sum(path.startswith("/services/Soap/u/") for _, path in log) == 1
    assert sum(path.endswith("/describe/") or path.endswith("/describe") for _, path in log) == 1
    assert sum(path.rstrip("/").endswith("/limits") for _, path in log) == 1


def test_the_limits_check_counts_only_rows_the_segment_holds(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    activation = make_emulated_activation(salesforce_emulator, rows=5)
    Profile.objects.filter(parent_segment=activation.segment.parent_segment).delete()
    make_profiles(activation.segment.parent_segment, 2)
    salesforce_emulator.org.api_requests = salesforce_emulator.settings.daily_api_requests - 30

    run = run_now(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.SUCCEEDED, run.error


def test_a_truncate_counts_its_deletes_and_refuses_an_org_with_too_few_calls(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    # 30 records to delete in 3 jobs of 10 (30 calls), 5 rows to insert in 1 job (10), the
    # listing query job (6), its result page (1) and the COUNT() (1): about 48 calls. The
    # inserts alone (with the query job) would need 16.
    existing_contacts(salesforce_emulator, 30)
    activation = truncate_activation(salesforce_emulator, rows=5)
    salesforce_emulator.org.api_requests = salesforce_emulator.settings.daily_api_requests - 32

    run = run_now(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.FAILED
    assert "daily DailyApiRequests left and this run needs about 48, so nothing was sent" in (
        run.error
    )
    assert len(salesforce_emulator.records("Contact")) == 30  # nothing deleted
    assert salesforce_emulator.jobs == []
    assert salesforce_emulator.query_jobs == []


def test_a_truncate_with_enough_calls_for_its_deletes_runs(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    existing_contacts(salesforce_emulator, 30)
    activation = truncate_activation(salesforce_emulator, rows=5)
    salesforce_emulator.org.api_requests = salesforce_emulator.settings.daily_api_requests - 60

    run = run_now(activation, django_capture_on_commit_callbacks)

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert len(salesforce_emulator.records("Contact")) == 5
    assert run.progress["deleted"] == 30
