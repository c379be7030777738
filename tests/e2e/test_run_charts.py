"""After three runs, the activation page charts their rows and durations, and the segment
page charts the audience size recorded at each run."""

import re

import pytest
from playwright.sync_api import expect

from activations import runner, services
from activations.models import Run
from tests.factories import EMAIL_MAPPING, make_activation, make_connection

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_charts_show_three_runs_and_the_audience_size(page, site, marketer, salesforce_emulator):
    activation = make_activation(
        segment=marketer["segment"],
        connection=make_connection(
            workspace=marketer["workspace"], login_url=salesforce_emulator.url
        ),
        name="Japan to Contacts",
        output_mapping=EMAIL_MAPPING,
    )
    for _ in range(3):
        run = services.request_run(activation=activation, trigger="manual", publish=False)
        runner.execute_run(run.pk)
    assert list(Run.objects.order_by("number").values_list("number", "status")) == [
        (1, "succeeded"),
        (2, "succeeded"),
        (3, "succeeded"),
    ]

    sign_in(page, site)
    page.goto(f"{site.url}/activations/{activation.pk}/")
    charts = page.locator("#run-charts")
    rows_chart = charts.get_by_role("img", name=re.compile(r"^Rows per run"))
    expect(rows_chart).to_have_attribute(
        "aria-label", "Rows per run: 3 bars; the latest: succeeded 3, unchanged 0, failed 0."
    )
    expect(rows_chart.locator("rect.chart-sent")).to_have_count(3)
    expect(
        charts.get_by_role("img", name=re.compile(r"^Duration per run: 3 points"))
    ).to_be_visible()
    expect(page.locator("#run-history tbody tr").first.locator("td").first).to_have_text("#3")
    screenshot(charts, "17-run-charts")

    page.goto(f"{site.url}/segments/{marketer['segment'].pk}/")
    size_chart = page.locator("#size-history").get_by_role("img")
    expect(size_chart).to_have_attribute("aria-label", "Audience size: 3 points; the latest: 3.")
    expect(size_chart.locator("circle")).to_have_count(3)
