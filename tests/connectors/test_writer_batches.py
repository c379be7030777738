"""Splitting a write into jobs by row count and by bytes, in parallel or one job at a time."""

import re

import pytest

from tests.connectors.recording import RecordingSink, export
from tests.factories import make_connection, make_workspace

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast")]

CREATE_JOB = re.compile(r"/services/data/v[\d.]+/jobs/ingest/?$")
RESULTS = re.compile(r"/jobs/ingest/(\w+)/successfulResults/?$")


@pytest.fixture
def connector(salesforce_emulator):
    connection = make_connection(workspace=make_workspace(), login_url=salesforce_emulator.url)
    return connection.connector


def uploads(emulator) -> list[bytes]:
    """The CSV each ingest job received, in job creation order."""
    return [job.upload for job in emulator.org.ingest_jobs.values()]


def job_events(emulator) -> list[str]:
    """Each ingest job creation ("create") and results read ("results"), in the order the
    emulator saw them."""
    return [
        "create" if CREATE_JOB.search(path) else "results"
        for method, path in emulator.org.requests_log
        if (method == "POST" and CREATE_JOB.search(path)) or RESULTS.search(path)
    ]


def test_splits_into_jobs_of_batch_size_rows(salesforce_emulator, connector):
    rows = [[f"Name {i:02}"] for i in range(25)]

    result = connector.write(export(batch_size=10), ["LastName"], rows, RecordingSink())

    # parallel workers create the jobs, so in any order
    assert sorted(data.count(b"\n") - 1 for data in uploads(salesforce_emulator)) == [5, 10, 10]
    assert len(result.job_ids) == 3
    assert sorted(r["LastName"] for r in salesforce_emulator.records("Contact")) == [
        f"Name {i:02}" for i in range(25)
    ]
    assert (result.rows_sent, result.rows_succeeded) == (25, 25)


def test_splits_by_bytes_before_the_batch_size_is_reached(
    salesforce_emulator, connector, monkeypatch
):
    monkeypatch.setattr("connectors.salesforce.writer.MAX_JOB_BYTES", 100)
    rows = [[f"Name {i:02}", "x" * 20] for i in range(10)]  # 29 bytes a line

    result = connector.write(
        export(batch_size=10_000), ["LastName", "Description"], rows, RecordingSink()
    )

    sizes = [len(data) for data in uploads(salesforce_emulator)]
    assert sizes == [len(b"LastName,Description\n") + 2 * 29] * 5
    assert all(size <= 100 for size in sizes)
    assert (result.rows_succeeded, len(result.job_ids)) == (10, 5)
    assert len(salesforce_emulator.records("Contact")) == 10


def test_serial_mode_finishes_each_job_before_starting_the_next(salesforce_emulator, connector):
    rows = [[f"Name {i}"] for i in range(9)]

    result = connector.write(
        export(batch_size=3, concurrency_mode="serial"), ["LastName"], rows, RecordingSink()
    )

    events = job_events(salesforce_emulator)
    assert events == ["create", "results"] * 3
    assert result.rows_succeeded == 9


def test_parallel_mode_keeps_several_jobs_in_flight(salesforce_emulator, connector):
    salesforce_emulator.settings.processing_delay = 0.3
    rows = [[f"Name {i}"] for i in range(9)]

    result = connector.write(
        export(batch_size=3, concurrency_mode="parallel"), ["LastName"], rows, RecordingSink()
    )

    events = job_events(salesforce_emulator)
    assert events == ["create"] * 3 + ["results"] * 3
    assert result.rows_succeeded == 9
    assert len(salesforce_emulator.records("Contact")) == 9


def test_parallel_mode_bounds_the_jobs_in_flight(salesforce_emulator, connector, monkeypatch):
    monkeypatch.setattr("connectors.salesforce.writer.MAX_PARALLEL_JOBS", 2)
    salesforce_emulator.settings.processing_delay = 0.2
    rows = [[f"Name {i}"] for i in range(8)]

    result = connector.write(export(batch_size=2), ["LastName"], rows, RecordingSink())

    in_flight = peak = 0
    for method, path in salesforce_emulator.org.requests_log:
        if method == "POST" and CREATE_JOB.search(path):
            in_flight += 1
            peak = max(peak, in_flight)
        elif RESULTS.search(path):
            in_flight -= 1
    assert peak == 2
    assert result.rows_succeeded == 8
