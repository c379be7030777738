"""The seed's flow in a real browser: connection, segment, Create Activation, panels, run."""

import re

import pytest
from playwright.sync_api import expect

from activations.models import Activation, Run
from tests.factories import concat, output_mapping

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_marketer_creates_an_activation_from_a_segment_and_runs_it(
    page, site, marketer, salesforce_emulator
):
    sign_in(page, site)
    screenshot(page, "01-audience-studio")

    # A connection to the org (the emulator), created and tested from the Connections page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Connections").click()
    page.get_by_role("link", name="+ New connection").first.click()
    page.get_by_label("Name", exact=True).fill("Emulated org")
    page.get_by_label("Login URL").fill(salesforce_emulator.url)
    page.get_by_label("Username").fill("marketer@example.com")
    page.get_by_label("Password").fill("hunter2")
    page.get_by_label("Security token").fill("TOKEN123")
    screenshot(page, "02-connection-form")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("Connection “Emulated org” created.")).to_be_visible()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-test-result")).to_have_text("✓ Connected")

    # Audience Studio -> the parent segment -> right click on the segment -> Create Activation.
    page.get_by_role("link", name="Audience Studio").click()
    page.get_by_role("link", name="Customers").click()
    segment_row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Japan"))
    expect(segment_row.get_by_role("cell").nth(2)).to_have_text("3")
    segment_row.get_by_role("link", name="Japan").click()
    page.get_by_role("heading", name="Japan").click(button="right")
    menu = page.get_by_role("menu", name="Segment Japan")
    expect(menu).to_be_visible()
    screenshot(page, "03-segment-context-menu")
    menu.get_by_role("menuitem", name="Create Activation").click()
    expect(page.get_by_role("heading", name="Create Activation")).to_be_visible()

    # Details.
    details = page.locator("#details")
    details.get_by_label("Activation name").fill("Japan to Contacts")
    details.get_by_label("Description").fill("Japanese customers as Salesforce contacts")
    details.get_by_label("Connection").select_option(label="Emulated org")
    details.get_by_role("button", name="Test connection").click()
    expect(details.locator("#connection-test-result")).to_have_text("✓ Connected")
    details.get_by_label("Mode", exact=True).select_option("update")
    expect(details.get_by_label("Key")).to_be_visible()
    expect(details.get_by_label("Hard delete?")).to_be_hidden()
    details.get_by_label("Object").fill("Contact")
    details.get_by_label("Key").fill("Customer_Key__c")
    details.get_by_label("Upsert new records?").check()
    screenshot(details, "04-panel-details")

    # Output Mapping: pick and rename columns, and build a string column.
    mapping = page.locator("#output-mapping")
    mapping.get_by_label("Export All Columns").uncheck()
    for source, output in [
        ("customer_id", "Customer_Key__c"),
        ("email", "Email"),
        ("first_name", "FirstName"),
        ("last_name", "LastName"),
    ]:
        mapping.get_by_role("button", name="+ Add Columns").click()
        row = mapping.locator("[data-column-row]").last
        row.get_by_label("Source column").select_option(source)
        expect(row.get_by_label("Output column name")).to_have_value(source)
        row.get_by_label("Output column name").fill(output)

    mapping.get_by_role("button", name="+ Add string").click()
    string_column = mapping.locator("[data-string-column]").last
    string_column.get_by_label("String column name").fill("Description")
    parts = string_column.locator("[data-part]")
    parts.nth(0).get_by_label("Text", exact=True).fill("Segment ")
    string_column.get_by_role("button", name="+ Add part").click()
    parts.nth(1).get_by_label("Part", exact=True).select_option("segment_name")
    string_column.get_by_role("button", name="+ Add part").click()
    parts.nth(2).get_by_label("Part", exact=True).select_option("segment_id")
    # Reorder: the segment id moves before the segment name, then is removed again.
    parts.nth(2).get_by_role("button", name="Move part up").click()
    expect(parts.nth(1).get_by_label("Part", exact=True)).to_have_value("segment_id")
    parts.nth(1).get_by_role("button", name="Remove part").click()
    expect(parts).to_have_count(2)
    parts.nth(0).get_by_role("button", name="Move part down").click()
    expect(parts.nth(1).get_by_label("Text", exact=True)).to_have_value("Segment ")
    parts.nth(1).get_by_role("button", name="Move part up").click()
    expect(parts.nth(0).get_by_label("Part", exact=True)).to_have_value("string")

    preview = page.locator("#preview-table")
    # The key column first (pinned), then the built column, then the rest.
    expect(preview.locator("thead th")).to_have_text(
        ["Customer_Key__c", "Description", "Email", "FirstName", "LastName"]
    )
    expect(preview.locator("tbody tr").first.locator("td")).to_have_text(
        ["C001", "Segment Japan", "aiko@example.jp", "Aiko", "Tanaka"]
    )
    expect(preview.locator("tbody tr")).to_have_count(3)
    screenshot(mapping, "05-panel-output-mapping")

    # Schedule: custom cron with its description and next runs, and notifications.
    schedule = page.locator("#schedule")
    schedule.get_by_label("Schedule").select_option("cron")
    schedule.get_by_label("Time zone").select_option("Asia/Tokyo")
    schedule.get_by_label("Cron expression").fill("30 */2 1 * *")
    expect(schedule.locator("#schedule-description")).to_have_text(
        re.compile(r"day 1 of the month")
    )
    expect(schedule.locator("#schedule-next-runs li")).to_have_count(5)
    expect(schedule.locator("#schedule-next-runs li").first).to_have_text(
        re.compile(r"\b1 \w{3} \d{4}, 00:30$")
    )
    schedule.get_by_label("Notification recipients").fill("team@example.com, lead@example.com")
    schedule.get_by_label("Send e-mail").select_option("always")
    screenshot(schedule, "06-panel-schedule")

    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_text("Activation “Japan to Contacts” created.")).to_be_visible()
    activation = Activation.objects.get(name="Japan to Contacts")
    assert activation.segment == marketer["segment"]
    assert (activation.mode, activation.upsert, activation.key) == (
        "update",
        True,
        "Customer_Key__c",
    )
    assert activation.output_mapping == output_mapping(
        ("customer_id", "Customer_Key__c"),
        ("email", "Email"),
        ("first_name", "FirstName"),
        ("last_name", "LastName"),
        strings=[concat("Description", "Segment ", {"type": "segment_name"})],
        export_all_columns=False,
    )
    assert (activation.schedule_type, activation.cron, activation.timezone) == (
        "cron",
        "30 */2 1 * *",
        "Asia/Tokyo",
    )
    assert activation.notify_emails == ["team@example.com", "lead@example.com"]
    assert activation.periodic_task is not None
    screenshot(page, "07-activation-page")

    # Run now: the run goes through the emulator and the page shows its counts.
    page.get_by_role("button", name="▶ Run now").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Run #\d+$"))).to_be_visible()
    expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=30_000)
    expect(page.locator("#rows-read")).to_have_text("3")
    expect(page.locator("#rows-succeeded")).to_have_text("3")
    expect(page.locator("#rows-failed")).to_have_text("0")
    screenshot(page, "08-run-succeeded")
    run = Run.objects.get(activation=activation)
    assert (run.status, run.rows_read, run.rows_succeeded, run.rows_failed) == (
        "succeeded",
        3,
        3,
        0,
    )
    contacts = sorted(salesforce_emulator.records("Contact"), key=lambda r: r["Customer_Key__c"])
    assert [
        (c["Customer_Key__c"], c["Email"], c["LastName"], c["Description"]) for c in contacts
    ] == [
        ("C001", "aiko@example.jp", "Tanaka", "Segment Japan"),
        ("C002", "kenji@example.jp", "Sato", "Segment Japan"),
        ("C004", "yuki@example.jp", "Suzuki", "Segment Japan"),
    ]

    # The activation page lists the run with its counts.
    page.get_by_role("link", name="Back to activation").click()
    history = page.locator("#run-history")
    expect(history.locator("tbody tr")).to_have_count(1)
    expect(history.locator("tbody tr td").nth(1)).to_have_text("Succeeded")
    expect(history.locator("tbody tr td").nth(6)).to_have_text("3")
