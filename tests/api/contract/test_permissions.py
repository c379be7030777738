"""The REST API contract of issue 5, permissions by role and workspace.

Each test reads one sentence of the contract and drives the API as a script would."""

from tests.api.contract.helpers import (
    API,
    CUSTOMERS_CSV,
    client_state_unchanged,
    minimal_activation,
    upload,
)


def test_a_viewer_reads_everything(viewer, parent, everyone, connection, activation):
    for resource, body in (
        ("parent-segments", parent),
        ("segments", everyone),
        ("connections", connection),
        ("activations", activation),
    ):
        assert viewer.get(f"{API}/{resource}/").json()["count"] == 1
        assert viewer.get(f"{API}/{resource}/{body['id']}/").status_code == 200


def test_a_viewer_cannot_create_change_delete_or_run(
    viewer, parent, everyone, connection, activation
):
    attempts = [
        viewer.post(
            f"{API}/parent-segments/",
            {"name": "X", "key_column": "id", "columns": [{"name": "id", "type": "string"}]},
            format="json",
        ),
        viewer.patch(f"{API}/parent-segments/{parent['id']}/", {"name": "X"}, format="json"),
        upload(viewer, parent["id"], CUSTOMERS_CSV),
        viewer.post(
            f"{API}/segments/", {"parent_segment": parent["id"], "name": "X"}, format="json"
        ),
        viewer.patch(f"{API}/segments/{everyone['id']}/", {"name": "X"}, format="json"),
        viewer.delete(f"{API}/segments/{everyone['id']}/"),
        viewer.post(
            f"{API}/connections/",
            {"name": "X", "username": "u", "password": "p"},
            format="json",
        ),
        viewer.patch(f"{API}/connections/{connection['id']}/", {"name": "X"}, format="json"),
        viewer.delete(f"{API}/connections/{connection['id']}/"),
        viewer.post(f"{API}/activations/", minimal_activation(everyone, connection), format="json"),
        viewer.patch(f"{API}/activations/{activation['id']}/", {"name": "X"}, format="json"),
        viewer.put(f"{API}/activations/{activation['id']}/", activation, format="json"),
        viewer.delete(f"{API}/activations/{activation['id']}/"),
        viewer.post(f"{API}/activations/{activation['id']}/runs/"),
    ]

    assert [response.status_code for response in attempts] == [403] * len(attempts)
    assert all("detail" in response.json() for response in attempts)
    assert client_state_unchanged(viewer, parent, everyone, connection, activation)


def test_a_viewer_cannot_cancel_a_run(viewer, client, activation):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()

    response = viewer.post(f"{API}/runs/{run['id']}/cancel/")

    assert response.status_code == 403
    assert client.get(f"{API}/runs/{run['id']}/").json()["status"] == "queued"


def test_a_viewer_may_preview(viewer, activation):
    assert viewer.post(f"{API}/activations/{activation['id']}/preview/").status_code == 200


def test_an_editor_creates_changes_and_runs(editor, everyone, connection):
    created = editor.post(
        f"{API}/activations/", minimal_activation(everyone, connection), format="json"
    )
    changed = editor.patch(
        f"{API}/activations/{created.json()['id']}/", {"name": "Renamed"}, format="json"
    )
    run = editor.post(f"{API}/activations/{created.json()['id']}/runs/")

    assert (created.status_code, changed.status_code, run.status_code) == (201, 200, 202)


def test_another_workspaces_objects_are_404(
    stranger, client, parent, everyone, connection, activation
):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()
    attempts = [
        stranger.get(f"{API}/parent-segments/{parent['id']}/"),
        upload(stranger, parent["id"], CUSTOMERS_CSV),
        stranger.get(f"{API}/segments/{everyone['id']}/"),
        stranger.patch(f"{API}/segments/{everyone['id']}/", {"name": "X"}, format="json"),
        stranger.get(f"{API}/connections/{connection['id']}/"),
        stranger.post(f"{API}/connections/{connection['id']}/test/"),
        stranger.delete(f"{API}/connections/{connection['id']}/"),
        stranger.get(f"{API}/activations/{activation['id']}/"),
        stranger.post(f"{API}/activations/{activation['id']}/preview/"),
        stranger.post(f"{API}/activations/{activation['id']}/validate/"),
        stranger.post(f"{API}/activations/{activation['id']}/runs/"),
        stranger.delete(f"{API}/activations/{activation['id']}/"),
        stranger.get(f"{API}/runs/{run['id']}/"),
        stranger.get(f"{API}/runs/{run['id']}/failed-rows/"),
        stranger.post(f"{API}/runs/{run['id']}/cancel/"),
    ]

    assert [response.status_code for response in attempts] == [404] * len(attempts)
    for resource in ("parent-segments", "segments", "connections", "activations", "runs"):
        assert stranger.get(f"{API}/{resource}/").json()["count"] == 0


def test_another_workspaces_segment_cannot_be_referenced(stranger, everyone, connection):
    own = stranger.post(
        f"{API}/connections/", {"name": "Mine", "username": "u", "password": "p"}, format="json"
    ).json()

    response = stranger.post(
        f"{API}/activations/", minimal_activation(everyone, own), format="json"
    )

    assert response.status_code == 400
    assert "segment" in response.json()
