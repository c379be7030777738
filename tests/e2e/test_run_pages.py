"""Run pages in a real browser: they follow a run in progress without a reload."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from activations.models import Run
from tests.factories import make_activation, make_connection

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_run_page_and_history_update_while_the_run_is_in_progress(page, site, marketer):
    activation = make_activation(
        segment=marketer["segment"], connection=make_connection(workspace=marketer["workspace"])
    )
    run = Run.objects.create(activation=activation, status=Run.Status.QUEUED)
    sign_in(page, site)

    page.goto(f"{site.url}/activations/{activation.pk}/")
    history_status = page.locator("#run-history tbody tr td").nth(1)
    expect(history_status).to_have_text("Queued")
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, started_at=timezone.now())
    expect(history_status).to_have_text("Running", timeout=6000)

    page.goto(f"{site.url}/activations/{activation.pk}/runs/{run.pk}/")
    expect(page.locator("#run-status")).to_have_text("Running")
    Run.objects.filter(pk=run.pk).update(rows_read=3, rows_sent=3)
    expect(page.locator("#rows-read")).to_have_text("3", timeout=6000)
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.PARTIALLY_FAILED,
        finished_at=timezone.now(),
        rows_succeeded=2,
        rows_failed=1,
        log=[{"at": timezone.now().isoformat(), "message": "Partially failed: 1 row refused."}],
    )
    expect(page.locator("#run-status")).to_have_text("Partially failed", timeout=6000)
    expect(page.locator("#rows-failed")).to_have_text("1")
    expect(page.locator("#run-log")).to_contain_text("Partially failed: 1 row refused.")
    # A finished run stops polling.
    expect(page.locator("#run-body")).not_to_have_attribute("hx-trigger", "every 2s")
