"""Activation services: validation by path, saving with beat rows, requesting and cancelling
runs, preview."""

import copy
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection as db_connection
from django_celery_beat.models import PeriodicTask

from activations import runner, services
from activations.models import Activation, Run
from common.validation import InvalidInput
from tests.activations.fake_connector import register_fake_connector
from tests.factories import (
    CONTACT_MAPPING,
    make_activation,
    make_connection,
    make_segment,
    make_user,
    make_workspace,
    upsert_export,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def segment(workspace):
    return make_segment(workspace=workspace, name="Japan")


def valid_payload(segment, connection) -> dict:
    return {
        "name": "Push to Contacts",
        "description": "Japanese customers to Contacts",
        "segment": segment.pk,
        "connection": connection.pk,
        "enabled": True,
        "refresh_before_run": False,
        "export": upsert_export(retry_initial_delay=2.5),
        "output_mapping": copy.deepcopy(CONTACT_MAPPING),
        "schedule": {
            "type": "daily",
            "cron": "",
            "timezone": "Asia/Tokyo",
            "delay_seconds": 90,
            "catch_up": "run_once",
        },
        "notifications": {"emails": ["ops@example.com"], "on": "always"},
    }


def errors_of(data, *, workspace, instance=None) -> dict:
    with pytest.raises(InvalidInput) as raised:
        services.validate_activation(data, workspace=workspace, instance=instance)
    return raised.value.errors


def with_changes(payload: dict, section: str | None = None, **changes) -> dict:
    payload = copy.deepcopy(payload)
    target = payload[section] if section else payload
    target.update(changes)
    return payload


# --- Creating, reading, updating, deleting ----------------------------------------------


def test_create_activation_stores_every_setting_and_its_beat_row(workspace, segment, connection):
    activation = services.create_activation(
        workspace=workspace, data=valid_payload(segment, connection)
    )

    activation.refresh_from_db()
    assert activation.workspace == workspace
    assert (activation.name, activation.description) == (
        "Push to Contacts",
        "Japanese customers to Contacts",
    )
    assert (activation.segment, activation.connection, activation.enabled) == (
        segment,
        connection,
        True,
    )
    assert (activation.mode, activation.object_name, activation.upsert, activation.key) == (
        "update",
        "Contact",
        True,
        "Customer_Key__c",
    )
    assert (activation.hard_delete, activation.concurrency_mode, activation.batch_size) == (
        False,
        "serial",
        5000,
    )
    assert (activation.api_version, activation.retry_initial_delay, activation.retry_limit) == (
        "59.0",
        2.5,
        4,
    )
    assert activation.null_value == "clear"
    assert activation.output_mapping == CONTACT_MAPPING
    assert (activation.schedule_type, activation.cron, activation.timezone) == (
        "daily",
        "",
        "Asia/Tokyo",
    )
    assert activation.delay_seconds == 90
    assert (activation.notify_emails, activation.notify_on) == (["ops@example.com"], "always")
    task = PeriodicTask.objects.get(name=f"activation:{activation.pk}")
    assert activation.periodic_task == task
    assert task.enabled is True
    assert task.task == "activations.run_scheduled_activation"


def test_create_takes_the_defaults_for_what_is_not_sent(workspace, segment, connection):
    activation = services.create_activation(
        workspace=workspace,
        data={
            "name": "Minimal",
            "segment": segment.pk,
            "connection": connection.pk,
            "export": {"object": "Audience_Member__c"},
            "output_mapping": {"export_all_columns": True, "columns": [], "strings": []},
        },
    )

    assert (activation.mode, activation.batch_size, activation.api_version) == (
        "append",
        10_000,
        "59.0",
    )
    assert (activation.schedule_type, activation.timezone, activation.notify_on) == (
        "none",
        "UTC",
        "failure",
    )
    assert activation.enabled is True
    assert activation.periodic_task is None
    assert not PeriodicTask.objects.filter(name=f"activation:{activation.pk}").exists()


@time_machine.travel(datetime(2025, 3, 10, 12, 0, tzinfo=UTC), tick=False)
def test_payload_is_the_canonical_shape_with_the_next_five_runs_in_the_time_zone(
    workspace, segment, connection
):
    sent = valid_payload(segment, connection)
    activation = services.create_activation(workspace=workspace, data=sent)

    payload = services.activation_payload(activation)

    expected = copy.deepcopy(sent)
    expected["schedule"]["next_runs"] = [
        "2025-03-11T00:00:00+09:00",
        "2025-03-12T00:00:00+09:00",
        "2025-03-13T00:00:00+09:00",
        "2025-03-14T00:00:00+09:00",
        "2025-03-15T00:00:00+09:00",
    ]
    expected["schedule"]["description"] = payload["schedule"]["description"]
    assert payload == {"id": activation.pk, "workspace": workspace.pk, **expected}
    assert payload["schedule"]["description"]


def test_a_payload_sent_back_unchanged_is_accepted_and_changes_nothing(
    workspace, segment, connection
):
    activation = services.create_activation(
        workspace=workspace, data=valid_payload(segment, connection)
    )
    before = services.activation_payload(activation)

    services.update_activation(activation, data=services.activation_payload(activation))

    activation.refresh_from_db()
    assert services.activation_payload(activation) == before


def test_update_keeps_what_is_not_sent(workspace, segment, connection):
    activation = services.create_activation(
        workspace=workspace, data=valid_payload(segment, connection)
    )

    services.update_activation(
        activation, data={"export": {"batch_size": 2000}, "schedule": {"type": "hourly"}}
    )

    activation.refresh_from_db()
    assert (activation.batch_size, activation.key, activation.upsert) == (
        2000,
        "Customer_Key__c",
        True,
    )
    assert (activation.schedule_type, activation.timezone, activation.delay_seconds) == (
        "hourly",
        "Asia/Tokyo",
        90,
    )
    assert activation.periodic_task.crontab.minute == "0"
    assert activation.periodic_task.crontab.hour == "*"


def test_switching_to_append_mode_drops_the_stored_update_key(workspace, segment, connection):
    activation = services.create_activation(
        workspace=workspace, data=valid_payload(segment, connection)
    )

    services.update_activation(activation, data={"export": {"mode": "append"}})

    activation.refresh_from_db()
    assert (activation.mode, activation.key, activation.upsert) == ("append", "", False)


def test_a_refused_update_changes_nothing(workspace, segment, connection):
    activation = services.create_activation(
        workspace=workspace, data=valid_payload(segment, connection)
    )
    before = services.activation_payload(activation)

    with pytest.raises(InvalidInput):
        services.update_activation(
            activation, data={"name": "Renamed", "schedule": {"type": "cron", "cron": "61 * * * *"}}
        )

    activation.refresh_from_db()
    assert services.activation_payload(activation) == before
    assert activation.periodic_task.crontab.hour == "0"


def test_disabling_turns_the_beat_row_off_and_deleting_removes_it(workspace, segment, connection):
    activation = services.create_activation(
        workspace=workspace, data=valid_payload(segment, connection)
    )
    task_id = activation.periodic_task_id

    services.set_enabled(activation, False)
    assert PeriodicTask.objects.get(pk=task_id).enabled is False
    assert services.activation_payload(activation)["schedule"]["next_runs"] == []

    services.delete_activation(activation)
    assert not PeriodicTask.objects.filter(pk=task_id).exists()
    assert not Activation.objects.filter(name="Push to Contacts").exists()


def test_enabling_again_forgets_an_automatic_disable(workspace, segment, connection):
    activation = services.create_activation(
        workspace=workspace, data=valid_payload(segment, connection)
    )
    Activation.objects.filter(pk=activation.pk).update(
        enabled=False, consecutive_failures=3, disabled_reason="Disabled automatically"
    )
    activation.refresh_from_db()

    services.set_enabled(activation, True)

    activation.refresh_from_db()
    assert (activation.enabled, activation.consecutive_failures, activation.disabled_reason) == (
        True,
        0,
        "",
    )
    assert activation.periodic_task.enabled is True


# --- Validation -------------------------------------------------------------------------


def test_an_empty_payload_names_every_required_field(workspace):
    assert errors_of({}, workspace=workspace) == {
        "name": ["This field is required."],
        "segment": ["This field is required."],
        "connection": ["This field is required."],
        "export.object": ["This field is required."],
    }


def test_segment_and_connection_must_belong_to_the_workspace(workspace, segment, connection):
    other = make_workspace("Other team")
    foreign_segment = make_segment(workspace=other)
    foreign_connection = make_connection(workspace=other)
    data = with_changes(
        valid_payload(segment, connection),
        segment=foreign_segment.pk,
        connection=foreign_connection.pk,
    )

    assert errors_of(data, workspace=workspace) == {
        "segment": [f"There is no segment {foreign_segment.pk} in this workspace."],
        "connection": [f"There is no connection {foreign_connection.pk} in this workspace."],
    }


def test_connection_must_be_a_salesforce_connection(workspace, segment):
    other_kind = make_connection(workspace=workspace, kind="fake")
    data = valid_payload(segment, other_kind)

    assert errors_of(data, workspace=workspace) == {
        "connection": ["Choose a Salesforce connection."]
    }


@pytest.mark.parametrize(
    ("export", "expected"),
    [
        (
            {"mode": "update", "key": "", "upsert": False},
            {"export.key": ["Update mode needs a key field to match records by."]},
        ),
        (
            {"mode": "update", "key": "", "upsert": True},
            {"export.key": ["Update mode needs a key field to match records by."]},
        ),
        (
            {"mode": "append", "key": "Customer_Key__c", "upsert": False},
            {"export.key": ["A key is used only in update mode."]},
        ),
        (
            {"mode": "truncate", "key": "", "upsert": True},
            {"export.upsert": ["Upsert is available only in update mode."]},
        ),
        (
            {"mode": "append", "key": "", "upsert": False, "hard_delete": True},
            {"export.hard_delete": ["Hard delete is available only in truncate mode."]},
        ),
        (
            {"mode": "replace"},
            {"export.mode": ["Must be one of: append, update, truncate."]},
        ),
        (
            {"object": "Contact Object"},
            {
                "export.object": [
                    "'Contact Object' is not a Salesforce object API name (letters, digits "
                    "and underscores, starting with a letter; custom ones end in __c)."
                ]
            },
        ),
        (
            {"object": "Audience___Member__c"},
            {
                "export.object": [
                    "'Audience___Member__c' is not a Salesforce object API name (letters, "
                    "digits and underscores, starting with a letter; custom ones end in __c)."
                ]
            },
        ),
        (
            {"concurrency_mode": "bulk"},
            {"export.concurrency_mode": ["Must be one of: parallel, serial."]},
        ),
        ({"batch_size": 0}, {"export.batch_size": ["Must be between 1 and 100,000."]}),
        ({"batch_size": 100_001}, {"export.batch_size": ["Must be between 1 and 100,000."]}),
        ({"batch_size": "500"}, {"export.batch_size": ["Expected a whole number."]}),
        ({"batch_size": 10.5}, {"export.batch_size": ["Expected a whole number."]}),
        (
            {"api_version": "40.0"},
            {"export.api_version": ["Bulk API 2.0 needs API version 41.0 or later."]},
        ),
        # 59, "59" and "v59.0" are read as 59.0; these are not versions at all.
        (
            {"api_version": "v59.0.1"},
            {"export.api_version": ["Enter an API version such as 59.0."]},
        ),
        ({"api_version": True}, {"export.api_version": ["Enter an API version such as 59.0."]}),
        (
            {"retry_initial_delay": 301},
            {"export.retry_initial_delay": ["Must be between 0 and 300."]},
        ),
        ({"retry_initial_delay": True}, {"export.retry_initial_delay": ["Expected a number."]}),
        ({"retry_limit": 11}, {"export.retry_limit": ["Must be between 0 and 10."]}),
        ({"null_value": "null"}, {"export.null_value": ["Must be one of: leave, clear."]}),
        ({"sobject": "Contact"}, {"export.sobject": ["Unknown field."]}),
    ],
)
def test_export_settings_are_checked_by_mode_and_range(
    workspace, segment, connection, export, expected
):
    data = with_changes(valid_payload(segment, connection), "export", **export)

    assert errors_of(data, workspace=workspace) == expected


@pytest.mark.parametrize(
    "export",
    [
        {"mode": "append", "key": "", "upsert": False},
        {"mode": "update", "key": "Customer_Key__c", "upsert": False},
        {"mode": "truncate", "key": "", "upsert": False, "hard_delete": True},
        {"object": "ns__Audience_Member__c", "api_version": "41.0", "batch_size": 100_000},
        {"retry_initial_delay": 0, "retry_limit": 0, "batch_size": 1},
    ],
)
def test_valid_export_settings_pass(workspace, segment, connection, export):
    data = with_changes(valid_payload(segment, connection), "export", **export)

    values = services.validate_activation(data, workspace=workspace)

    assert values["mode"] == data["export"]["mode"]
    assert values["object_name"] == data["export"]["object"]


def test_update_key_must_be_one_of_the_output_columns(workspace, segment, connection):
    data = with_changes(valid_payload(segment, connection), "export", key="Email__c")

    assert errors_of(data, workspace=workspace) == {
        "export.key": [
            "The key Email__c must be one of the output columns (Customer_Key__c, LastName, Email)."
        ]
    }


def test_mapping_errors_carry_the_output_mapping_prefix(workspace, segment, connection):
    data = valid_payload(segment, connection)
    data["output_mapping"]["columns"][2]["source"] = "no_such_column"
    data["export"]["mode"] = "append"
    data["export"]["key"] = ""
    data["export"]["upsert"] = False

    errors = errors_of(data, workspace=workspace)

    assert list(errors) == ["output_mapping.columns[2].source"]


@pytest.mark.parametrize(
    ("schedule", "expected_paths"),
    [
        ({"type": "cron", "cron": "0 0 * *"}, ["schedule.cron"]),
        # A cron field's error is on schedule.cron, its message naming the field.
        ({"type": "cron", "cron": "61 * * * *"}, ["schedule.cron"]),
        ({"type": "weekly"}, ["schedule.type"]),
        ({"timezone": "Mars/Olympus"}, ["schedule.timezone"]),
        ({"timezone": None}, ["schedule.timezone"]),
        ({"delay_seconds": -1}, ["schedule.delay_seconds"]),
        ({"delay_seconds": 86_401}, ["schedule.delay_seconds"]),
        ({"every": "day"}, ["schedule.every"]),
    ],
)
def test_schedule_errors_name_the_field(workspace, segment, connection, schedule, expected_paths):
    data = with_changes(valid_payload(segment, connection), "schedule", **schedule)

    assert sorted(errors_of(data, workspace=workspace)) == expected_paths


def test_cron_text_of_another_schedule_type_is_not_kept(workspace, segment, connection):
    data = with_changes(valid_payload(segment, connection), "schedule", cron="*/5 * * * *")

    values = services.validate_activation(data, workspace=workspace)

    assert (values["schedule_type"], values["cron"]) == ("daily", "")


def test_notification_settings_are_checked(workspace, segment, connection):
    data = with_changes(
        valid_payload(segment, connection),
        "notifications",
        emails=["ops@example.com", "not an address", 42],
        on="sometimes",
    )

    assert errors_of(data, workspace=workspace) == {
        "notifications.emails[1]": ["'not an address' is not a valid e-mail address."],
        "notifications.emails[2]": ["Expected an e-mail address."],
        "notifications.on": ["Must be one of: failure, success, always."],
    }


def test_duplicate_notification_addresses_are_kept_once(workspace, segment, connection):
    data = with_changes(
        valid_payload(segment, connection),
        "notifications",
        emails=["ops@example.com", " ops@example.com", "cto@example.com"],
    )

    values = services.validate_activation(data, workspace=workspace)

    assert values["notify_emails"] == ["ops@example.com", "cto@example.com"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": 5}, {"name": ["Expected a string."]}),
        ({"name": "   "}, {"name": ["This field is required."]}),
        ({"name": "x" * 201}, {"name": ["Use at most 200 characters."]}),
        ({"enabled": "yes"}, {"enabled": ["Expected true or false."]}),
        ({"segment": True}, {"segment": ["Expected the id of a segment."]}),
        ({"segment": [1]}, {"segment": ["Expected the id of a segment."]}),
        ({"export": ["Contact"]}, {"export": ["Expected an object."]}),
        ({"schedule": "daily"}, {"schedule": ["Expected an object."]}),
        ({"notifications": None}, {"notifications": ["Expected an object."]}),
        ({"output_mapping": "all"}, {"output_mapping": ["Expected an object."]}),
        ({"colour": "blue"}, {"colour": ["Unknown field."]}),
    ],
)
def test_malformed_values_are_errors_not_crashes(workspace, segment, connection, changes, expected):
    data = with_changes(valid_payload(segment, connection), **changes)

    assert errors_of(data, workspace=workspace) == expected


def test_a_payload_that_is_not_an_object_is_an_error(workspace):
    assert errors_of(["name"], workspace=workspace) == {"": ["Expected an object."]}


# --- Runs -------------------------------------------------------------------------------


@pytest.fixture
def fake_activation(workspace, monkeypatch):
    register_fake_connector(monkeypatch)
    connection = make_connection(workspace=workspace, kind="fake")
    return make_activation(
        connection=connection, workspace=workspace, output_mapping=CONTACT_MAPPING
    )


def test_request_run_queues_a_run_and_publishes_its_task_after_commit(
    fake_activation, django_capture_on_commit_callbacks
):
    user = make_user("mina", workspace=fake_activation.workspace)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = services.request_run(activation=fake_activation, trigger=Run.Trigger.API, user=user)

    assert (run.status, run.trigger, run.requested_by) == (Run.Status.QUEUED, "api", user)
    assert run.log[0]["message"] == "Queued by mina (api run)."
    assert len(callbacks) == 1
    callbacks[0]()  # Celery is eager in tests: publishing executes the run.
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED


def test_a_second_manual_request_while_a_run_is_active_is_refused(fake_activation):
    first = services.request_run(activation=fake_activation, trigger=Run.Trigger.MANUAL)

    with pytest.raises(services.RunConflict) as raised:
        services.request_run(activation=fake_activation, trigger=Run.Trigger.API)

    assert raised.value.message == (
        f"Activation Push to Contacts already has a run in progress (run {first.pk})."
    )
    assert raised.value.run == first
    assert list(fake_activation.runs.all()) == [first]


def test_a_scheduled_request_while_a_run_is_active_is_skipped(fake_activation):
    first = services.request_run(activation=fake_activation, trigger=Run.Trigger.MANUAL)
    Run.objects.filter(pk=first.pk).update(status=Run.Status.RUNNING)

    skipped = services.request_run(
        activation=fake_activation,
        trigger=Run.Trigger.SCHEDULE,
        scheduled_for=datetime(2025, 3, 10, 0, 0, tzinfo=UTC),
    )

    # The slot is recorded as a skipped run, with its reason; nothing new is queued.
    assert skipped.status == Run.Status.SKIPPED
    assert skipped.trigger == Run.Trigger.SCHEDULE
    assert skipped.scheduled_for == datetime(2025, 3, 10, 0, 0, tzinfo=UTC)
    assert skipped.error == (f"Skipped: run {first.pk} was still running when this slot was due.")
    assert skipped.finished_at is not None
    assert set(fake_activation.runs.all()) == {first, skipped}
    assert fake_activation.runs.filter(status__in=Run.ACTIVE_STATUSES).get() == first
    # A second firing of the same slot adds nothing.
    again = services.request_run(
        activation=fake_activation,
        trigger=Run.Trigger.SCHEDULE,
        scheduled_for=datetime(2025, 3, 10, 0, 0, tzinfo=UTC),
    )
    assert again is None
    assert fake_activation.runs.count() == 2


def test_the_same_idempotency_key_returns_the_same_run(fake_activation):
    first = services.request_run(
        activation=fake_activation, trigger=Run.Trigger.API, idempotency_key="deploy-42"
    )
    Run.objects.filter(pk=first.pk).update(status=Run.Status.SUCCEEDED)

    again = services.request_run(
        activation=fake_activation, trigger=Run.Trigger.API, idempotency_key="deploy-42"
    )

    assert again == first
    assert fake_activation.runs.count() == 1


def test_the_same_schedule_slot_runs_once(fake_activation):
    slot = datetime(2025, 3, 10, 0, 0, tzinfo=UTC)
    first = services.request_run(
        activation=fake_activation, trigger=Run.Trigger.SCHEDULE, scheduled_for=slot
    )
    Run.objects.filter(pk=first.pk).update(status=Run.Status.SUCCEEDED)

    again = services.request_run(
        activation=fake_activation, trigger=Run.Trigger.SCHEDULE, scheduled_for=slot
    )

    assert again is None
    assert list(fake_activation.runs.all()) == [first]


def test_cancelling_a_queued_run_cancels_it_at_once(fake_activation):
    run = services.request_run(activation=fake_activation, trigger=Run.Trigger.MANUAL)
    user = make_user("mina", workspace=fake_activation.workspace)

    services.cancel_run(run, user=user)

    assert run.status == Run.Status.CANCELLED
    assert run.error == "Cancelled by mina before it started."
    assert run.finished_at is not None
    # A cancelled run is not active: the activation can run again.
    assert services.request_run(activation=fake_activation, trigger=Run.Trigger.MANUAL)
    # A delivery of the cancelled run's message does nothing.
    assert runner.execute_run(run.pk) is None


def test_cancelling_a_finished_run_changes_nothing(fake_activation):
    run = services.request_run(activation=fake_activation, trigger=Run.Trigger.MANUAL)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.SUCCEEDED)

    services.cancel_run(run)

    assert run.status == Run.Status.SUCCEEDED
    assert run.progress.get("cancel") is None


def test_preview_gives_the_first_rows_as_a_run_would_send_them(fake_activation):
    from segments.models import Profile

    parent = fake_activation.segment.parent_segment
    for number in (1, 2, 3):
        Profile.objects.create(
            parent_segment=parent,
            key=f"C{number}",
            attributes={"customer_id": f"C{number}", "last_name": None, "email": f"c{number}@x.jp"},
        )
    Activation.objects.filter(pk=fake_activation.pk).update(null_value="clear")
    fake_activation.refresh_from_db()

    columns, rows = services.preview(fake_activation, limit=2)

    assert columns == ["Customer_Key__c", "LastName", "Email"]
    assert rows == [["C1", "#N/A", "c1@x.jp"], ["C2", "#N/A", "c2@x.jp"]]


# --- Races (PostgreSQL: row locks; SQLite serialises every writer anyway) ----------------

requires_postgres = pytest.mark.skipif(
    db_connection.vendor != "postgresql",
    reason="concurrent writers need PostgreSQL; SQLite's IMMEDIATE transactions serialise them",
)


def at_once(count: int, request) -> list[str]:
    """Call `request` from `count` threads released together; their outcomes."""
    barrier = threading.Barrier(count)

    def attempt(_):
        barrier.wait()
        try:
            run = request()
            return "queued" if run is not None else "skipped"
        except services.RunConflict:
            return "refused"
        finally:
            db_connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return sorted(pool.map(attempt, range(count)))


def plain_activation() -> Activation:
    return make_activation()


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("trigger", [Run.Trigger.MANUAL, Run.Trigger.API])
def test_concurrent_run_requests_queue_exactly_one_run(trigger):
    activation = plain_activation()

    outcomes = at_once(
        8,
        lambda: services.request_run(activation=activation, trigger=trigger, publish=False),
    )

    assert outcomes == ["queued"] + ["refused"] * 7
    assert Run.objects.filter(activation=activation).count() == 1


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_firings_of_one_slot_queue_exactly_one_run():
    activation = plain_activation()
    slot = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)

    outcomes = at_once(
        8,
        lambda: services.request_run(
            activation=activation,
            trigger=Run.Trigger.SCHEDULE,
            scheduled_for=slot,
            publish=False,
        ),
    )

    assert outcomes == ["queued"] + ["skipped"] * 7
    assert Run.objects.filter(activation=activation, scheduled_for=slot).count() == 1
