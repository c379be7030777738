"""Parent segment and segment views through the test client."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from segments.models import ParentSegment, Profile, Segment


def test_parent_segment_is_created_from_the_column_rows(owner_client, team):
    response = owner_client.post(
        "/audience/new/",
        {
            "name": "Leads",
            "description": "Web leads",
            "key_column": "lead_id",
            "column_name": ["lead_id", "email", "score", ""],
            "column_type": ["string", "string", "integer", "string"],
        },
    )
    parent = ParentSegment.objects.get(name="Leads")
    assert response.status_code == 302
    assert response["Location"] == f"/audience/{parent.pk}/"
    assert parent.columns == [
        {"name": "lead_id", "type": "string"},
        {"name": "email", "type": "string"},
        {"name": "score", "type": "integer"},
    ]
    assert parent.workspace == team["workspace"]


def test_parent_segment_errors_land_on_their_column_row_and_input_is_kept(owner_client, team):
    response = owner_client.post(
        "/audience/new/",
        {
            "name": "Leads",
            "key_column": "lead_id",
            "column_name": ["lead_id", "e-mail"],
            "column_type": ["string", "string"],
        },
    )
    assert response.status_code == 400
    rows = response.context["form"].column_rows
    assert rows[0]["errors"] == {}
    assert list(rows[1]["errors"]) == ["name"]
    page = response.content.decode()
    assert 'value="e-mail"' in page
    assert rows[1]["errors"]["name"][0] in page
    assert not ParentSegment.objects.filter(name="Leads").exists()


def test_upload_answers_the_uploader_with_counts_or_the_bad_rows(owner_client, team):
    parent = team["parent"]
    url = f"/audience/{parent.pk}/upload/"
    bad = SimpleUploadedFile("bad.csv", b"customer_id,age\nC009,old\nC010,12\n", "text/csv")
    response = owner_client.post(
        url, {"file": bad, "mode": "upsert"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert (body["rows_imported"], body["error_count"]) == (0, 1)
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(2, "age")]
    assert Profile.objects.filter(parent_segment=parent).count() == 3

    good = SimpleUploadedFile("good.csv", b"customer_id,age\nC009,60\n", "text/csv")
    response = owner_client.post(
        url, {"file": good, "mode": "upsert"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"rows_imported": 1, "row_count": 4, "error_count": 0, "errors": []}


def test_upload_without_javascript_shows_the_report_on_the_page(owner_client, team):
    parent = team["parent"]
    bad = SimpleUploadedFile("bad.csv", b"customer_id,age\nC009,old\n", "text/csv")
    response = owner_client.post(f"/audience/{parent.pk}/upload/", {"file": bad, "mode": "replace"})
    assert response.status_code == 400
    assert "Nothing was imported:" in response.content.decode()
    good = SimpleUploadedFile("good.csv", b"customer_id\nC100\n", "text/csv")
    response = owner_client.post(
        f"/audience/{parent.pk}/upload/", {"file": good, "mode": "replace"}
    )
    assert response.status_code == 302
    assert list(Profile.objects.filter(parent_segment=parent).values_list("key", flat=True)) == [
        "C100"
    ]


def test_audience_size_counts_an_unsaved_rule_tree(owner_client, team):
    body = {
        "parent_segment": team["parent"].pk,
        "rules": {
            "type": "or",
            "conditions": [
                {"column": "age", "operator": "gte", "value": 40},
                {"column": "country", "operator": "eq", "value": "US"},
            ],
        },
    }
    response = owner_client.post(
        "/segments/audience-size/", json.dumps(body), content_type="application/json"
    )
    assert response.json() == {"size": 2, "total": 3}


def test_audience_size_returns_rule_errors_by_path(owner_client, team):
    body = {
        "parent_segment": team["parent"].pk,
        "rules": {"type": "and", "conditions": [{"column": "nope", "operator": "eq", "value": 1}]},
    }
    response = owner_client.post(
        "/segments/audience-size/", json.dumps(body), content_type="application/json"
    )
    assert list(response.json()["errors"]) == ["conditions[0].column"]


def test_audience_size_of_another_workspace_is_not_found(outsider_client, team):
    body = {"parent_segment": team["parent"].pk, "rules": {"type": "and", "conditions": []}}
    response = outsider_client.post(
        "/segments/audience-size/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 404


def test_segment_is_created_with_the_builder_rule_tree(owner_client, team):
    rules = {"type": "and", "conditions": [{"column": "age", "operator": "lt", "value": 40}]}
    response = owner_client.post(
        "/segments/new/",
        {
            "parent_segment": team["parent"].pk,
            "name": "Under 40",
            "folder": "Age",
            "rules": json.dumps(rules),
        },
    )
    segment = Segment.objects.get(name="Under 40")
    assert response["Location"] == f"/segments/{segment.pk}/"
    assert segment.rules == rules


def test_refused_segment_gives_the_builder_its_errors_and_the_tree_as_sent(owner_client, team):
    rules = {"type": "and", "conditions": [{"column": "age", "operator": "contains", "value": 4}]}
    response = owner_client.post(
        "/segments/new/",
        {"parent_segment": team["parent"].pk, "name": "Odd", "rules": json.dumps(rules)},
    )
    assert response.status_code == 400
    config = response.context["builder_config"]
    assert config["rules"] == rules
    assert list(config["errors"]) == ["conditions[0].operator"]
    assert config["operators_by_type"]["integer"][:2] == ("eq", "ne")
    assert not Segment.objects.filter(name="Odd").exists()


def test_segment_edit_saves_new_rules(owner_client, team):
    segment = team["segment"]
    rules = {"type": "and", "conditions": [{"column": "country", "operator": "eq", "value": "US"}]}
    owner_client.post(
        f"/segments/{segment.pk}/edit/",
        {
            "parent_segment": team["parent"].pk,
            "name": "United States",
            "folder": "Regions",
            "rules": json.dumps(rules),
        },
    )
    segment.refresh_from_db()
    assert (segment.name, segment.rules) == ("United States", rules)
    assert owner_client.get(f"/segments/{segment.pk}/size/").content == b"1"
