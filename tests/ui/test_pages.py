"""Every page renders for its workspace's members; viewers see but cannot change; others get 404."""

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from activations.models import Activation, Run
from connectors.models import Connection
from segments.models import Segment
from workspaces.models import Membership, Workspace


def page_urls(team) -> dict[str, str]:
    parent, segment = team["parent"], team["segment"]
    activation, connection = team["activation"], team["connection"]
    run = Run.objects.create(activation=activation, status=Run.Status.SUCCEEDED)
    return {
        "audience studio": "/audience/",
        "parent segment": f"/audience/{parent.pk}/",
        "segments": "/segments/",
        "segment": f"/segments/{segment.pk}/",
        "activations": "/activations/",
        "activation": f"/activations/{activation.pk}/",
        "run history": f"/activations/{activation.pk}/runs/",
        "run": f"/activations/{activation.pk}/runs/{run.pk}/",
        "connections": "/connections/",
        "connection": f"/connections/{connection.pk}/",
        "audience sample": f"/segments/{segment.pk}/sample/",
    }


def owner_page_urls(team) -> dict[str, str]:
    """Pages only those who may change the workspace see: confirmations and the duplicate."""
    activation = team["activation"]
    return {
        "segment delete": f"/segments/{team['segment'].pk}/delete/",
        "parent segment delete": f"/audience/{team['parent'].pk}/delete/",
        "activation delete": f"/activations/{activation.pk}/delete/",
        "activation duplicate": f"/activations/new/?copy={activation.pk}",
    }


def test_owner_pages_render_for_owners_and_are_refused_to_viewers_and_hidden_from_others(
    owner_client, viewer_client, outsider_client, team
):
    for name, url in owner_page_urls(team).items():
        assert owner_client.get(url).status_code == 200, name
        assert viewer_client.get(url).status_code == 403, name
        assert outsider_client.get(url).status_code == 404, name


def test_pages_ask_anonymous_visitors_to_sign_in(client, team):
    for name, url in page_urls(team).items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"] == f"/login/?next={url}", name


def test_sign_in_page_signs_in_and_lands_in_audience_studio(client, team):
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "owner", "password": "password"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").url == "/audience/"


def test_sign_out_ends_the_session(owner_client):
    response = owner_client.post("/logout/")
    assert response.status_code == 302
    assert owner_client.get("/audience/").status_code == 302


@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_every_page_renders_for_members(team, role, client):
    client.force_login(team[role])
    for name, url in page_urls(team).items():
        response = client.get(url)
        assert response.status_code == 200, name


def test_pages_show_the_objects_of_the_workspace(owner_client, team):
    assert "Customers" in owner_client.get("/audience/").content.decode()
    parent_page = owner_client.get(f"/audience/{team['parent'].pk}/").content.decode()
    # Sample rows show values as the CSV had them (booleans as true/false, nulls marked).
    assert (
        "<td>C001</td><td>aiko@example.jp</td><td>Aiko</td><td>Tanaka</td><td>JP</td><td>34</td>"
        "<td></td><td>true</td>"
    ) in parent_page
    assert '>3</span><span class="stat-label">rows' in parent_page
    segments_page = owner_client.get("/segments/").content.decode()
    assert "Regions" in segments_page
    assert f'data-context-menu="segment-menu-{team["segment"].pk}"' in segments_page
    segment_page = owner_client.get(f"/segments/{team['segment'].pk}/").content.decode()
    assert "country = &quot;JP&quot;" in segment_page
    assert f"/activations/new/?segment={team['segment'].pk}" in segment_page
    assert owner_client.get(f"/segments/{team['segment'].pk}/size/").content == b"2"


def test_objects_of_another_workspace_are_not_found(outsider_client, team):
    for name, url in page_urls(team).items():
        if url.count("/") <= 2:  # lists show the outsider's own (empty) workspace
            response = outsider_client.get(url)
            assert response.status_code == 200, name
            assert team["segment"].name not in response.content.decode(), name
            continue
        assert outsider_client.get(url).status_code == 404, name


def test_viewers_see_no_buttons_that_change_things(viewer_client, team):
    activation_page = viewer_client.get(f"/activations/{team['activation'].pk}/").content.decode()
    assert "Run now" not in activation_page
    assert "Disable" not in activation_page
    assert "Edit" not in activation_page
    segment_page = viewer_client.get(f"/segments/{team['segment'].pk}/").content.decode()
    assert "Create Activation" not in segment_page
    assert "Edit rules" not in segment_page
    parent_page = viewer_client.get(f"/audience/{team['parent'].pk}/").content.decode()
    assert "Upload" not in parent_page
    assert "New parent segment" not in viewer_client.get("/audience/").content.decode()
    connection_page = viewer_client.get(f"/connections/{team['connection'].pk}/").content.decode()
    assert '<fieldset style="border:none;padding:0;margin:0" disabled>' in connection_page
    assert "oauth-heading" not in connection_page


def test_viewers_are_refused_every_change(viewer_client, team):
    activation, segment = team["activation"], team["segment"]
    run = Run.objects.create(activation=activation, status=Run.Status.RUNNING)
    refused = {
        f"/activations/{activation.pk}/run/": {},
        f"/activations/{activation.pk}/enabled/": {"enabled": "false"},
        f"/activations/{activation.pk}/edit/": {"name": "Renamed"},
        f"/activations/{activation.pk}/delete/": {},
        f"/activations/{activation.pk}/runs/{run.pk}/cancel/": {},
        f"/activations/new/?segment={segment.pk}": {"name": "New"},
        f"/segments/{segment.pk}/edit/": {"name": "Renamed"},
        "/segments/new/": {"name": "New"},
        f"/audience/{team['parent'].pk}/edit/": {"name": "Renamed"},
        f"/audience/{team['parent'].pk}/upload/": {},
        "/audience/new/": {"name": "New"},
        f"/connections/{team['connection'].pk}/": {"name": "Renamed"},
        f"/connections/{team['connection'].pk}/delete/": {},
        f"/connections/{team['connection'].pk}/oauth/": {},
        "/connections/new/": {"name": "New"},
    }
    for url, data in refused.items():
        assert viewer_client.post(url, data).status_code == 403, url
    refused_page = viewer_client.get(f"/activations/{activation.pk}/edit/")
    assert refused_page.status_code == 403
    assert "Your role in this workspace is view only." in refused_page.content.decode()
    activation.refresh_from_db()
    assert (activation.name, activation.enabled) == ("Japan to Contacts", True)
    assert list(Run.objects.values_list("status", flat=True)) == ["running"]
    assert Segment.objects.get().name == "Japan"
    assert Connection.objects.filter(workspace=team["workspace"]).get().name == "Production org"
    assert Activation.objects.count() == 1


def test_workspace_switcher_appears_for_members_of_several_and_changes_the_lists(
    owner_client, team
):
    assert 'id="workspace-switcher"' not in owner_client.get("/audience/").content.decode()
    second = Workspace.objects.create(name="Second brand")
    Membership.objects.create(workspace=second, user=team["owner"], role="editor")
    page = owner_client.get("/audience/").content.decode()
    assert 'id="workspace-switcher"' in page
    assert "Customers" in page

    response = owner_client.post("/workspace/", {"workspace": second.pk, "next": "/segments/"})
    assert response.status_code == 302
    assert response["Location"] == "/segments/"
    assert "Customers" not in owner_client.get("/audience/").content.decode()
    assert "Japan" not in owner_client.get("/segments/").content.decode()


def test_workspace_switcher_refuses_a_workspace_of_someone_else(owner_client, team):
    other = Workspace.objects.get(name="Other team")
    assert owner_client.post("/workspace/", {"workspace": other.pk}).status_code == 404
    assert "Customers" in owner_client.get("/audience/").content.decode()


def test_a_user_without_a_workspace_gets_a_personal_one(client, db):
    user = User.objects.create_user("newcomer", password="password")
    client.force_login(user)
    page = client.get("/audience/").content.decode()
    assert "No parent segments yet" in page
    assert Workspace.objects.get(memberships__user=user).name == "newcomer's workspace"


def test_run_page_polls_only_while_the_run_is_active(owner_client, team):
    activation = team["activation"]
    run = Run.objects.create(activation=activation, status=Run.Status.QUEUED)
    url = f"/activations/{activation.pk}/runs/{run.pk}/"
    assert 'hx-trigger="every 2s"' in owner_client.get(url).content.decode()
    fragment = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert fragment.startswith('<div id="run-body"')
    Run.objects.filter(pk=run.pk).update(status=Run.Status.SUCCEEDED, finished_at=timezone.now())
    assert 'hx-trigger="every 2s"' not in owner_client.get(url).content.decode()
