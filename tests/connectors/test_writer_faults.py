"""Injected faults: what is retried, what fails clearly, and that every row is accounted for."""

import re

import pytest

from connectors.base import ConnectorError
from tests.connectors.recording import RecordingSink, export, speed_up
from tests.factories import make_connection, make_workspace

pytestmark = pytest.mark.django_db

INGEST = r"/jobs/ingest/?$"
JOB = r"/jobs/ingest/\w{18}/?$"
UPLOAD = r"/jobs/ingest/\w{18}/batches/?$"
ROWS = [["Lovelace"], ["Turing"], ["Hopper"]]


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    speed_up(monkeypatch)
    monkeypatch.setattr("connectors.salesforce.http.READ_TIMEOUT", 0.5)


@pytest.fixture
def connection(salesforce_emulator):
    return make_connection(
        workspace=make_workspace(), login_url=salesforce_emulator.url, retry_initial_delay=0.01
    )


def last_names(emulator) -> list[str]:
    return sorted(record["LastName"] for record in emulator.records("Contact"))


def calls(emulator, method: str, pattern: str) -> int:
    return sum(
        1 for m, path in emulator.org.requests_log if m == method and re.search(pattern, path)
    )


def test_retries_5xx_answers_and_then_succeeds(salesforce_emulator, connection):
    salesforce_emulator.inject("http_error", status=503, times=2, method="POST", path=INGEST)

    result = connection.connector.write(export(), ["LastName"], ROWS, RecordingSink())

    assert calls(salesforce_emulator, "POST", INGEST) == 3
    assert (result.rows_succeeded, result.rows_failed) == (3, 0)
    assert last_names(salesforce_emulator) == ["Hopper", "Lovelace", "Turing"]


def test_gives_up_after_the_retry_limit_with_a_clear_retryable_error(
    salesforce_emulator, connection
):
    salesforce_emulator.inject("http_error", status=503, times=None, method="POST", path=INGEST)
    sink = RecordingSink()

    with pytest.raises(ConnectorError) as raised:
        connection.connector.write(export(retry_limit=3), ["LastName"], ROWS, sink)

    message = (
        f"Salesforce ({salesforce_emulator.host}) did not answer after 4 attempts: "
        "503 Service Unavailable (SERVER_UNAVAILABLE: Server temporarily unavailable)"
    )
    assert raised.value.message == message
    assert raised.value.retryable is True
    assert calls(salesforce_emulator, "POST", INGEST) == 4
    assert sink.succeeded == 0
    assert sink.failures() == sorted((row, f"Not sent: {message}") for row in ROWS)
    assert salesforce_emulator.records("Contact") == []


def test_retries_a_concurrency_limit(salesforce_emulator, connection):
    salesforce_emulator.inject(
        "request_limit", times=2, method="GET", path=JOB, limit="ConcurrentPerOrgLongTxn"
    )

    result = connection.connector.write(export(), ["LastName"], ROWS, RecordingSink())

    assert result.rows_succeeded == 3
    assert last_names(salesforce_emulator) == ["Hopper", "Lovelace", "Turing"]


def test_the_daily_request_limit_is_not_retried_and_ends_the_write(salesforce_emulator, connection):
    salesforce_emulator.inject("request_limit", times=None, method="POST", path=INGEST)
    sink = RecordingSink()

    with pytest.raises(ConnectorError) as raised:
        connection.connector.write(export(retry_limit=3), ["LastName"], ROWS, sink)

    assert raised.value.message.startswith(
        "Salesforce refused the call: the org has used up its daily API requests "
        "(DailyApiRequests; REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.). They free "
        "up as the calls of the last 24 hours age out"
    )
    assert calls(salesforce_emulator, "POST", INGEST) == 1  # not retried
    assert salesforce_emulator.records("Contact") == []
    assert len(sink.failed) == len(ROWS)


def test_an_upload_that_times_out_is_redone_in_a_new_job_without_duplicates(
    salesforce_emulator, connection
):
    # The emulator stores the data of the timed-out PUT, as a slow real server would.
    salesforce_emulator.inject("timeout", seconds=1.5, method="PUT", path=UPLOAD)
    sink = RecordingSink()

    result = connection.connector.write(export(), ["LastName"], ROWS, sink)

    assert last_names(salesforce_emulator) == ["Hopper", "Lovelace", "Turing"]
    first, second = result.job_ids
    assert salesforce_emulator.org.ingest_jobs[first].state == "Aborted"
    assert salesforce_emulator.org.ingest_jobs[second].state == "JobComplete"
    assert (result.rows_succeeded, result.rows_failed) == (3, 0)


def test_a_close_that_times_out_is_retried_and_the_job_still_counts(
    salesforce_emulator, connection
):
    salesforce_emulator.inject("timeout", seconds=1.5, method="PATCH", path=JOB)

    result = connection.connector.write(export(), ["LastName"], ROWS, RecordingSink())

    assert len(result.job_ids) == 1
    assert (result.rows_succeeded, result.rows_failed) == (3, 0)
    assert last_names(salesforce_emulator) == ["Hopper", "Lovelace", "Turing"]


def test_a_poll_that_times_out_is_retried(salesforce_emulator, connection):
    salesforce_emulator.inject("timeout", seconds=1.5, method="GET", path=JOB)

    result = connection.connector.write(export(), ["LastName"], ROWS, RecordingSink())

    assert (result.rows_succeeded, result.rows_failed) == (3, 0)


def test_a_job_that_cannot_be_watched_is_aborted_and_its_rows_failed(
    salesforce_emulator, connection
):
    salesforce_emulator.settings.processing_delay = 2
    salesforce_emulator.inject("http_error", status=500, times=None, method="GET", path=JOB)
    sink = RecordingSink()

    with pytest.raises(ConnectorError) as raised:
        connection.connector.write(export(retry_limit=1), ["LastName"], ROWS, sink)

    [job_id] = sink.job_ids
    assert salesforce_emulator.org.ingest_jobs[job_id].state == "Aborted"
    assert raised.value.retryable is True
    reason = f"Outcome unknown (job {job_id} was aborted): {raised.value.message}"
    assert sink.failures() == sorted((row, reason) for row in ROWS)
    assert salesforce_emulator.records("Contact") == []


def test_a_job_running_past_the_time_limit_is_aborted_and_its_rows_accounted_for(
    salesforce_emulator, connection, monkeypatch
):
    monkeypatch.setattr("connectors.salesforce.bulk.POLL_TIMEOUT_SECONDS", 0.3)
    salesforce_emulator.settings.processing_delay = 1.5
    sink = RecordingSink()

    result = connection.connector.write(export(), ["LastName"], ROWS, sink)

    [job_id] = sink.job_ids
    assert salesforce_emulator.org.ingest_jobs[job_id].state == "Aborted"
    reason = (
        f"Not processed by Salesforce: Salesforce job {job_id} did not finish within "
        "0.3 seconds; it was aborted."
    )
    assert sink.failures() == sorted((row, reason) for row in ROWS)
    assert (result.rows_succeeded, result.rows_failed) == (0, 3)
    salesforce_emulator.wait_for_jobs()
    assert salesforce_emulator.records("Contact") == []


def test_result_downloads_are_retried(salesforce_emulator, connection):
    salesforce_emulator.inject("http_error", status=502, times=1, path="successfulResults")
    salesforce_emulator.inject("http_error", status=503, times=1, path="failedResults")

    result = connection.connector.write(export(), ["LastName"], ROWS, RecordingSink())

    assert (result.rows_succeeded, result.rows_failed) == (3, 0)


def test_serial_mode_retries_rows_locked_by_salesforce(salesforce_emulator, connection):
    salesforce_emulator.inject("unable_to_lock_row", times=2)
    sink = RecordingSink()

    result = connection.connector.write(export(concurrency_mode="serial"), ["LastName"], ROWS, sink)

    assert last_names(salesforce_emulator) == ["Hopper", "Lovelace", "Turing"]
    assert (result.rows_succeeded, result.rows_failed) == (3, 0)
    assert len(result.job_ids) == 2
    second_upload = salesforce_emulator.org.ingest_jobs[result.job_ids[1]].upload
    assert second_upload.count(b"\n") == 3  # the header and the two locked rows
    assert "Retrying 2 rows that failed with UNABLE_TO_LOCK_ROW (retry 1 of 3)" in sink.messages


def test_parallel_mode_retries_locked_rows_too(salesforce_emulator, connection):
    salesforce_emulator.inject("unable_to_lock_row", times=1)

    result = connection.connector.write(
        export(concurrency_mode="parallel", batch_size=2), ["LastName"], ROWS, RecordingSink()
    )

    assert last_names(salesforce_emulator) == ["Hopper", "Lovelace", "Turing"]
    assert (result.rows_succeeded, result.rows_failed) == (3, 0)
    assert len(result.job_ids) == 3  # two chunks, and one retry of the locked row


def test_rows_locked_past_the_retry_limit_fail_with_salesforces_reason(
    salesforce_emulator, connection
):
    salesforce_emulator.inject(
        "unable_to_lock_row", times=None, when=lambda row: row["LastName"] == "Turing"
    )
    sink = RecordingSink()

    result = connection.connector.write(
        export(concurrency_mode="serial", retry_limit=2), ["LastName"], ROWS, sink
    )

    assert last_names(salesforce_emulator) == ["Hopper", "Lovelace"]
    assert (result.rows_sent, result.rows_succeeded, result.rows_failed) == (3, 2, 1)
    assert len(result.job_ids) == 3
    [(values, error)] = sink.failures()
    assert values == ["Turing"]
    assert error.startswith("UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record")


def test_a_failed_job_fails_its_rows_with_the_jobs_error(salesforce_emulator, connection):
    salesforce_emulator.inject("job_failed", message="InternalServerError : Job failed to process")
    sink = RecordingSink()

    result = connection.connector.write(export(), ["LastName"], ROWS, sink)

    reason = "Not processed by Salesforce: InternalServerError : Job failed to process"
    assert sink.failures() == sorted((row, reason) for row in ROWS)
    assert (result.rows_sent, result.rows_succeeded, result.rows_failed) == (3, 0, 3)
    assert salesforce_emulator.records("Contact") == []


def test_a_job_that_fails_midway_keeps_the_outcomes_salesforce_reports(
    salesforce_emulator, connection
):
    salesforce_emulator.inject(
        "job_failed", message="Timeout : processing took too long", processed_rows=2
    )
    sink = RecordingSink()

    result = connection.connector.write(
        export(), ["LastName"], [["Lovelace"], ["Turing"], ["Hopper"], ["Curie"]], sink
    )

    assert last_names(salesforce_emulator) == ["Lovelace", "Turing"]
    assert (result.rows_succeeded, result.rows_failed) == (2, 2)
    assert sink.failures() == [
        (["Curie"], "Not processed by Salesforce: Timeout : processing took too long"),
        (["Hopper"], "Not processed by Salesforce: Timeout : processing took too long"),
    ]


def test_an_expired_session_logs_in_again_once_and_carries_on(salesforce_emulator, connection):
    salesforce_emulator.inject("session_expired", times=1, method="GET", path=JOB)

    result = connection.connector.write(export(), ["LastName"], ROWS, RecordingSink())

    assert calls(salesforce_emulator, "POST", r"/services/Soap/u/64\.0$") == 2
    assert (result.rows_succeeded, result.rows_failed) == (3, 0)
    assert last_names(salesforce_emulator) == ["Hopper", "Lovelace", "Turing"]


def test_an_upload_refused_for_an_expired_session_is_sent_whole_after_logging_in(
    salesforce_emulator, connection
):
    # requests reads the CSV file to its end for the refused PUT; the resend must start over.
    salesforce_emulator.inject("session_expired", times=1, method="PUT", path=UPLOAD)

    result = connection.connector.write(export(), ["LastName"], ROWS, RecordingSink())

    assert calls(salesforce_emulator, "PUT", UPLOAD) == 2
    assert (result.rows_succeeded, result.rows_failed) == (3, 0)
    assert last_names(salesforce_emulator) == ["Hopper", "Lovelace", "Turing"]


def test_a_session_refused_right_after_logging_in_again_fails_the_run(
    salesforce_emulator, connection
):
    salesforce_emulator.inject("session_expired", times=2, method="POST", path=INGEST)

    with pytest.raises(ConnectorError) as raised:
        connection.connector.write(export(), ["LastName"], ROWS, RecordingSink())

    assert raised.value.message == (
        "Salesforce refused a fresh session: INVALID_SESSION_ID: Session expired or invalid"
    )
    assert calls(salesforce_emulator, "POST", r"/services/Soap/u/64\.0$") == 2


def test_an_expired_pasted_session_id_is_a_clear_terminal_error(salesforce_emulator, connection):
    session = salesforce_emulator.org.open_session("marketer@example.com")
    connection.auth_method = "session_id"
    connection.session_id = session.token
    connection.save()
    salesforce_emulator.inject("session_expired", times=1, method="POST", path=INGEST)
    sink = RecordingSink()

    with pytest.raises(ConnectorError) as raised:
        connection.connector.write(export(), ["LastName"], ROWS, sink)

    assert raised.value.message == (
        "The Salesforce session id has expired or is invalid: paste a new session id into the "
        "connection (or switch it to OAuth or client credentials, which renew themselves)."
    )
    assert raised.value.retryable is False
    assert len(sink.failed) == 3
    assert salesforce_emulator.records("Contact") == []


class StopRun(Exception):
    pass


class StoppingSink(RecordingSink):
    """Raises once `stop_at` jobs have started, as the runner's sink does on a cancel."""

    def __init__(self, stop_at: int) -> None:
        super().__init__()
        self.stop_at = stop_at

    def job_started(self, job_id: str) -> None:
        super().job_started(job_id)
        if len(self.job_ids) == self.stop_at:
            raise StopRun()


def test_a_stop_from_the_sink_aborts_the_job_in_flight_in_serial_mode(
    salesforce_emulator, connection
):
    sink = StoppingSink(stop_at=2)

    with pytest.raises(StopRun):
        connection.connector.write(
            export(batch_size=1, concurrency_mode="serial"), ["LastName"], ROWS, sink
        )

    states = [job.state for job in salesforce_emulator.org.ingest_jobs.values()]
    assert states == ["JobComplete", "Aborted"]
    assert last_names(salesforce_emulator) == ["Lovelace"]


def test_a_stop_from_the_sink_aborts_every_job_in_flight_in_parallel_mode(
    salesforce_emulator, connection
):
    salesforce_emulator.settings.processing_delay = 1
    sink = StoppingSink(stop_at=1)

    with pytest.raises(StopRun):
        connection.connector.write(export(batch_size=1), ["LastName"], ROWS, sink)

    states = [job.state for job in salesforce_emulator.org.ingest_jobs.values()]
    assert states == ["Aborted"] * 3
    assert salesforce_emulator.records("Contact") == []
