"""The activation editor through the test client: payloads, errors in place, input kept."""

import re

import time_machine
from django.utils.http import urlencode

from activations.models import Activation
from tests.factories import concat, make_connection, output_mapping


def editor_post(team, **overrides) -> dict:
    """A complete editor form as the browser posts it (repeated keys as lists)."""
    data = {
        "segment": team["segment"].pk,
        "name": "Japan to Leads",
        "description": "Leads from Japan",
        "connection": team["connection"].pk,
        "enabled": "on",
        "mode": "update",
        "object_name": "Lead",
        "upsert": "on",
        "key": "Email",
        "concurrency_mode": "serial",
        "batch_size": "5000",
        "api_version": "60.0",
        "retry_initial_delay": "2",
        "retry_limit": "4",
        "null_value": "clear",
        "column_source": ["email", "last_name"],
        "column_output": ["Email", "LastName"],
        "string_key": ["k1"],
        "string-k1-output": "Company",
        "string-k1-part_type": ["string", "segment_name", "timestamp"],
        "string-k1-part_value": ["Segment ", "", ""],
        "string-k1-part_format": ["", "", "%Y-%m-%d"],
        "schedule_type": "cron",
        "cron": "0 9 * * mon-fri",
        "timezone": "Asia/Tokyo",
        "delay_seconds": "60",
        "notify_emails": "team@example.com; lead@example.com",
        "notify_on": "always",
    }
    data.update(overrides)
    return data


def test_create_builds_the_canonical_payload_from_the_panels(owner_client, team):
    response = owner_client.post("/activations/new/", editor_post(team))
    activation = Activation.objects.get(name="Japan to Leads")
    assert response.status_code == 302
    assert response["Location"] == f"/activations/{activation.pk}/"
    assert (activation.mode, activation.object_name, activation.upsert, activation.key) == (
        "update",
        "Lead",
        True,
        "Email",
    )
    assert (activation.concurrency_mode, activation.batch_size, activation.api_version) == (
        "serial",
        5000,
        "60.0",
    )
    assert (activation.retry_initial_delay, activation.retry_limit, activation.null_value) == (
        2.0,
        4,
        "clear",
    )
    assert activation.output_mapping == output_mapping(
        ("email", "Email"),
        ("last_name", "LastName"),
        strings=[
            concat(
                "Company",
                "Segment ",
                {"type": "segment_name"},
                {"type": "timestamp", "format": "%Y-%m-%d"},
            )
        ],
        export_all_columns=False,
    )
    assert (activation.schedule_type, activation.cron, activation.timezone) == (
        "cron",
        "0 9 * * mon-fri",
        "Asia/Tokyo",
    )
    assert activation.delay_seconds == 60
    assert activation.notify_emails == ["team@example.com", "lead@example.com"]
    assert activation.notify_on == "always"
    assert activation.periodic_task is not None


def test_export_all_columns_does_not_send_the_picked_columns(owner_client, team):
    owner_client.post(
        "/activations/new/", editor_post(team, export_all_columns="on", mode="append", key="")
    )
    activation = Activation.objects.get(name="Japan to Leads")
    assert activation.output_mapping["export_all_columns"] is True
    assert activation.output_mapping["columns"] == []


def test_fields_of_other_modes_are_not_sent(owner_client, team):
    owner_client.post(
        "/activations/new/",
        editor_post(team, mode="append", hard_delete="on", upsert="on", key="Email"),
    )
    activation = Activation.objects.get(name="Japan to Leads")
    assert (activation.mode, activation.upsert, activation.key, activation.hard_delete) == (
        "append",
        False,
        "",
        False,
    )


def test_refused_form_shows_each_error_at_its_field_and_keeps_the_input(owner_client, team):
    data = editor_post(
        team,
        column_source=["email", "first_name", "last_name"],
        column_output=["Email", "", "Email"],
        cron="61 * * * *",
        key="Customer_Key__c",
        notify_emails="team@example.com, not-an-address",
    )
    response = owner_client.post("/activations/new/", data)
    page = response.content.decode()
    assert response.status_code == 400
    assert Activation.objects.filter(name="Japan to Leads").count() == 0
    form = response.context["form"]
    assert form.errors["cron"] == ["minute: 61 is out of range 0-59"]
    assert form.errors["notify_emails"] == ["'not-an-address' is not a valid e-mail address."]
    assert form.mapping["columns"][1]["errors"] == {"output": ["must not be empty"]}
    assert form.mapping["columns"][0]["errors"] == {}
    assert re.match(
        r"duplicate output name 'Email'", form.mapping["columns"][2]["errors"]["output"][0]
    )
    # The page shows the messages and everything as typed.
    assert "must not be empty" in page
    assert "minute: 61 is out of range 0-59" in page
    assert 'value="61 * * * *"' in page
    assert 'value="Japan to Leads"' in page
    assert 'value="team@example.com, not-an-address"' in page
    assert page.count('name="column_output"') == 3 + 1  # three rows and the row template
    assert 'value="Company"' in page
    assert 'value="%Y-%m-%d"' in page
    assert '<option value="segment_name" selected>' in page
    assert '<option value="Asia/Tokyo" selected>' in page
    assert response.context["panel_errors"] == {
        "details": False,
        "mapping": True,
        "schedule": True,
    }


def test_key_that_is_not_an_output_column_is_shown_on_the_key_field(owner_client, team):
    response = owner_client.post("/activations/new/", editor_post(team, key="Customer_Key__c"))
    assert response.status_code == 400
    assert response.context["form"].errors["key"] == [
        "The key Customer_Key__c must be one of the output columns (Email, LastName, Company)."
    ]


def test_edit_starts_from_the_stored_activation_and_saves_changes(owner_client, team):
    activation = team["activation"]
    page = owner_client.get(f"/activations/{activation.pk}/edit/").content.decode()
    assert 'value="Japan to Contacts"' in page
    assert 'name="export_all_columns" id="id_export_all_columns" checked' in page
    data = editor_post(team, name="Renamed", mode="append", key="", upsert="")
    response = owner_client.post(f"/activations/{activation.pk}/edit/", data)
    assert response.status_code == 302
    activation.refresh_from_db()
    saved = (activation.name, activation.object_name, activation.mode)
    assert saved == ("Renamed", "Lead", "append")
    assert [c["output"] for c in activation.output_mapping["columns"]] == ["Email", "LastName"]


def test_preview_renders_the_unsaved_mapping_over_the_segment_rows(owner_client, team):
    response = owner_client.post("/activations/preview/", editor_post(team))
    assert response.status_code == 200
    # The key column (Email) first and pinned, then the built column, then the rest.
    assert response.context["columns"] == ["Email", "Company", "LastName"]
    assert response.context["pinned"] is True
    rows = response.context["rows"]
    assert [[row[0], row[2]] for row in rows] == [
        ["aiko@example.jp", "Tanaka"],
        ["kenji@example.jp", "Sato"],
    ]
    assert [row[1][: len("Segment Japan")] for row in rows] == ["Segment Japan"] * 2
    assert re.fullmatch(r"Segment Japan\d{4}-\d{2}-\d{2}", rows[0][1])
    assert 'class="pinned">Email</th>' in response.content.decode()


def test_preview_writes_a_timestamp_part_in_its_time_zone(owner_client, team):
    data = editor_post(team)
    data["string-k1-part_format"] = ["", "", "%Y-%m-%d %H:%M %z"]
    data["string-k1-part_timezone"] = ["", "", "Asia/Tokyo"]
    with time_machine.travel("2026-12-03T20:30:00Z", tick=False):
        response = owner_client.post("/activations/preview/", data)
    assert response.context["rows"][0][1] == "Segment Japan2026-12-04 05:30 +0900"

    # Without its own zone, the part takes the schedule's.
    data["string-k1-part_timezone"] = ["", "", ""]
    data["timezone"] = "America/New_York"
    with time_machine.travel("2026-12-03T20:30:00Z", tick=False):
        response = owner_client.post("/activations/preview/", data)
    assert response.context["rows"][0][1] == "Segment Japan2026-12-03 15:30 -0500"


def test_an_unknown_part_time_zone_is_refused_in_place(owner_client, team):
    data = editor_post(team)
    data["string-k1-part_timezone"] = ["", "", "Mars/Olympus"]
    response = owner_client.post("/activations/new/", data)
    assert response.status_code == 400
    assert "unknown time zone &#x27;Mars/Olympus&#x27;" in response.content.decode()
    assert not Activation.objects.filter(name="Japan to Leads").exists()


def test_preview_reports_mapping_errors_by_path(owner_client, team):
    response = owner_client.post(
        "/activations/preview/", editor_post(team, column_output=["Email", "Bad Name!"])
    )
    assert response.status_code == 200
    assert list(response.context["errors"]) == ["output_mapping.columns[1].output"]
    assert response.context["error_list"][0][0] == "Column 2 · output"
    assert 'id="preview-errors"' in response.content.decode()


def test_preview_of_a_segment_of_another_workspace_is_not_found(outsider_client, team):
    assert outsider_client.post("/activations/preview/", editor_post(team)).status_code == 404


def test_schedule_preview_describes_the_cron_and_lists_next_runs_in_its_time_zone(owner_client):
    query = urlencode({"schedule_type": "cron", "cron": "0 0 */5 * *", "timezone": "Asia/Tokyo"})
    response = owner_client.get(f"/activations/schedule-preview/?{query}")
    assert (
        response.context["description"] == "At 00:00 on days 5, 10, 15, 20, 25 and 30 of the month"
    )
    runs = response.context["next_runs"]
    assert len(runs) == 5
    assert {moment.utcoffset().total_seconds() for moment in runs} == {9 * 3600}
    assert {(moment.hour, moment.minute, moment.day % 5) for moment in runs} == {(0, 0, 0)}


def test_schedule_preview_explains_a_bad_cron(owner_client):
    query = urlencode({"schedule_type": "cron", "cron": "0 0 * *", "timezone": "UTC"})
    response = owner_client.get(f"/activations/schedule-preview/?{query}")
    assert response.context["errors"] == ["expected 5 fields separated by spaces, got 4"]
    assert 'id="schedule-errors"' in response.content.decode()


def test_create_without_a_segment_sends_the_user_to_pick_one(owner_client):
    response = owner_client.get("/activations/new/")
    assert response.status_code == 302
    assert response["Location"] == "/segments/"


def test_mapping_errors_are_shown_even_when_another_field_is_refused_first(owner_client, team):
    response = owner_client.post(
        "/activations/new/",
        editor_post(team, batch_size="", column_output=["Email", ""]),
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["batch_size"] == ["This field is required."]
    assert form.mapping["columns"][1]["errors"] == {"output": ["must not be empty"]}


def test_duplicate_starts_the_editor_from_a_disabled_copy_of_the_activation(owner_client, team):
    original = team["activation"]
    original.schedule_type = "daily"
    original.timezone = "Asia/Tokyo"
    original.notify_emails = ["team@example.com"]
    original.save()
    response = owner_client.get(f"/activations/new/?copy={original.pk}")
    form = response.context["form"]
    assert form.segment == original.segment
    assert form.initial["name"] == "Japan to Contacts (copy)"
    assert form.initial["enabled"] is False
    assert (form.initial["schedule_type"], form.initial["timezone"]) == ("daily", "Asia/Tokyo")
    assert form.initial["notify_emails"] == "team@example.com"
    assert form.initial["connection"] == team["connection"].pk
    page = response.content.decode()
    assert "It starts disabled" in page
    assert "data-suggest-timezone" not in page
    saved = owner_client.post(
        "/activations/new/", editor_post(team, name="Japan to Contacts (copy)", enabled="")
    )
    copy = Activation.objects.get(name="Japan to Contacts (copy)")
    assert saved["Location"] == f"/activations/{copy.pk}/"
    assert copy.pk != original.pk
    assert copy.enabled is False
    assert Activation.objects.filter(name="Japan to Contacts").get() == original


def test_duplicate_of_another_workspace_activation_is_not_found(outsider_client, team):
    response = outsider_client.get(f"/activations/new/?copy={team['activation'].pk}")
    assert response.status_code == 404


def test_new_activation_picks_the_only_connection_and_may_take_the_browser_time_zone(
    owner_client, team
):
    response = owner_client.get(f"/activations/new/?segment={team['segment'].pk}")
    assert response.context["form"]["connection"].value() == team["connection"].pk
    assert "data-suggest-timezone" in response.content.decode()
    make_connection(workspace=team["workspace"], name="Sandbox")
    response = owner_client.get(f"/activations/new/?segment={team['segment'].pk}")
    assert response.context["form"]["connection"].value() is None
