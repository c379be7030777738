"""What a marketer does around the seed's flow, in a real browser: find segments, delete what
is no longer used (after a confirmation), duplicate an activation, read times in their own time
zone, and land on the field to fix when a form is refused."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from activations.models import Activation, Run
from segments import services as segment_services
from segments.models import Segment
from tests.factories import make_activation, make_connection

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_search_then_delete_an_unused_segment_after_confirming(page, site, marketer):
    segment_services.create_segment(
        workspace=marketer["workspace"],
        data={"parent_segment": marketer["parent"], "name": "Old test", "folder": "Scratch"},
    )
    sign_in(page, site)
    page.goto(f"{site.url}/segments/")
    page.get_by_label("Search segments").fill("scratch")
    page.get_by_label("Search segments").press("Enter")
    expect(page.locator(".folder-title")).to_have_text(["Scratch 1"])

    page.get_by_role("button", name="Actions for segment Old test").click()
    page.get_by_role("menuitem", name="Delete…").click()
    expect(page.get_by_role("heading", name="Delete the segment “Old test”?")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name="Old test")).to_be_visible()
    assert Segment.objects.filter(name="Old test").exists()

    page.get_by_role("button", name="Actions for segment Old test").click()
    page.get_by_role("menuitem", name="Delete…").click()
    screenshot(page, "15-delete-confirmation")
    page.get_by_role("button", name="Delete segment").click()
    expect(page.get_by_text("Segment “Old test” deleted.")).to_be_visible()
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    assert not Segment.objects.filter(name="Old test").exists()


def test_segment_sent_somewhere_is_kept_and_the_page_says_what_to_delete_first(
    page, site, marketer
):
    activation = make_activation(
        segment=marketer["segment"], connection=make_connection(workspace=marketer["workspace"])
    )
    sign_in(page, site)
    page.goto(f"{site.url}/segments/{marketer['segment'].pk}/delete/")
    expect(page.get_by_text("This segment cannot be deleted yet.")).to_be_visible()
    expect(page.get_by_role("button", name="Delete segment")).to_have_count(0)
    page.get_by_role("link", name=activation.name).click()
    expect(page.get_by_role("heading", name=re.compile(activation.name))).to_be_visible()


def test_duplicate_an_activation_and_save_the_copy(page, site, marketer):
    original = make_activation(
        segment=marketer["segment"],
        connection=make_connection(workspace=marketer["workspace"], name="Production org"),
        name="Japan daily",
        object_name="Lead",
        schedule_type="daily",
        timezone="Asia/Tokyo",
    )
    sign_in(page, site)
    page.goto(f"{site.url}/activations/{original.pk}/")
    page.get_by_role("link", name="Duplicate").click()
    expect(page.get_by_role("heading", name="Create Activation")).to_be_visible()
    expect(page.get_by_text("It starts disabled")).to_be_visible()
    expect(page.get_by_label("Activation name")).to_have_value("Japan daily (copy)")
    expect(page.get_by_label("Enabled")).not_to_be_checked()
    expect(page.get_by_label("Object")).to_have_value("Lead")
    expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
    page.get_by_label("Activation name").fill("Japan daily to Contacts")
    page.get_by_label("Object").fill("Contact")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_text("Activation “Japan daily to Contacts” created.")).to_be_visible()
    copy = Activation.objects.get(name="Japan daily to Contacts")
    assert (copy.object_name, copy.enabled, copy.schedule_type) == ("Contact", False, "daily")
    assert Activation.objects.get(pk=original.pk).object_name == "Lead"

    # The list tells the two apart: the original runs daily and ran; the copy waits.
    Run.objects.create(activation=original, status=Run.Status.SUCCEEDED, rows_read=3)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Activations").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Japan daily")
    expect(rows.nth(0)).to_contain_text("At 00:00 every day")
    expect(rows.nth(0).locator("td").nth(2)).to_contain_text("next")
    expect(rows.nth(0).locator("td").nth(3)).to_contain_text("Succeeded")
    expect(rows.nth(1)).to_contain_text("paused while disabled")
    expect(rows.nth(1)).to_contain_text("never run")
    screenshot(page, "14-activation-list")


def test_times_are_shown_in_the_activations_time_zone(browser, site, marketer):
    # Run history times follow the activation's schedule zone, with the offset (issue 16);
    # the run log's clock times follow the browser's.
    activation = make_activation(
        segment=marketer["segment"],
        connection=make_connection(workspace=marketer["workspace"]),
        timezone="Asia/Tokyo",
    )
    started = datetime.datetime(2024, 5, 1, 23, 30, 5, tzinfo=datetime.UTC)
    run = Run.objects.create(
        activation=activation,
        status=Run.Status.SUCCEEDED,
        started_at=started,
        finished_at=started + datetime.timedelta(seconds=4),
        log=[{"at": started.isoformat(), "message": "Started."}],
    )
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, timezone_id="Asia/Tokyo", locale="en-GB"
    )
    page = context.new_page()
    try:
        sign_in(page, site)
        page.goto(f"{site.url}/activations/{activation.pk}/")
        started_cell = page.locator("#run-history tbody tr td").nth(3)
        # 23:30 UTC is 08:30 the next morning in Tokyo.
        expect(started_cell).to_have_text(re.compile(r"2024-05-02 08:30:05 .*UTC\+09:00"))
        expect(page.get_by_text("Times in the activation's time zone (Asia/Tokyo)")).to_be_visible()
        page.goto(f"{site.url}/activations/{activation.pk}/runs/{run.pk}/")
        expect(page.locator("#run-log time")).to_have_text("08:30:05")

        # A new activation's schedule starts in the browser's time zone.
        page.goto(f"{site.url}/activations/new/?segment={marketer['segment'].pk}")
        expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
        page.locator("#schedule").get_by_label("Schedule", exact=True).select_option("daily")
        expect(page.locator("#schedule-preview")).to_contain_text("Next runs (Asia/Tokyo)")
    finally:
        context.close()


def test_refused_editor_puts_the_focus_on_the_first_field_to_fix(page, site, marketer):
    make_connection(workspace=marketer["workspace"], name="Production org")
    sign_in(page, site)
    page.goto(f"{site.url}/activations/new/?segment={marketer['segment'].pk}")
    page.get_by_label("Activation name").fill("Japan to Contacts")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_text("This could not be saved.")).to_be_visible()
    expect(page.get_by_label("Object")).to_be_focused()
    expect(page.get_by_label("Activation name")).to_have_value("Japan to Contacts")
