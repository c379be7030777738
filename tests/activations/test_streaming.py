"""A run's rows straight from the database (activations.streaming): the same bytes as the
Python path (`mapping.render_rows` → `csvio.encode_row`), uploaded as they are read.

The transactional tests commit their rows, so that on PostgreSQL `streaming.lines` reads them
with `COPY (SELECT …) TO STDOUT` on a connection of its own, as a worker would.
"""

import datetime

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from activations import mapping, runner, services, streaming
from activations.models import Activation, Run
from common import csvio
from connectors.base import EncodedRows
from segments.models import Profile
from tests.activations.test_resume import WorkerKilled, kill_on
from tests.connectors.recording import RecordingSink, speed_up
from tests.factories import (
    concat,
    make_activation,
    make_connection,
    make_parent_segment,
    make_segment,
    make_workspace,
    output_mapping,
)

MAPPING = output_mapping(
    ("customer_id", "Customer_Key__c"),
    ("first_name", "FirstName"),
    ("last_name", "LastName"),
    ("email", "Email"),
    export_all_columns=False,
    strings=[
        concat(
            "Description",
            "Segment ",
            {"type": "segment_name"},
            ", exported ",
            {"type": "timestamp", "format": "%Y-%m-%d %H:%M:%S %z"},
        )
    ],
)


def attributes(number: int) -> dict:
    return {
        "customer_id": f"C{number:04d}",
        # Quotes, commas, line breaks and nulls, each written as the csv module writes them.
        "first_name": [None, "", 'Ann "Jo"', "Line\nbreak", "Bo,b"][number % 5],
        "last_name": f"Last{number}",
        "email": f"customer{number}@example.com",
        "country": "JP" if number % 3 else "US",
        "age": 20 + number,
    }


def make_streamed_activation(emulator, *, rows: int, **fields) -> Activation:
    workspace = make_workspace()
    parent = make_parent_segment(workspace=workspace)
    Profile.objects.bulk_create(
        Profile(parent_segment=parent, key=f"C{number:04d}", attributes=attributes(number))
        for number in range(1, rows + 1)
    )
    segment = make_segment(
        parent=parent,
        name="Japan",
        rules={
            "type": "and",
            "conditions": [{"column": "country", "operator": "eq", "value": "JP"}],
        },
    )
    connection_ = make_connection(workspace=workspace, login_url=emulator.url)
    fields.setdefault("mode", Activation.Mode.UPDATE)
    fields.setdefault("upsert", True)
    fields.setdefault("key", "Customer_Key__c")
    fields.setdefault("batch_size", 4)
    fields.setdefault("retry_initial_delay", 0)
    fields.setdefault("output_mapping", MAPPING)
    fields.setdefault("timezone", "Asia/Tokyo")
    return make_activation(segment=segment, connection=connection_, **fields)


def python_path(activation: Activation, timestamp: datetime.datetime) -> list[bytes]:
    """The rows as the Python path renders and encodes them: the reference."""
    parent = activation.segment.parent_segment
    rows = [
        profile.attributes
        for profile in Profile.objects.filter(parent_segment=parent).order_by("key")
        if profile.attributes["country"] == "JP"
    ]
    segment = activation.segment
    context = mapping.RenderContext(
        segment_id=segment.pk,
        segment_name=segment.name,
        audience_id=parent.pk,
        timestamp=timestamp,
        timezone=activation.timezone,
    )
    rendered = mapping.render_rows(
        activation.output_mapping,
        columns=parent.columns,
        rows=rows,
        context=context,
        null_value=activation.null_value,
    )
    return [csvio.encode_row(row) for row in rendered]


@pytest.mark.django_db(transaction=True)
def test_a_run_uploads_the_bytes_of_the_python_path(salesforce_emulator):
    # Serial: the jobs are created in the order of their rows.
    activation = make_streamed_activation(
        salesforce_emulator, rows=15, null_value="clear", concurrency_mode="serial"
    )
    run = Run.objects.create(activation=activation, trigger=Run.Trigger.MANUAL)

    finished = runner.execute_run(run.pk)

    assert finished.status == Run.Status.SUCCEEDED, finished.error
    timestamp = datetime.datetime.fromisoformat(finished.progress["timestamp"])
    expected = python_path(activation, timestamp)
    assert (finished.rows_read, finished.rows_succeeded) == (len(expected), 10)
    header = csvio.encode_row(runner.output_columns(activation))
    uploads = [job.upload for job in salesforce_emulator.jobs]
    # Split at row boundaries by the batch size: 4 + 4 + 2 rows, each with the header.
    assert [upload.count(b"\nC0") + upload.startswith(b"C0") for upload in uploads] == [4, 4, 2]
    assert all(upload.startswith(header) for upload in uploads)
    assert b"".join(upload[len(header) :] for upload in uploads) == b"".join(expected)
    assert b',"Line\nbreak",' in b"".join(uploads)
    assert b",#N/A," in b"".join(uploads)


@pytest.mark.django_db(transaction=True)
def test_lines_are_the_python_paths_bytes_and_stop_early_when_closed(salesforce_emulator):
    activation = make_streamed_activation(salesforce_emulator, rows=30)
    timestamp = datetime.datetime(2026, 11, 25, 6, 20, 38, 250000, tzinfo=datetime.UTC)

    assert list(streaming.lines(activation, timestamp=timestamp)) == python_path(
        activation, timestamp
    )

    lines = streaming.lines(activation, timestamp=timestamp)
    first = next(lines)
    lines.close()
    assert first == python_path(activation, timestamp)[0]
    # The run's own connection is usable at once (a COPY ran on a connection of its own).
    assert Profile.objects.count() == 30


@pytest.mark.django_db
def test_the_preview_is_the_runs_select_with_a_limit(salesforce_emulator):
    activation = make_streamed_activation(salesforce_emulator, rows=12)

    columns, rows = services.preview(activation, limit=3)

    assert columns == ["Customer_Key__c", "FirstName", "LastName", "Email", "Description"]
    assert [row[0] for row in rows] == ["C0001", "C0002", "C0004"]
    assert [row[1] for row in rows[1:]] == ['Ann "Jo"', "Bo,b"]
    assert rows[0][1] == ""  # null, left unchanged
    description = rows[0][4]
    assert description.startswith("Segment Japan, exported ")
    # A timestamp part without a zone of its own shows in the schedule's (Asia/Tokyo), as the
    # Python path shows it.
    assert description.endswith("+0900")


@pytest.mark.django_db
def test_within_last_days_counts_days_in_the_activations_time_zone(salesforce_emulator):
    activation = make_streamed_activation(salesforce_emulator, rows=3)
    parent = activation.segment.parent_segment
    parent.columns = [*parent.columns, {"name": "seen", "type": "timestamp"}]
    parent.save()
    # 2024-05-01T20:00Z is already May 2nd in Tokyo.
    Profile.objects.filter(key="C0001").update(attributes={"seen": "2024-05-01T20:00:00Z"})
    Profile.objects.filter(key="C0002").update(attributes={"seen": "2024-05-01T10:00:00Z"})
    activation.segment.rules = {
        "type": "and",
        "conditions": [{"column": "seen", "operator": "after", "value": "2024-05-01"}],
    }
    activation.segment.save()
    activation.output_mapping = {"columns": [{"source": "seen", "output": "Seen__c"}]}
    timestamp = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

    tokyo = list(streaming.cells(activation, timestamp=timestamp))
    activation.timezone = "UTC"
    utc = list(streaming.cells(activation, timestamp=timestamp))

    assert tokyo == [("2024-05-01T20:00:00Z",)]
    assert utc == []


@pytest.mark.django_db(transaction=True)
def test_the_salesforce_connector_uploads_encoded_lines_as_they_are(salesforce_emulator):
    activation = make_streamed_activation(salesforce_emulator, rows=15, concurrency_mode="serial")
    timestamp = datetime.datetime(2026, 11, 25, 6, 20, 38, tzinfo=datetime.UTC)
    columns = runner.output_columns(activation)
    sink = RecordingSink()

    result = activation.connection.connector.write(
        runner.export_params(activation),
        columns,
        EncodedRows(streaming.lines(activation, timestamp=timestamp)),
        sink,
    )

    expected = python_path(activation, timestamp)
    assert (result.rows_sent, result.rows_succeeded, result.rows_failed) == (10, 10, 0)
    header = csvio.encode_row(columns)
    uploads = [job.upload for job in salesforce_emulator.jobs]
    assert len(uploads) == 3  # 4 + 4 + 2 rows
    assert b"".join(upload.removeprefix(header) for upload in uploads) == b"".join(expected)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("mode", "keys"),
    [
        # Update mode: the update key's cell; append mode: the parent's key column (the
        # mapping renames it here, so it is not the rows' first cell by chance).
        (Activation.Mode.UPDATE, ["C0001", "C0002", "C0004", "C0005"]),
        (Activation.Mode.APPEND, ["C0001", "C0002", "C0004", "C0005"]),
    ],
)
def test_rows_with_their_key_are_the_same_rows_and_the_runs_key(salesforce_emulator, mode, keys):
    mapping_without_key = {
        "export_all_columns": False,
        "columns": [{"source": "first_name", "output": "FirstName"}],
    }
    fields = {"mode": mode}
    if mode == Activation.Mode.UPDATE:
        fields.update(key="Customer_Key__c", output_mapping=MAPPING)
    else:
        fields.update(key="", upsert=False, output_mapping=mapping_without_key)
    activation = make_streamed_activation(salesforce_emulator, rows=5, **fields)
    timestamp = datetime.datetime(2026, 11, 25, 6, 20, 38, tzinfo=datetime.UTC)
    plain = list(streaming.lines(activation, timestamp=timestamp))

    keyed = list(streaming.lines(activation, timestamp=timestamp, with_key=True))
    cells = list(streaming.cells(activation, timestamp=timestamp, with_key=True))

    assert [csvio.split_last(line) for line in keyed] == list(zip(plain, keys, strict=True))
    assert [row[-1] for row in cells] == keys
    assert [csvio.encode_row(row[:-1]) for row in cells] == plain
    if mode == Activation.Mode.APPEND:
        # One output column, and its first row is a null: still a row of its own ("").
        assert plain[0] == b'""\n'


@override_settings(RUN_STALE_AFTER_SECONDS=600)
@pytest.mark.django_db
def test_a_run_resumed_from_its_snapshot_uploads_the_same_bytes(
    salesforce_emulator, monkeypatch, django_capture_on_commit_callbacks
):
    # Quotes, commas and line breaks in the stored chunks survive a resume; the worker dies
    # once the snapshot is stored, and the rows change before another worker resumes.
    speed_up(monkeypatch)
    activation = make_streamed_activation(
        salesforce_emulator, rows=15, null_value="clear", concurrency_mode="serial"
    )
    restore = kill_on(monkeypatch, "activations.steps.take_snapshot", call=1, after=True)
    run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)
    with pytest.raises(WorkerKilled):
        runner.execute_run(run.pk)
    restore()
    run.refresh_from_db()
    timestamp = datetime.datetime.fromisoformat(run.progress["timestamp"])
    expected = python_path(activation, timestamp)
    Profile.objects.filter(key="C0002").update(attributes=attributes(3))

    with (
        time_machine.travel(timezone.now() + datetime.timedelta(seconds=601)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert runner.mark_stale_runs() == 0

    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED, (run.error, run.log)
    header = csvio.encode_row(runner.output_columns(activation))
    uploads = [job.upload.removeprefix(header) for job in salesforce_emulator.jobs]
    assert b"".join(uploads) == b"".join(expected)
    assert b',"Line\nbreak",' in b"".join(uploads)
