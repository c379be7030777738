"""The source pages and the parent segment pages built on them, through Django's test client
against a real SQLite source."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from segments.models import ParentSegment, Refresh
from sources.models import Source
from tests.factories import make_user, make_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(sqlite_file):
    workspace = make_workspace()
    owner = make_user("olive", workspace=workspace, role="owner")
    editor = make_user("eddy", workspace=workspace, role="editor")
    return workspace, owner, editor


def test_an_owner_creates_tests_and_browses_a_source(client, team, sqlite_file):
    workspace, owner, _ = team
    client.force_login(owner)
    response = client.post(
        "/sources/new/",
        {"name": "Shop", "url": f"sqlite:///{sqlite_file.name}", "password": "", "options": ""},
    )
    source = Source.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/sources/{source.pk}/"
    page = client.get(f"/sources/{source.pk}/").content.decode()
    assert "main.customers" in page
    assert "main.vips" in page
    assert "Connected" in client.post(f"/sources/{source.pk}/test/").content.decode()
    sample = client.get(f"/sources/{source.pk}/sample/", {"table": "main.customers"})
    assert "ann@example.com" in sample.content.decode()


def test_an_editor_cannot_create_a_source(client, team, sqlite_file):
    _, _, editor = team
    client.force_login(editor)
    response = client.post("/sources/new/", {"name": "S", "url": f"sqlite:///{sqlite_file.name}"})
    assert response.status_code == 403
    assert not Source.objects.exists()


@pytest.fixture
def shop(client, team, sqlite_file):
    """The SQLite source of the workspace, its owner logged in."""
    workspace, owner, _ = team
    client.force_login(owner)
    return Source.objects.create(
        workspace=workspace, name="Shop", url=f"sqlite:///{sqlite_file.name}", kind="sqlite"
    )


def infer(client, source):
    return client.get(
        "/audience/new/from-source/", {"source": source.pk, "table": "main.customers"}
    )


def from_source_form(source, table: str, name: str, columns: dict[str, str], **fields) -> dict:
    """The "new parent from a source" form keyed by `id`, with the given columns and types."""
    return {
        "source": source.pk,
        "table": table,
        "name": name,
        "key_column": "id",
        "description": "",
        "column_name": list(columns),
        "column_type": list(columns.values()),
        **fields,
    }


def test_a_parent_segment_from_a_source_with_a_dropped_column_and_refresh_history(
    client, shop, django_capture_on_commit_callbacks
):
    source = shop
    inferred = infer(client, source)
    assert inferred.status_code == 200
    assert 'value="seen"' in inferred.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/audience/new/from-source/",
            from_source_form(
                source,
                "main.customers",
                "Shop customers",
                # "seen" dropped, "score" kept as a string.
                {
                    "id": "integer",
                    "email": "string",
                    "score": "string",
                    "vip": "boolean",
                    "born": "date",
                },
                refresh_mode="replace",
                schedule_type="daily",
                timezone="Asia/Tokyo",
            ),
        )
    parent = ParentSegment.objects.get()
    assert response.status_code == 302, response.content.decode()
    assert parent.column_names == ["id", "email", "score", "vip", "born"]
    assert parent.refresh_timezone == "Asia/Tokyo"
    assert parent.refreshes.get().status == Refresh.Status.SUCCEEDED
    assert parent.row_count == 2
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/audience/{parent.pk}/refresh/")
    page = client.get(f"/audience/{parent.pk}/").content.decode()
    assert page.count('class="status status-succeeded"') == 2
    assert "Refresh now" in page


def test_csv_inference_fills_the_new_parent_segment_form(client, team):
    _, owner, _ = team
    client.force_login(owner)
    upload = SimpleUploadedFile(
        "members.csv", b"member_id,joined,points\nM1,2024-01-02,10\nM2,2024-02-03,7\n"
    )
    page = client.post("/audience/new/infer/", {"file": upload}).content.decode()
    assert 'value="member_id"' in page
    assert '<option value="date" selected>' in page
    assert '<option value="integer" selected>' in page
    assert "key candidates: member_id" in page


def test_a_live_parent_segment_from_a_source_is_read_there_and_never_refreshed(
    client, team, sqlite_file, django_capture_on_commit_callbacks
):
    import sqlite3

    workspace, owner, _ = team
    source = Source.objects.create(
        workspace=workspace, name="Shop", url=f"sqlite:///{sqlite_file.name}", kind="sqlite"
    )
    client.force_login(owner)
    form = client.get("/audience/new/from-source/", {"source": source.pk, "table": "customers"})
    assert "Imported (copied on refresh)" in form.content.decode()
    assert "Live (read from the source at each run)" in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/audience/new/from-source/",
            from_source_form(
                source,
                "customers",
                "Live shop",
                {"id": "integer", "email": "string"},
                storage="live",
                # Hidden for "live": whatever the browser still sends is not a schedule.
                schedule_type="daily",
                timezone="UTC",
            ),
        )
    parent = ParentSegment.objects.get()
    assert response.status_code == 302, response.content.decode()
    assert (parent.storage, parent.refresh_schedule_type) == ("live", "none")
    assert not parent.refreshes.exists()

    page = client.get(f"/audience/{parent.pk}/").content.decode()
    assert "Live (read from the source at each run)" in page
    assert "Refresh now" not in page
    assert "ann@example.com" in page
    assert '<span class="stat-value" id="row-count">2</span>' in page

    with sqlite3.connect(sqlite_file) as writer:
        writer.execute("INSERT INTO customers (id, email) VALUES (3, 'cy@example.com')")
    page = client.get(f"/audience/{parent.pk}/").content.decode()
    assert "cy@example.com" in page
    assert '<span class="stat-value" id="row-count">3</span>' in page

    assert (
        'title="Read from the source at each run">live</span>'
        in client.get("/audience/").content.decode()
    )

    refused = client.post(f"/audience/{parent.pk}/refresh/", follow=True).content.decode()
    assert "nothing to refresh" in refused
    assert not parent.refreshes.exists()


def test_the_cursor_column_is_chosen_on_create_and_edit_and_its_last_value_shown(
    client, shop, django_capture_on_commit_callbacks
):
    source = shop
    page = infer(client, source).content.decode()
    assert "Cursor column (incremental refresh)" in page
    # Only the columns that grow as rows change are offered: integers, dates, timestamps.
    offered = page.split('name="cursor_column"')[1].split("</select>")[0]
    assert 'value="id"' in offered
    assert 'value="born"' in offered
    assert 'value="seen"' in offered
    assert 'value="email"' not in offered
    assert 'value="vip"' not in offered

    form = from_source_form(
        source,
        "main.customers",
        "Recent customers",
        {"id": "integer", "email": "string", "seen": "timestamp"},
        refresh_mode="replace",
        schedule_type="daily",
        timezone="Asia/Tokyo",
    )
    refused = client.post("/audience/new/from-source/", {**form, "cursor_column": "born"})
    assert refused.status_code == 400
    assert "&#x27;born&#x27; is not one of the columns" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/audience/new/from-source/", {**form, "cursor_column": "seen"})
    assert response.status_code == 302, response.content.decode()
    parent = ParentSegment.objects.get()
    assert parent.refresh_cursor_column == "seen"
    assert parent.refreshes.get().status == Refresh.Status.SUCCEEDED
    parent.refresh_from_db()
    assert parent.refresh_cursor_value == "2024-05-01 09:30:00"
    detail = client.get(f"/audience/{parent.pk}/").content.decode()
    assert 'Incremental by <span class="mono">seen</span>' in detail
    assert 'the rows above <span class="mono">2024-05-01 09:30:00</span>' in detail

    # The edit page shows the choice and changes it; the other refresh settings stay.
    edit = client.get(f"/audience/{parent.pk}/edit/").content.decode()
    assert '<option value="seen" selected>seen (timestamp)</option>' in edit
    response = client.post(
        f"/audience/{parent.pk}/edit/",
        {
            "name": parent.name,
            "description": "",
            "key_column": "id",
            "column_name": ["id", "email", "seen"],
            "column_type": ["integer", "string", "timestamp"],
            "cursor_column": "id",
        },
    )
    assert response.status_code == 302, response.content.decode()
    parent.refresh_from_db()
    assert (parent.refresh_cursor_column, parent.refresh_cursor_value) == ("id", "")
    assert (parent.refresh_schedule_type, parent.refresh_timezone) == ("daily", "Asia/Tokyo")
    detail = client.get(f"/audience/{parent.pk}/").content.decode()
    assert "the next refresh reads every row" in detail

    # No cursor: every refresh reads every row again.
    client.post(
        f"/audience/{parent.pk}/edit/",
        {
            "name": parent.name,
            "key_column": "id",
            "column_name": ["id", "email", "seen"],
            "column_type": ["integer", "string", "timestamp"],
            "cursor_column": "",
        },
    )
    parent.refresh_from_db()
    assert parent.refresh_cursor_column == ""
    assert 'id="refresh-cursor"' not in client.get(f"/audience/{parent.pk}/").content.decode()
