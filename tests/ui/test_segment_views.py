"""Parent segment and segment views through the test client."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from activations.models import Run
from segments import services as segment_services
from segments.models import ParentSegment, Profile, Segment
from tests.factories import make_user, make_workspace


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


def test_segment_list_search_finds_by_name_description_or_folder(owner_client, team):
    parent = team["parent"]
    segment_services.create_segment(
        workspace=team["workspace"],
        data={"parent_segment": parent, "name": "Lapsed", "description": "Gone quiet"},
    )
    by_folder = owner_client.get("/segments/", {"q": "regions"})
    assert [segment.name for _, group in by_folder.context["folders"] for segment in group] == [
        "Japan"
    ]
    by_description = owner_client.get("/segments/", {"q": "QUIET"})
    assert [s.name for _, group in by_description.context["folders"] for s in group] == ["Lapsed"]
    nothing = owner_client.get("/segments/", {"q": "nobody"}).content.decode()
    assert "No segment matches “nobody”" in nothing


def test_new_segment_without_a_parent_segment_sends_the_user_to_create_one(client, db):
    workspace = make_workspace("Fresh team")
    client.force_login(make_user("fresh", workspace=workspace, role="owner"))
    segments_page = client.get("/segments/").content.decode()
    assert "Start in Audience Studio: create a parent segment" in segments_page
    assert "+ New segment" not in segments_page
    response = client.get("/segments/new/", follow=True)
    assert response.redirect_chain == [("/audience/", 302)]
    assert "A segment is built on a parent segment" in response.content.decode()


def test_segment_page_samples_its_audience_in_key_order(owner_client, team):
    response = owner_client.get(f"/segments/{team['segment'].pk}/sample/")
    assert response.context["columns"] == team["parent"].column_names
    assert [row[0] for row in response.context["rows"]] == ["C001", "C002"]
    assert "aiko@example.jp" in response.content.decode()


def test_segment_delete_asks_first_then_deletes(owner_client, team):
    segment = segment_services.create_segment(
        workspace=team["workspace"], data={"parent_segment": team["parent"], "name": "Unused"}
    )
    question = owner_client.get(f"/segments/{segment.pk}/delete/")
    assert question.status_code == 200
    assert "Delete the segment “Unused”?" in question.content.decode()
    assert Segment.objects.filter(pk=segment.pk).exists()
    response = owner_client.post(f"/segments/{segment.pk}/delete/")
    assert response["Location"] == f"/audience/{team['parent'].pk}/"
    assert not Segment.objects.filter(pk=segment.pk).exists()


def test_segment_with_an_activation_is_not_deleted_and_the_page_names_it(owner_client, team):
    segment = team["segment"]
    response = owner_client.post(f"/segments/{segment.pk}/delete/")
    assert response.status_code == 409
    page = response.content.decode()
    assert "This segment cannot be deleted yet." in page
    assert f'href="/activations/{team["activation"].pk}/">Japan to Contacts</a>' in page
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_parent_segment_delete_takes_its_rows_and_segments_once_nothing_is_activated(
    owner_client, team
):
    parent = team["parent"]
    refused = owner_client.post(f"/audience/{parent.pk}/delete/")
    assert refused.status_code == 409
    assert ParentSegment.objects.filter(pk=parent.pk).exists()
    team["activation"].delete()
    question = owner_client.get(f"/audience/{parent.pk}/delete/").content.decode()
    assert "Its 3 rows are deleted, and so is its segment:" in question
    response = owner_client.post(f"/audience/{parent.pk}/delete/")
    assert response["Location"] == "/audience/"
    assert not ParentSegment.objects.filter(pk=parent.pk).exists()
    assert Profile.objects.count() == 0
    assert Segment.objects.count() == 0


def test_viewers_cannot_delete_segments(viewer_client, team):
    assert viewer_client.get(f"/segments/{team['segment'].pk}/delete/").status_code == 403
    assert viewer_client.post(f"/audience/{team['parent'].pk}/delete/").status_code == 403
    assert Segment.objects.count() == 1


def test_segment_form_offers_the_folders_in_use(owner_client, team):
    page = owner_client.get("/segments/new/").content.decode()
    assert '<datalist id="folder-choices"><option value="Regions"></datalist>' in page
    assert 'list="folder-choices"' in page


def test_segment_page_shows_each_activation_with_its_last_run(owner_client, team):
    activation = team["activation"]
    Run.objects.create(activation=activation, status=Run.Status.SUCCEEDED)
    latest = Run.objects.create(activation=activation, status=Run.Status.FAILED)
    response = owner_client.get(f"/segments/{team['segment'].pk}/")
    assert [a.last_run for a in response.context["activations"]] == [latest]
    assert '<span class="badge badge-failed">Failed</span>' in response.content.decode()


def test_unreadable_or_absurdly_nested_rules_are_refused_on_the_form_not_a_server_error(
    owner_client, team
):
    for rules in ("not json", "[" * 100_000):
        response = owner_client.post(
            "/segments/new/",
            {"parent_segment": team["parent"].pk, "name": "Broken", "rules": rules},
        )
        assert response.status_code == 400
        assert response.context["form"].errors["rules"] == [
            "The rules could not be read; reload the page."
        ]
        assert response.context["builder_config"]["rules"] == {"type": "and", "conditions": []}
    assert not Segment.objects.filter(name="Broken").exists()


def test_audience_size_refuses_an_absurdly_nested_body(owner_client, team):
    response = owner_client.post(
        "/segments/audience-size/", "[" * 100_000, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"errors": {"": ["The request could not be read."]}}
