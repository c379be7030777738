"""The activation editor's validation in a real browser: errors in place, input kept."""

import re

import pytest
from playwright.sync_api import expect

from activations.models import Activation
from tests.factories import make_connection

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_column(mapping, source, output=None):
    mapping.get_by_role("button", name="+ Add Columns").click()
    row = mapping.locator("[data-column-row]").last
    row.get_by_label("Source column", exact=True).select_option(source)
    if output is not None:
        row.get_by_label("Output column name", exact=True).fill(output)
    return row


def test_refused_activation_shows_errors_next_to_fields_and_keeps_everything_typed(
    page, site, marketer
):
    make_connection(workspace=marketer["workspace"], name="Production org")
    sign_in(page, site)
    page.goto(f"{site.url}/activations/new/?segment={marketer['segment'].pk}")

    page.get_by_label("Activation name").fill("Japan to Contacts")
    page.get_by_label("Connection", exact=True).select_option(label="Production org")
    page.get_by_label("Object").fill("Contact")
    mapping = page.locator("#output-mapping")
    mapping.get_by_label("Export All Columns").uncheck()
    add_column(mapping, "email", "Email")
    add_column(mapping, "first_name", "")
    add_column(mapping, "last_name", "Email")
    mapping.get_by_role("button", name="+ Add string").click()
    mapping.get_by_label("String column name", exact=True).fill("Source__c")
    mapping.get_by_label("Text", exact=True).fill("CDP")
    page.locator("#schedule").get_by_label("Schedule", exact=True).select_option("cron")
    page.get_by_label("Cron expression").fill("61 * * * *")

    # The preview and the schedule say what is wrong while the user types.
    rows = mapping.locator("[data-column-row]")
    expect(rows.nth(1).locator('[data-error-slot="output"]')).to_have_text("must not be empty")
    expect(rows.nth(2).locator('[data-error-slot="output"]')).to_have_text(
        re.compile(r"duplicate output name 'Email'")
    )
    expect(rows.nth(0).locator('[data-error-slot="output"]')).to_be_hidden()
    expect(page.locator("#schedule-errors")).to_have_text("minute: 61 is out of range 0-59")

    page.get_by_role("button", name="Create", exact=True).click()

    # Drawn again by the server: every error in place, every value as typed.
    expect(page.get_by_text("This could not be saved.")).to_be_visible()
    rows = page.locator("#output-mapping [data-column-row]")
    expect(rows).to_have_count(3)
    expect(rows.nth(1).locator('[data-error-slot="output"]')).to_have_text("must not be empty")
    expect(rows.nth(1).get_by_label("Output column name", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(rows.nth(2).locator('[data-error-slot="output"]')).to_have_text(
        re.compile(r"duplicate output name 'Email'")
    )
    cron_field = page.locator('[data-field="cron"]')
    expect(cron_field.locator(".field-error")).to_have_text("minute: 61 is out of range 0-59")
    expect(page.get_by_label("Activation name")).to_have_value("Japan to Contacts")
    expect(page.get_by_label("Connection", exact=True)).to_have_value(
        str(marketer["workspace"].connections.get().pk)
    )
    expect(page.get_by_label("Object")).to_have_value("Contact")
    expect(page.get_by_label("Export All Columns")).not_to_be_checked()
    assert [
        (
            row.get_by_label("Source column", exact=True).input_value(),
            row.get_by_label("Output column name", exact=True).input_value(),
        )
        for row in rows.all()
    ] == [("email", "Email"), ("first_name", ""), ("last_name", "Email")]
    expect(page.get_by_label("String column name", exact=True)).to_have_value("Source__c")
    expect(page.get_by_label("Text", exact=True)).to_have_value("CDP")
    expect(page.get_by_label("Cron expression")).to_have_value("61 * * * *")
    expect(page.locator(".stepper a.has-errors")).to_have_text(["2Output Mapping", "3Schedule"])
    screenshot(page.locator("#output-mapping"), "09-mapping-errors")
    assert Activation.objects.count() == 0

    # Fixed in place, the same form saves.
    rows.nth(1).get_by_label("Output column name", exact=True).fill("FirstName")
    rows.nth(2).get_by_label("Output column name", exact=True).fill("LastName")
    page.get_by_label("Cron expression").fill("0 9 * * mon-fri")
    expect(page.locator("#schedule-description")).to_have_text(
        re.compile(r"09:00 on Monday.*Friday")
    )
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_text("Activation “Japan to Contacts” created.")).to_be_visible()
    activation = Activation.objects.get()
    assert activation.output_mapping["columns"] == [
        {"source": "email", "output": "Email"},
        {"source": "first_name", "output": "FirstName"},
        {"source": "last_name", "output": "LastName"},
    ]
    assert activation.output_mapping["strings"] == [
        {"output": "Source__c", "parts": [{"type": "string", "value": "CDP"}]}
    ]
    assert (activation.schedule_type, activation.cron) == ("cron", "0 9 * * mon-fri")
