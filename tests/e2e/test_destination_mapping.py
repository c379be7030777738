"""The mapping editor that knows the destination: objects and fields from the org's
describe, Auto-map, required fields and type mismatches before save, the check against
Salesforce, and a test run of the first 10 rows."""

import io
import re

import pytest
from playwright.sync_api import expect

from activations.models import Activation, Run
from segments import services as segment_services
from tests.factories import make_connection

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = "customer_id,email,first_name,last_name,country,age,lifetime_value,consent,signup_date,last_seen_at\n"


def fourteen_japanese_customers(parent):
    lines = [
        f"J{n:03d},c{n}@example.jp,Name{n},Family{n},JP,{20 + n},{n}.5,true,2023-04-01,"
        "2024-05-01T09:30:00Z\n"
        for n in range(1, 15)
    ]
    result = segment_services.import_profiles_file(
        parent_segment=parent, file=io.BytesIO((HEADER + "".join(lines)).encode())
    )
    assert result.errors == []


def open_editor(page, site, marketer):
    sign_in(page, site)
    page.goto(f"{site.url}/activations/new/?segment={marketer['segment'].pk}")
    expect(page.get_by_role("heading", name="Create Activation")).to_be_visible()


def test_auto_map_picks_fields_reports_required_and_mismatches_then_test_runs_10_rows(
    page, site, marketer, salesforce_emulator
):
    fourteen_japanese_customers(marketer["parent"])
    make_connection(
        workspace=marketer["workspace"], name="Emulated org", login_url=salesforce_emulator.url
    )
    open_editor(page, site, marketer)
    details = page.locator("#details")
    details.get_by_label("Activation name").fill("Japan to Contacts")
    # The only connection is chosen already; the org's objects fill the picker.
    expect(page.locator("#destination-status")).to_have_text(re.compile(r"\d+ objects"))
    expect(page.locator("#object-options option[value='Contact']")).to_have_count(1)
    details.get_by_label("Object").fill("Contact")
    details.get_by_label("Object").dispatch_event("change")
    expect(page.locator("#destination-status")).to_have_text(re.compile(r"fields of Contact"))

    mapping = page.locator("#output-mapping")
    # Export All Columns is off by default, and nothing is mapped yet.
    expect(mapping.get_by_label("Export All Columns")).not_to_be_checked()
    required = page.locator("#required-fields")
    expect(required).to_be_visible()
    expect(required).to_contain_text("Last Name (LastName)")

    # Auto-map: source columns matched by normalised name and label.
    mapping.get_by_role("button", name="Auto-map").click()
    rows = mapping.locator("[data-column-row]")
    outputs = [
        rows.nth(i).get_by_label("Output column name").input_value() for i in range(rows.count())
    ]
    assert outputs == [
        "Email",
        "FirstName",
        "LastName",
        "Age__c",
        "Lifetime_Value__c",
        "Last_Seen_At__c",
    ]
    expect(required).to_be_hidden()

    # Picking a field: its label, type and flags show next to the row.
    mapping.get_by_role("button", name="+ Add Columns").click()
    row = rows.last
    # Untouched, the new row does not say "required".
    expect(row.locator("[data-error-slot='source']")).to_be_hidden()
    row.get_by_label("Source column").select_option("customer_id")
    row.get_by_label("Output column name").fill("Customer_Key__c")
    expect(row.locator("[data-field-info]")).to_have_text("Customer Key · string · External ID")

    # A type mismatch, shown next to its row.
    mapping.get_by_role("button", name="+ Add Columns").click()
    bad = rows.last
    bad.get_by_label("Source column").select_option("country")
    bad.get_by_label("Output column name").fill("Birthdate")
    expect(bad.locator("[data-type-warning]")).to_have_text(
        "Type mismatch: country is string, Birthdate is date."
    )
    # An unknown field, found by the check against Salesforce and shown in place.
    bad.get_by_label("Output column name").fill("Birth_Date__c")
    page.get_by_role("button", name="Check against Salesforce").click()
    expect(bad.locator("[data-check-problem]")).to_have_text("Contact has no field Birth_Date__c.")
    expect(page.locator("#check-result")).to_contain_text("1 problem found")
    screenshot(mapping, "16-destination-mapping")
    bad.get_by_role("button", name="Remove this column").click()
    page.get_by_role("button", name="Check against Salesforce").click()
    expect(page.locator("#check-result")).to_have_text(
        "✓ Salesforce accepts these settings and columns."
    )

    # Create and test run: the first 10 rows go to the org as a run of their own.
    page.get_by_role("button", name="Create and test run (10 rows)").click()
    expect(page.get_by_role("heading", name="Run #1")).to_be_visible()
    expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=30_000)
    expect(page.locator("#rows-succeeded")).to_have_text("10")
    activation = Activation.objects.get(name="Japan to Contacts")
    run = Run.objects.get(activation=activation)
    assert (run.trigger, run.number, run.rows_read, run.rows_succeeded) == ("test", 1, 10, 10)
    keys = sorted(record["Customer_Key__c"] for record in salesforce_emulator.records("Contact"))
    assert keys == [f"J{n:03d}" for n in range(1, 11)]


def test_saving_with_a_problem_asks_before_saving_anyway(page, site, marketer, salesforce_emulator):
    make_connection(
        workspace=marketer["workspace"], name="Emulated org", login_url=salesforce_emulator.url
    )
    open_editor(page, site, marketer)
    page.locator("#details").get_by_label("Activation name").fill("Japan everything")
    page.locator("#details").get_by_label("Object").fill("Contact")
    mapping = page.locator("#output-mapping")
    mapping.get_by_label("Export All Columns").check()
    expect(page.locator("#export-all-unmatched")).to_contain_text(
        "Contact has no field named customer_id"
    )

    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#check-result")).to_contain_text("problems found")
    problems = mapping.locator("[data-check-problem] li")
    expect(problems).to_have_count(10)
    expect(problems.first).to_have_text("Contact has no field customer_id.")
    expect(problems.nth(1)).to_have_text("Contact has no field email (did you mean Email?).")
    assert not Activation.objects.filter(name="Japan everything").exists()

    page.get_by_role("button", name="Save anyway").click()
    expect(page.get_by_text("Activation “Japan everything” created.")).to_be_visible()


def test_a_timestamp_part_in_asia_tokyo_shows_in_the_preview_first(page, site, marketer):
    open_editor(page, site, marketer)
    mapping = page.locator("#output-mapping")
    mapping.get_by_role("button", name="+ Add Columns").click()
    mapping.locator("[data-column-row]").last.get_by_label("Source column").select_option("email")
    mapping.get_by_role("button", name="+ Add string").click()
    string_column = mapping.locator("[data-string-column]").last
    string_column.get_by_label("String column name").fill("Synced_At__c")
    part = string_column.locator("[data-part]").first
    part.get_by_label("Part", exact=True).select_option("timestamp")
    part.get_by_label("Format").fill("%Y-%m-%d %H:%M %z")
    part.get_by_label("Time zone").fill("Asia/Tokyo")
    part.get_by_label("Time zone").dispatch_event("change")

    preview = page.locator("#preview-table")
    # The built column comes first, written in Tokyo time.
    expect(preview.locator("thead th")).to_have_text(["Synced_At__c", "email"])
    expect(preview.locator("tbody tr").first.locator("td").first).to_have_text(
        re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2} \+0900$")
    )


def test_the_sticky_bar_never_hides_the_focused_export_all_switch(page, site, marketer):
    page.set_viewport_size({"width": 1366, "height": 700})
    open_editor(page, site, marketer)
    switch = page.locator("#id_export_all_columns")
    # The switch sits just above the bottom edge, where the sticky action bar covers it,
    # and the keyboard reaches it from the field before it (the Advanced settings toggle).
    page.evaluate(
        """() => {
            const label = document.getElementById("id_export_all_columns").parentElement;
            const top = label.getBoundingClientRect().top + window.scrollY;
            window.scrollTo(0, top - window.innerHeight + 40);
            document.querySelector("details.advanced summary").focus({ preventScroll: true });
        }"""
    )
    for _ in range(5):
        page.keyboard.press("Tab")
        if switch.evaluate("node => node === document.activeElement"):
            break
    expect(switch).to_be_focused()
    switch_box = switch.locator("xpath=..").bounding_box()
    bar_box = page.locator(".sticky-actions").bounding_box()
    assert switch_box["y"] + switch_box["height"] <= bar_box["y"]
