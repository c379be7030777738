"""The API of incremental sync against the Salesforce emulator: dry run (predicts the next
run and writes nothing), full resync, retry of failed rows, and the run's new counts."""

import pytest

from activations import runner
from activations.models import Activation, Fingerprint, Run
from tests.activations.test_incremental import (
    ROWS,
    TOO_LONG,
    leave_segment,
    make_incremental,
    set_attribute,
    uploaded,
)
from tests.api.conftest import client_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def owner_of(activation):
    return client_for(make_user("owner", workspace=activation.workspace))


def dry_run(client, activation) -> dict:
    response = client.post(f"/api/v1/activations/{activation.pk}/dry-run/", format="json")
    assert response.status_code == 200, response.content
    return response.json()


def ingest_requests(emulator) -> list[tuple[str, str]]:
    """Requests that write: anything on ingest jobs (create, upload, close, delete)."""
    return [
        (method, path)
        for method, path in emulator.requests_log
        if method in WRITES and "/jobs/ingest" in path
    ]


def execute(client, response) -> Run:
    assert response.status_code == 202, response.content
    return runner.execute_run(response.json()["id"])


def test_dry_run_of_an_upsert_predicts_the_first_and_the_next_runs_and_writes_nothing(
    salesforce_emulator,
):
    activation = make_incremental(salesforce_emulator, "upsert", on_leave="delete")
    salesforce_emulator.insert_records(
        "Contact",
        [{"LastName": "Old", "Customer_Key__c": f"C{number:04d}"} for number in (1, 2, 3, 4)],
    )
    client = owner_of(activation)

    report = dry_run(client, activation)

    assert report["rows"] == {"insert": 8, "update": 4, "delete": 0, "unchanged": 0, "invalid": 0}
    assert report["sync"] == "full"
    assert report["salesforce"]["jobs"] >= 2  # two ingest jobs of 10 rows, and the lookups
    assert report["salesforce"]["api_calls"] > report["salesforce"]["jobs"]
    limits = report["salesforce"]["limits"]
    assert limits["DailyApiRequests"]["Remaining"] <= limits["DailyApiRequests"]["Max"]
    assert ingest_requests(salesforce_emulator) == []
    assert salesforce_emulator.jobs == []
    assert len(salesforce_emulator.records("Contact")) == 4
    assert not Run.objects.filter(activation=activation).exists()
    assert not Fingerprint.objects.filter(activation=activation).exists()

    first = execute(client, client.post(f"/api/v1/activations/{activation.pk}/runs/"))

    assert first.rows_succeeded == 12
    assert len(salesforce_emulator.records("Contact")) == 12  # 8 inserted, 4 updated

    set_attribute(activation, 6, last_name="Changed")
    set_attribute(activation, 9, last_name=TOO_LONG)
    leave_segment(activation, 11)
    writes_before = len(ingest_requests(salesforce_emulator))
    jobs = len(salesforce_emulator.jobs)

    report = dry_run(client, activation)

    assert report["sync"] == "incremental"
    assert report["rows"] == {"insert": 0, "update": 2, "delete": 1, "unchanged": 9, "invalid": 0}
    assert len(ingest_requests(salesforce_emulator)) == writes_before

    second = execute(client, client.post(f"/api/v1/activations/{activation.pk}/runs/"))

    sent = uploaded(salesforce_emulator, after=jobs, operation="upsert")
    assert sorted(row["LastName"] for row in sent) == ["Changed", TOO_LONG]
    assert len(uploaded(salesforce_emulator, after=jobs, operation="delete")) == 1
    body = client.get(f"/api/v1/runs/{second.pk}/").json()
    assert {key: body[key] for key in ("rows_unchanged", "rows_deleted", "sync")} == {
        "rows_unchanged": 9,
        "rows_deleted": 1,
        "sync": "incremental",
    }
    assert (body["rows_succeeded"], body["rows_failed"]) == (2, 1)


def test_dry_run_of_an_update_by_key_counts_keys_matching_nothing_as_invalid(
    salesforce_emulator,
):
    activation = make_incremental(salesforce_emulator, "update_by_key")
    set_attribute(activation, 2, email="nobody@example.com")
    client = owner_of(activation)

    report = dry_run(client, activation)

    assert report["rows"] == {"insert": 0, "update": 11, "delete": 0, "unchanged": 0, "invalid": 1}
    assert ingest_requests(salesforce_emulator) == []
    assert salesforce_emulator.query_jobs  # the lookups ran as query jobs

    run = execute(client, client.post(f"/api/v1/activations/{activation.pk}/runs/"))

    assert (run.rows_succeeded, run.rows_failed) == (11, 1)


def test_dry_run_of_an_append_counts_inserts(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "append")
    client = owner_of(activation)

    report = dry_run(client, activation)

    assert report["rows"] == {"insert": 12, "update": 0, "delete": 0, "unchanged": 0, "invalid": 0}
    assert salesforce_emulator.requests_log
    assert ingest_requests(salesforce_emulator) == []
    assert salesforce_emulator.query_jobs == []


def test_dry_run_with_a_mapping_that_no_longer_fits_says_where(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "append")
    activation.output_mapping = {"columns": [{"source": "gone", "output": "LastName"}]}
    activation.save()

    response = owner_of(activation).post(f"/api/v1/activations/{activation.pk}/dry-run/")

    assert response.status_code == 400
    assert "output_mapping.columns[0].source" in response.json()["errors"]


def test_full_resync_runs_every_row_again(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "upsert")
    client = owner_of(activation)
    execute(client, client.post(f"/api/v1/activations/{activation.pk}/runs/"))

    run = execute(client, client.post(f"/api/v1/activations/{activation.pk}/full-resync/"))

    assert (run.sync, run.rows_sent, run.rows_unchanged) == ("full", ROWS, 0)


def test_full_resync_while_a_run_is_active_is_a_conflict_and_forgets_nothing(
    salesforce_emulator,
):
    activation = make_incremental(salesforce_emulator, "upsert")
    client = owner_of(activation)
    execute(client, client.post(f"/api/v1/activations/{activation.pk}/runs/"))
    client.post(f"/api/v1/activations/{activation.pk}/runs/")

    response = client.post(f"/api/v1/activations/{activation.pk}/full-resync/")

    assert response.status_code == 409
    assert Fingerprint.objects.filter(activation=activation).count() == ROWS


def test_retry_failed_over_the_api(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "upsert", sync=Activation.Sync.FULL)
    set_attribute(activation, 4, last_name=TOO_LONG)
    client = owner_of(activation)
    failed = execute(client, client.post(f"/api/v1/activations/{activation.pk}/runs/"))
    jobs = len(salesforce_emulator.jobs)
    set_attribute(activation, 4, last_name="Fixed")

    response = client.post(f"/api/v1/runs/{failed.pk}/retry-failed/")

    assert response.json()["trigger"] == "retry"
    retried = execute(client, response)
    assert retried.status == Run.Status.SUCCEEDED
    assert [row["LastName"] for row in uploaded(salesforce_emulator, after=jobs)] == ["Fixed"]
    again = client.post(f"/api/v1/runs/{retried.pk}/retry-failed/")
    assert again.status_code == 409
    assert "no failed rows" in again.json()["detail"]


def test_viewers_may_dry_run_but_not_resync_or_retry(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "append")
    viewer = client_for(make_user("viewer", workspace=activation.workspace, role="viewer"))
    run = Run.objects.create(activation=activation, status=Run.Status.FAILED, rows_failed=1)

    assert viewer.post(f"/api/v1/activations/{activation.pk}/dry-run/").status_code == 200
    assert viewer.post(f"/api/v1/activations/{activation.pk}/full-resync/").status_code == 403
    assert viewer.post(f"/api/v1/runs/{run.pk}/retry-failed/").status_code == 403
