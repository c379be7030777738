"""Audience Studio in a real browser: the rule builder's live size, and CSV uploads."""

import pytest
from playwright.sync_api import expect

from segments.models import Profile, Segment

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rule_builder_shows_the_audience_size_as_rules_change_and_saves_the_tree(
    page, site, marketer
):
    sign_in(page, site)
    page.goto(f"{site.url}/segments/new/?parent={marketer['parent'].pk}")
    size = page.locator("#audience-size")
    expect(size).to_have_text("5")
    page.get_by_label("Name", exact=True).fill("Engaged Japan")
    page.get_by_label("Folder").fill("Campaigns")

    builder = page.locator("#rule-builder")
    builder.get_by_role("button", name="+ Add condition").click()
    condition = builder.locator(".rule-condition").first
    condition.get_by_label("Column").select_option("country")
    # Operators fit the column: strings have "contains", numbers have "is between".
    expect(condition.get_by_label("Operator").locator("option", has_text="contains")).to_have_count(
        1
    )
    condition.get_by_label("Value").fill("JP")
    expect(size).to_have_text("3")

    # A nested OR group: older than 40, or signed up before 2022.
    builder.get_by_role("button", name="+ Add group").click()
    group = builder.locator(".rule-group .rule-group")
    expect(group.get_by_label("Match all or any in this group")).to_have_value("or")
    first = group.locator(".rule-condition").first
    first.get_by_label("Column").select_option("age")
    expect(first.get_by_label("Operator").locator("option", has_text="contains")).to_have_count(0)
    first.get_by_label("Operator").select_option("gte")
    expect(first.get_by_label("Value")).to_have_attribute("type", "number")
    first.get_by_label("Value").fill("40")
    expect(size).to_have_text("1")
    group.get_by_role("button", name="+ Add condition").click()
    second = group.locator(".rule-condition").nth(1)
    second.get_by_label("Column").select_option("signup_date")
    second.get_by_label("Operator").select_option("before")
    expect(second.get_by_label("Value")).to_have_attribute("type", "date")
    second.get_by_label("Value").fill("2022-01-01")
    expect(size).to_have_text("2")
    screenshot(page, "12-rule-builder")

    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("Segment “Engaged Japan” created.")).to_be_visible()
    segment = Segment.objects.get(name="Engaged Japan")
    assert segment.folder == "Campaigns"
    assert segment.rules == {
        "type": "and",
        "conditions": [
            {"column": "country", "operator": "eq", "value": "JP"},
            {
                "type": "or",
                "conditions": [
                    {"column": "age", "operator": "gte", "value": 40},
                    {"column": "signup_date", "operator": "before", "value": "2022-01-01"},
                ],
            },
        ],
    }
    expect(page.locator("#audience-heading + .audience-size strong")).to_have_text("2")

    # Editing draws the saved tree again.
    page.get_by_role("link", name="Edit rules").first.click()
    expect(page.locator("#rule-builder .rule-condition")).to_have_count(3)
    expect(page.locator("#audience-size")).to_have_text("2")


def test_rule_builder_marks_a_bad_value_at_its_condition(page, site, marketer):
    sign_in(page, site)
    page.goto(f"{site.url}/segments/new/?parent={marketer['parent'].pk}")
    builder = page.locator("#rule-builder")
    builder.get_by_role("button", name="+ Add condition").click()
    condition = builder.locator(".rule-condition").first
    condition.get_by_label("Column").select_option("country")
    condition.get_by_label("Operator").select_option("in")
    expect(condition.locator(".rule-error")).to_have_text(
        "value: in needs a non-empty list of values"
    )
    expect(page.locator("#audience-size")).to_have_text("—")
    page.get_by_label("Name", exact=True).fill("Nobody")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#rule-builder .rule-condition .rule-error")).to_have_text(
        "value: in needs a non-empty list of values"
    )
    expect(page.get_by_label("Name", exact=True)).to_have_value("Nobody")
    assert not Segment.objects.filter(name="Nobody").exists()


def test_csv_upload_reports_bad_rows_and_imports_a_good_file(page, site, marketer, tmp_path):
    parent = marketer["parent"]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "customer_id,email,age,consent\n"
        "C100,new@example.com,thirty,true\n"
        "C101,other@example.com,30,maybe\n"
    )
    good = tmp_path / "good.csv"
    good.write_text("customer_id,email,country\nC100,new@example.com,JP\nC001,aiko@example.jp,JP\n")
    sign_in(page, site)
    page.goto(f"{site.url}/audience/{parent.pk}/")

    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    report = page.locator("#upload-result")
    expect(report.get_by_role("alert")).to_contain_text("Nothing was imported: 2 problems")
    expect(report.locator("tbody tr")).to_have_count(2)
    expect(report.locator("tbody tr").first.locator("td").nth(0)).to_have_text("2")
    expect(report.locator("tbody tr").first.locator("td").nth(1)).to_have_text("age")
    expect(report.locator("tbody tr").nth(1).locator("td").nth(0)).to_have_text("3")
    expect(report.locator("tbody tr").nth(1).locator("td").nth(1)).to_have_text("consent")
    screenshot(page.locator("section", has=page.locator("#upload-heading")), "13-upload-errors")
    assert Profile.objects.filter(parent_segment=parent).count() == 5

    page.get_by_label("CSV file").set_input_files(str(good))
    page.get_by_label("Import mode").select_option("upsert")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Imported 2 rows.")).to_be_visible()
    expect(page.locator("#row-count")).to_have_text("6")
    assert Profile.objects.filter(parent_segment=parent).count() == 6


def test_segment_actions_menu_works_from_the_keyboard_and_by_right_click(page, site, marketer):
    sign_in(page, site)
    page.goto(f"{site.url}/segments/")
    button = page.get_by_role("button", name="Actions for segment Japan")
    button.focus()
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name="Segment Japan")
    expect(menu).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(menu.get_by_role("menuitem", name="Create Activation")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="Open segment")).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(button).to_be_focused()

    page.get_by_role("row").filter(has_text="Customers").click(button="right")
    expect(menu).to_be_visible()
    menu.get_by_role("menuitem", name="Create Activation").click()
    expect(page).to_have_url(f"{site.url}/activations/new/?segment={marketer['segment'].pk}")


def test_csv_upload_shows_its_progress_on_a_slow_network(page, site, marketer, tmp_path):
    rows = "".join(f"C{number:06d},person{number}@example.com,JP\n" for number in range(20_000))
    big = tmp_path / "big.csv"
    big.write_text("customer_id,email,country\n" + rows)
    sign_in(page, site)
    page.goto(f"{site.url}/audience/{marketer['parent'].pk}/")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 250_000},
    )
    page.get_by_label("CSV file").set_input_files(str(big))
    page.get_by_role("button", name="Upload").click()
    progress = page.get_by_label("Uploading…")
    expect(progress).to_be_visible()
    page.wait_for_function(
        "() => { const bar = document.getElementById('upload-progress-bar');"
        " return bar.value > 0 && bar.value < 100; }"
    )
    expect(page.get_by_role("button", name="Upload")).to_be_disabled()
    expect(page.get_by_text("Imported 20,000 rows.")).to_be_visible(timeout=30_000)
    expect(page.locator("#row-count")).to_have_text("20,000")


def test_an_untouched_condition_is_not_sent_and_an_incomplete_rule_asks_to_be_finished(
    page, site, marketer
):
    sign_in(page, site)
    page.goto(f"{site.url}/segments/new/?parent={marketer['parent'].pk}")
    page.get_by_label("Name", exact=True).fill("Everyone")
    builder = page.locator("#rule-builder")
    size = page.locator("#audience-size")
    expect(size).to_have_text("5")

    # "+ Add group" adds an empty condition: no size of 0, but a request to finish it.
    builder.get_by_role("button", name="+ Add group").click()
    expect(size).to_have_text("—")
    expect(page.locator("#audience-total")).to_have_text("finish this condition to see the size")
    expect(builder.get_by_text("Finish this condition.")).to_be_visible()
    builder.locator(".rule-group .rule-group").get_by_role("button", name="Remove group").click()
    expect(size).to_have_text("5")

    # An untouched condition is left out of what is saved.
    builder.get_by_role("button", name="+ Add condition").click()
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("Segment “Everyone” created.")).to_be_visible()
    assert Segment.objects.get(name="Everyone").rules == {"type": "and", "conditions": []}
