"""In a real browser: an owner adds a SQLite source, browses it, builds a parent segment from
its customers table with the inferred columns, and activates it to the emulated org."""

import pytest
from playwright.sync_api import expect

from segments.models import ParentSegment
from tests.factories import (
    UPSERT_BY_CUSTOMER_KEY,
    make_activation,
    make_connection,
    make_segment,
    output_mapping,
)

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_builds_a_parent_segment_from_a_source_and_activates_it(
    page, site, marketer, sqlite_file, salesforce_emulator
):
    sign_in(page, site)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sources").click()
    page.get_by_role("link", name="+ New source").first.click()
    page.get_by_label("Name", exact=True).fill("Shop database")
    page.get_by_label("URL").fill(f"sqlite:///{sqlite_file.name}")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("Source “Shop database” created.")).to_be_visible()
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#test-result")).to_have_text("✓ Connected")

    # The table browser: columns with our types, sample rows, then "Create parent segment".
    table = page.locator("details.source-table").filter(has_text="main.customers")
    table.locator("summary").click()
    expect(table.get_by_role("row").filter(has_text="born")).to_contain_text("date")
    table.get_by_role("button", name="Show sample rows").click()
    expect(table.get_by_text("ann@example.com")).to_be_visible()
    table.get_by_role("link", name="Create parent segment").click()

    # The inferred columns: drop "seen", keep the rest, refresh daily.
    form = page.locator("#parent-source-form")
    expect(form.get_by_label("Column name").first).to_have_value("id")
    form.get_by_label("Name", exact=True).fill("Shop customers")
    form.get_by_label("Key column").fill("id")
    seen = form.locator("[data-row]").filter(has=page.locator('input[value="seen"]'))
    seen.get_by_role("button", name="Remove this column").click()
    form.get_by_label("Schedule").select_option("daily")
    form.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("heading", name="Shop customers")).to_be_visible()
    expect(page.locator("#row-count")).to_have_text("2")
    history = page.locator("#refresh-history")
    expect(history.locator("tbody tr")).to_have_count(1)
    expect(history.locator("tbody tr").first).to_contain_text("Succeeded")
    parent = ParentSegment.objects.get(name="Shop customers")
    assert parent.column_names == ["id", "email", "score", "vip", "born"]

    # Activated: a segment of it sent to the emulated org by "Run now".
    segment = make_segment(
        parent=parent,
        name="Shoppers with an e-mail",
        rules={"type": "and", "conditions": [{"column": "email", "operator": "is_not_null"}]},
    )
    connection = make_connection(workspace=parent.workspace, login_url=salesforce_emulator.url)
    activation = make_activation(
        segment=segment,
        connection=connection,
        **UPSERT_BY_CUSTOMER_KEY,
        refresh_before_run=True,
        output_mapping=output_mapping(
            ("id", "Customer_Key__c"), ("email", "LastName"), strings=[], export_all_columns=False
        ),
    )
    page.goto(f"{site.url}/activations/{activation.pk}/")
    page.get_by_role("button", name="▶ Run now").click()
    expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=30_000)
    expect(page.locator("#rows-succeeded")).to_have_text("1")
    contacts = {r["Customer_Key__c"]: r for r in salesforce_emulator.records("Contact")}
    assert contacts["1"]["LastName"] == "ann@example.com"
    assert list(contacts) == ["1"]
    assert parent.refreshes.count() == 2  # the activation asked for fresh data


def test_owner_builds_a_live_parent_segment_whose_refresh_settings_hide(
    page, site, marketer, sqlite_file
):
    from sources.models import Source

    source = Source.objects.create(
        workspace=marketer["workspace"],
        name="Shop database",
        url=f"sqlite:///{sqlite_file.name}",
        kind="sqlite",
    )
    sign_in(page, site)
    page.goto(f"{site.url}/audience/new/from-source/?source={source.pk}&table=main.customers")
    form = page.locator("#parent-source-form")
    form.get_by_label("Name", exact=True).fill("Live shop")
    form.get_by_label("Key column").fill("id")
    expect(form.get_by_label("Schedule")).to_be_visible()
    form.get_by_label("Live (read from the source at each run)").check()
    expect(form.get_by_label("Schedule")).to_be_hidden()
    form.get_by_role("button", name="Create", exact=True).click()

    expect(page.get_by_role("heading", name="Live shop")).to_be_visible()
    expect(page.locator("#storage")).to_have_text("Live (read from the source at each run)")
    expect(page.locator("#row-count")).to_have_text("2")
    expect(page.get_by_role("button", name="Refresh now")).to_have_count(0)
    assert ParentSegment.objects.get(name="Live shop").storage == "live"
