"""Connections in a real browser: OAuth's "Connect to Salesforce", and the editor's dialog."""

import pytest
from playwright.sync_api import expect

from connectors.models import Connection
from tests.factories import make_connection

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_connect_to_salesforce_goes_to_the_org_and_comes_back_with_a_refresh_token(
    page, site, marketer, salesforce_emulator
):
    sign_in(page, site)
    page.goto(site.url + "/connections/new/")
    page.get_by_label("Name", exact=True).fill("OAuth org")
    page.get_by_label("Authentication").select_option("oauth")
    expect(page.get_by_label("Username")).to_be_hidden()
    page.get_by_label("Login URL").fill(salesforce_emulator.url)
    page.get_by_label("Client ID").fill("emulator-client-id")
    page.get_by_label("Client secret").fill("emulator-client-secret")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("Connection “OAuth org” created.")).to_be_visible()
    connection = Connection.objects.get(name="OAuth org")
    assert connection.refresh_token == ""

    page.get_by_role("button", name="Connect to Salesforce").click()
    expect(page.get_by_text("Connected “OAuth org” to Salesforce.")).to_be_visible()
    assert page.url == f"{site.url}/connections/{connection.pk}/"
    connection.refresh_from_db()
    assert connection.refresh_token != ""
    refresh_field = page.locator('[data-field="refresh_token"]')
    expect(refresh_field.get_by_text("set", exact=True)).to_be_visible()
    expect(page.get_by_label("Client secret")).to_have_value("")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-test-result")).to_have_text("✓ Connected")
    html = page.content()
    assert "emulator-client-secret" not in html
    assert connection.refresh_token not in html
    screenshot(page, "10-connection-oauth")


def test_editor_creates_a_connection_in_a_dialog_without_losing_the_activation(
    page, site, marketer, salesforce_emulator
):
    make_connection(workspace=marketer["workspace"], name="Old org")
    sign_in(page, site)
    page.goto(f"{site.url}/activations/new/?segment={marketer['segment'].pk}")
    page.get_by_label("Activation name").fill("Japan to Leads")
    page.get_by_label("Object").fill("Lead")

    page.get_by_role("button", name="+ Create new connection").click()
    dialog = page.get_by_role("dialog", name="New connection")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Create connection").click()
    expect(dialog.locator('[data-field="name"] .field-error')).to_have_text(
        "This field is required."
    )
    dialog.get_by_label("Name", exact=True).fill("New org")
    dialog.get_by_label("Login URL").fill(salesforce_emulator.url)
    dialog.get_by_label("Username").fill("marketer@example.com")
    dialog.get_by_label("Password").fill("hunter2")
    dialog.get_by_label("Security token").fill("TOKEN123")
    screenshot(dialog, "11-connection-dialog")
    dialog.get_by_role("button", name="Create connection").click()

    expect(dialog).to_be_hidden()
    new_connection = Connection.objects.get(name="New org")
    connection_select = page.get_by_label("Connection", exact=True)
    expect(connection_select).to_have_value(str(new_connection.pk))
    expect(page.get_by_label("Activation name")).to_have_value("Japan to Leads")
    expect(page.get_by_label("Object")).to_have_value("Lead")
    page.locator("#details").get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-test-result")).to_have_text("✓ Connected")
