"""The activation page's "What will the next run do?" panel in a real browser: the button
asks for a dry run (htmx) and the counts appear, with nothing written to Salesforce."""

import pytest
from playwright.sync_api import expect

from activations import runner, services
from activations.models import Activation, Run
from tests.factories import make_activation, make_connection, output_mapping

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Last name first: the panel lists the columns in the mapping's order.
MAPPING = output_mapping(
    ("last_name", "LastName"), ("email", "Email"), strings=[], export_all_columns=False
)


def test_the_dry_run_panel_shows_what_the_next_run_will_do(
    page, site, marketer, salesforce_emulator
):
    activation = make_activation(
        segment=marketer["segment"],
        connection=make_connection(
            workspace=marketer["workspace"], login_url=salesforce_emulator.url
        ),
        mode=Activation.Mode.APPEND,
        sync=Activation.Sync.INCREMENTAL,
        output_mapping=MAPPING,
    )
    first = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)
    runner.execute_run(first.pk)
    jobs = len(salesforce_emulator.jobs)
    sign_in(page, site)

    page.goto(f"{site.url}/activations/{activation.pk}/")
    page.get_by_role("button", name="Dry run").click()

    expect(page.locator("#dry-run-unchanged")).to_have_text("3", timeout=10_000)
    expect(page.locator("#dry-run-insert")).to_have_text("0")
    expect(page.locator("#dry-run-salesforce")).to_contain_text("daily API requests left")
    assert len(salesforce_emulator.jobs) == jobs
    expect(page.get_by_role("button", name="Full resync")).to_be_visible()
