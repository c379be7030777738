"""The editor's check before save, test runs and run numbers, through the test client and the
Salesforce emulator."""

from activations.models import Run
from tests.factories import EMAIL_MAPPING, make_activation, make_connection
from tests.ui.test_activation_editor import editor_post


def emulator_connection(team, salesforce_emulator):
    return make_connection(
        workspace=team["workspace"], name="Emulated org", login_url=salesforce_emulator.url
    )


def test_check_reports_every_destination_problem_next_to_its_row(
    owner_client, team, salesforce_emulator
):
    connection = emulator_connection(team, salesforce_emulator)
    data = editor_post(
        team,
        connection=connection.pk,
        mode="append",
        object_name="Contact",
        column_source=["email", "first_name", "last_name"],
        column_output=["Email", "First_Name__c", "Last_Name__c"],
        string_key=[],
    )

    response = owner_client.post("/activations/check/", data)

    assert response.status_code == 200
    assert response.json() == {
        "problems": {
            "output_mapping.columns[1].output": ["Contact has no field First_Name__c."],
            "output_mapping.columns[2].output": ["Contact has no field Last_Name__c."],
        },
        "destination_checked": True,
    }


def test_check_puts_a_setting_problem_on_its_field_and_passes_a_good_mapping(
    owner_client, team, salesforce_emulator
):
    connection = emulator_connection(team, salesforce_emulator)
    data = editor_post(team, connection=connection.pk, object_name="Contactt", string_key=[])
    response = owner_client.post("/activations/check/", data)
    assert response.json()["problems"] == {
        "object_name": ["Salesforce has no object named Contactt."]
    }

    data = editor_post(
        team,
        connection=connection.pk,
        mode="update",
        object_name="Contact",
        key="Email",
        column_source=["email", "last_name"],
        column_output=["Email", "LastName"],
        string_key=[],
    )
    response = owner_client.post("/activations/check/", data)
    assert response.json() == {"problems": {}, "destination_checked": True}


def test_check_reports_form_errors_without_asking_salesforce(owner_client, team):
    response = owner_client.post(
        "/activations/check/", editor_post(team, name="", cron="61 * * * *")
    )
    body = response.json()
    assert body["destination_checked"] is False
    assert body["problems"]["name"] == ["This field is required."]


def test_a_login_failure_points_at_the_connection(owner_client, team, salesforce_emulator):
    connection = make_connection(
        workspace=team["workspace"],
        login_url=salesforce_emulator.url,
        password="wrong",
        retry_limit=0,
    )
    response = owner_client.post(
        "/activations/check/", editor_post(team, connection=connection.pk, string_key=[])
    )
    body = response.json()
    assert body["destination_checked"] is False
    assert list(body["problems"]) == ["connection"]
    assert "wrong" not in response.content.decode()


def test_save_and_test_run_sends_the_first_rows_as_a_numbered_test_run(
    owner_client, team, salesforce_emulator, django_capture_on_commit_callbacks
):
    connection = emulator_connection(team, salesforce_emulator)
    activation = make_activation(
        segment=team["segment"],
        connection=connection,
        name="Japan to Contacts (emulator)",
        output_mapping=EMAIL_MAPPING,
    )
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/activations/{activation.pk}/run/")
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/activations/{activation.pk}/test-run/", {"test_rows": "1"})

    first, test = Run.objects.filter(activation=activation).order_by("number")
    assert (first.number, first.trigger, first.rows_read) == (1, "manual", 2)
    assert (test.number, test.trigger, test.rows_read, test.rows_succeeded) == (2, "test", 1, 1)
    assert response["Location"] == f"/activations/{activation.pk}/runs/{test.pk}/"
    page = owner_client.get(response["Location"]).content.decode()
    assert "<h1>Run #2</h1>" in page


def test_viewers_cannot_start_a_test_run(team):
    from tests.ui.conftest import client_for

    response = client_for(team["viewer"]).post(f"/activations/{team['activation'].pk}/test-run/")
    assert response.status_code == 403
    assert not Run.objects.exists()


def test_the_data_migration_numbers_existing_runs_per_activation(team, salesforce_emulator):
    import importlib

    from django.apps import apps

    fill = importlib.import_module("activations.migrations.0006_fill_run_numbers").fill_run_numbers
    other = make_activation(segment=team["segment"], connection=team["connection"], name="Other")
    runs = [
        Run.objects.create(activation=activation, status="succeeded")
        for activation in (team["activation"], other, team["activation"], team["activation"])
    ]

    fill(apps, None)

    assert [Run.objects.get(pk=run.pk).number for run in runs] == [1, 1, 2, 3]


def test_a_login_failure_run_points_at_the_connection_and_logs_the_reason(
    owner_client, team, salesforce_emulator, django_capture_on_commit_callbacks
):
    connection = make_connection(
        workspace=team["workspace"],
        name="Wrong password",
        login_url=salesforce_emulator.url,
        password="wrong",
        retry_limit=0,
    )
    activation = make_activation(segment=team["segment"], connection=connection, name="Bad login")
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/activations/{activation.pk}/run/")
    run = Run.objects.get(activation=activation)

    assert run.status == "failed"
    assert run.log[-2]["message"] == f"Reason: {run.error}"
    assert run.log[-1]["message"].startswith("Failed:")
    page = owner_client.get(response["Location"]).content.decode()
    assert f'<a href="/connections/{connection.pk}/">Edit the connection</a>' in page
    assert "Edit the activation</a>" not in page


def test_a_test_run_of_an_incremental_activation_deletes_nothing_and_keeps_fingerprints(
    owner_client, team, salesforce_emulator, django_capture_on_commit_callbacks
):
    from activations.models import Fingerprint

    activation = make_activation(
        segment=team["segment"],
        connection=emulator_connection(team, salesforce_emulator),
        name="Incremental Japan",
        mode="update",
        upsert=True,
        key="Email",
        sync="incremental",
        on_leave="delete",
        output_mapping=EMAIL_MAPPING,
    )
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/activations/{activation.pk}/run/")
    fingerprints = sorted(
        Fingerprint.objects.filter(activation=activation).values_list("key", "fingerprint")
    )
    assert len(fingerprints) == 2

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/activations/{activation.pk}/test-run/", {"test_rows": "1"})

    test = Run.objects.get(activation=activation, trigger="test")
    assert (test.status, test.rows_read, test.rows_succeeded) == ("succeeded", 1, 1)
    assert len(salesforce_emulator.records("Contact")) == 2  # the unread row was not deleted
    assert (
        sorted(Fingerprint.objects.filter(activation=activation).values_list("key", "fingerprint"))
        == fingerprints
    )
