"""The pages of incremental sync against the emulator: the activation page's dry-run panel,
Full resync, the run page's Retry failed rows, and the new counts in runs."""

import pytest
from django.test import Client

from activations import runner
from activations.models import Run
from tests.activations.test_incremental import (
    ROWS,
    TOO_LONG,
    make_incremental,
    run_now,
    set_attribute,
)
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def logged_in(activation, role="owner") -> Client:
    client = Client()
    client.force_login(make_user(role, workspace=activation.workspace, role=role))
    return client


def test_the_activation_page_asks_the_dry_run_and_shows_its_counts(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "upsert")
    run_now(activation)
    set_attribute(activation, 2, last_name="Changed")
    client = logged_in(activation, role="viewer")

    page = client.get(f"/activations/{activation.pk}/").content.decode()
    assert "What will the next run do?" in page
    assert f'hx-post="/activations/{activation.pk}/dry-run/"' in page
    assert "Full resync" not in page  # viewers cannot

    fragment = client.post(f"/activations/{activation.pk}/dry-run/").content.decode()

    assert '<span class="stat-value" id="dry-run-update">1</span>' in fragment
    assert f'<span class="stat-value" id="dry-run-unchanged">{ROWS - 1}</span>' in fragment
    assert "daily API requests left" in fragment
    assert Run.objects.filter(activation=activation).count() == 1


def test_full_resync_from_the_activation_page(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    activation = make_incremental(salesforce_emulator, "upsert")
    run_now(activation)
    client = logged_in(activation)
    assert "Full resync" in client.get(f"/activations/{activation.pk}/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/activations/{activation.pk}/full-resync/")

    run = Run.objects.filter(activation=activation).first()
    assert response["Location"] == f"/activations/{activation.pk}/runs/{run.pk}/"
    assert (run.sync, run.rows_sent) == ("full", ROWS)
    page = client.get(response["Location"]).content.decode()
    assert "Full resync requested" in page


def test_retry_failed_rows_from_the_run_page(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "upsert")
    set_attribute(activation, 5, last_name=TOO_LONG)
    failed = run_now(activation)
    client = logged_in(activation)
    page = client.get(f"/activations/{activation.pk}/runs/{failed.pk}/").content.decode()
    assert 'id="retry-failed"' in page
    set_attribute(activation, 5, last_name="Fixed")

    response = client.post(f"/activations/{activation.pk}/runs/{failed.pk}/retry/")

    retried = Run.objects.filter(activation=activation).first()
    assert response["Location"] == f"/activations/{activation.pk}/runs/{retried.pk}/"
    retried = runner.execute_run(retried.pk)
    assert (retried.trigger, retried.rows_sent, retried.rows_succeeded) == ("retry", 1, 1)
    history = client.get(f"/activations/{activation.pk}/runs/").content.decode()
    assert "Retry" in history
    assert "Unchanged" in history


def test_viewers_cannot_retry(salesforce_emulator):
    activation = make_incremental(salesforce_emulator, "upsert")
    set_attribute(activation, 5, last_name=TOO_LONG)
    failed = run_now(activation)
    client = logged_in(activation, role="viewer")

    assert (
        'id="retry-failed"'
        not in client.get(f"/activations/{activation.pk}/runs/{failed.pk}/").content.decode()
    )
    assert client.post(f"/activations/{activation.pk}/runs/{failed.pk}/retry/").status_code == 403
