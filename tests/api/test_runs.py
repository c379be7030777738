"""Runs over the API: read-only history, filters, failed rows as CSV, cancelling."""

from datetime import UTC, datetime

import pytest

from activations import services
from activations.models import FailedRow, Run
from tests.factories import make_activation, make_connection, make_parent_segment, make_segment

URL = "/api/v1/runs/"


@pytest.fixture
def activation(workspace):
    segment = make_segment(parent=make_parent_segment(workspace=workspace))
    return make_activation(segment=segment, connection=make_connection(workspace=workspace))


@pytest.fixture
def finished_run(activation):
    return Run.objects.create(
        activation=activation,
        trigger="schedule",
        status="partially_failed",
        rows_read=3,
        rows_sent=3,
        rows_succeeded=1,
        rows_failed=2,
        salesforce_job_ids=["750000000000001AAA"],
        columns=["Email", "LastName"],
        error="2 rows were refused.",
    )


def test_reads_a_run(finished_run, owner_client):
    response = owner_client.get(f"{URL}{finished_run.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in body if key not in ("queued_at", "log")} == {
        "id": finished_run.pk,
        "workspace": finished_run.activation.workspace_id,
        "activation": finished_run.activation_id,
        "trigger": "schedule",
        "status": "partially_failed",
        "scheduled_for": None,
        "started_at": None,
        "finished_at": None,
        "rows_read": 3,
        "rows_sent": 3,
        "rows_succeeded": 1,
        "rows_failed": 2,
        "rows_unchanged": 0,
        "rows_deleted": 0,
        "sync": "",
        "sync_reason": "",
        "salesforce_job_ids": ["750000000000001AAA"],
        "error": "2 rows were refused.",
    }


def test_runs_are_read_only(finished_run, owner_client):
    assert owner_client.post(URL, {}, format="json").status_code == 405
    assert owner_client.patch(f"{URL}{finished_run.pk}/", {}, format="json").status_code == 405
    assert owner_client.delete(f"{URL}{finished_run.pk}/").status_code == 405


def test_filters_by_status_and_activation(activation, finished_run, workspace, owner_client):
    queued = Run.objects.create(activation=activation, status="queued")
    other = make_activation(
        segment=activation.segment, connection=activation.connection, name="Other"
    )
    Run.objects.create(activation=other, status="queued")

    by_status = owner_client.get(URL, {"status": "queued", "activation": activation.pk})
    everything = owner_client.get(URL)

    assert [item["id"] for item in by_status.json()["results"]] == [queued.pk]
    assert everything.json()["count"] == 3


def test_an_unknown_status_filter_is_a_400(finished_run, owner_client):
    response = owner_client.get(URL, {"status": "exploded"})

    assert response.status_code == 400
    assert response.json() == {
        "status": ["Select a valid choice. exploded is not one of the available choices."]
    }


def test_other_workspaces_runs_are_invisible(finished_run, outsider_client):
    assert outsider_client.get(URL).json()["count"] == 0
    assert outsider_client.get(f"{URL}{finished_run.pk}/").status_code == 404
    assert outsider_client.get(f"{URL}{finished_run.pk}/failed-rows/").status_code == 404


def test_failed_rows_download_as_csv(finished_run, owner_client):
    FailedRow.objects.create(
        run=finished_run, values=["a@example.com", ""], error="REQUIRED_FIELD_MISSING:LastName"
    )
    FailedRow.objects.create(
        run=finished_run, values=["b@example.com", "Lee, Ann"], error="INVALID_EMAIL_ADDRESS"
    )

    response = owner_client.get(f"{URL}{finished_run.pk}/failed-rows/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="run-{finished_run.pk}-failed-rows.csv"'
    )
    assert b"".join(response.streaming_content).decode() == (
        "Email,LastName,sf__Error\n"
        "a@example.com,,REQUIRED_FIELD_MISSING:LastName\n"
        'b@example.com,"Lee, Ann",INVALID_EMAIL_ADDRESS\n'
    )


def test_failed_rows_honour_an_accept_csv_header(finished_run, owner_client):
    response = owner_client.get(f"{URL}{finished_run.pk}/failed-rows/", HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"Email,LastName,sf__Error\n"


def cancel(client, run):
    return client.post(f"{URL}{run.pk}/cancel/")


def test_cancels_a_queued_run(activation, owner_client):
    run = Run.objects.create(activation=activation, status="queued")

    response = cancel(owner_client, run)

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_cancelling_a_running_run_asks_it_to_stop(activation, owner_client):
    run = Run.objects.create(activation=activation, status="running")

    response = cancel(owner_client, run)

    assert response.status_code == 200
    run.refresh_from_db()
    assert run.progress.get("cancel") is True


def test_cancelling_a_finished_run_is_a_conflict(finished_run, owner_client):
    response = cancel(owner_client, finished_run)

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Run {finished_run.pk} has already finished (partially_failed)."
    }
    finished_run.refresh_from_db()
    assert finished_run.status == "partially_failed"


def test_viewers_cannot_cancel(activation, viewer_client):
    run = Run.objects.create(activation=activation, status="queued")

    response = cancel(viewer_client, run)

    assert response.status_code == 403
    run.refresh_from_db()
    assert run.status == "queued"


def test_a_skipped_slot_is_in_the_run_history_with_its_reason(activation, owner_client):
    active = Run.objects.create(activation=activation, status="running")
    skipped = services.request_run(
        activation=activation,
        trigger="schedule",
        scheduled_for=datetime(2025, 3, 10, 9, 0, tzinfo=UTC),
    )

    body = owner_client.get(f"{URL}?activation={activation.pk}&status=skipped").json()
    results = body["results"] if isinstance(body, dict) else body
    assert [run["id"] for run in results] == [skipped.pk]
    run = results[0]
    assert (run["trigger"], run["status"]) == ("schedule", "skipped")
    assert run["scheduled_for"] == "2025-03-10T09:00:00Z"
    assert run["error"] == f"Skipped: run {active.pk} was still running when this slot was due."
