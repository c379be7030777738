"""A test run over the API: `test_rows` sends only the segment's first rows, trigger test."""

from activations.models import Run
from tests.factories import (
    EMAIL_MAPPING,
    make_activation,
    make_connection,
    make_parent_segment,
    make_profiles,
    make_segment,
)


def test_test_rows_queues_a_test_run_of_the_first_rows(
    workspace, owner_client, salesforce_emulator, django_capture_on_commit_callbacks
):
    parent = make_parent_segment(workspace=workspace)
    make_profiles(parent, 12)
    activation = make_activation(
        segment=make_segment(parent=parent),
        connection=make_connection(workspace=workspace, login_url=salesforce_emulator.url),
        output_mapping=EMAIL_MAPPING,
    )
    url = f"/api/v1/activations/{activation.pk}/runs/"

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url, {"test_rows": 5}, format="json")

    assert response.status_code == 202
    run = Run.objects.get(pk=response.json()["id"])
    assert (run.trigger, run.status, run.rows_read, run.rows_succeeded) == (
        "test",
        "succeeded",
        5,
        5,
    )
    assert response.json()["trigger"] == "test"
    assert len(salesforce_emulator.records("Contact")) == 5

    response = owner_client.post(url, {"test_rows": 0}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["test_rows"]
    assert Run.objects.count() == 1
