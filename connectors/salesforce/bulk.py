"""The Bulk API 2.0 job lifecycle: ingest jobs (create, upload, close, poll, results, abort)
and query jobs (create, poll, paged results)."""

import csv
import io
import logging
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import IO

import requests

from connectors.base import ConnectorError

from .auth import SalesforceSession
from .http import RetryPolicy, error_code, error_message, is_transient

logger = logging.getLogger("connectors.salesforce")

# Polling starts quick (small jobs finish in a second or two) and backs off to a minute, so
# that a long job costs few API calls. Module constants so that tests can shorten them.
POLL_INITIAL_SECONDS = 0.5
POLL_MAX_SECONDS = 60.0
# Salesforce refuses to work on a job older than a day; give up waiting at that point.
POLL_TIMEOUT_SECONDS = 24 * 3600.0
# Query result pages: Salesforce's own default page size is much larger; this bounds memory.
QUERY_PAGE_RECORDS = 50_000
# Result files larger than this go to disk while being read.
SPOOL_BYTES = 16 * 1024 * 1024

TERMINAL_STATES = ("JobComplete", "Failed", "Aborted")


def duration(seconds: float) -> str:
    """ "24 hours", "5 minutes", "30 seconds"."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} second{'s' if seconds != 1 else ''}"


class Cancelled(Exception):
    """The run was stopped while a job was in flight; the job has been aborted."""


class BulkApi:
    """Bulk API 2.0 calls for one API version, retrying transient failures by `retry`."""

    def __init__(
        self,
        session: SalesforceSession,
        *,
        api_version: str,
        retry: RetryPolicy,
        cancelled: threading.Event | None = None,
    ) -> None:
        self.session = session
        self.api_version = api_version
        self.retry = retry
        self.cancelled = cancelled or threading.Event()
        self.sleep = time.sleep

    def path(self, *parts: str) -> str:
        return "/services/data/v{}/{}".format(self.api_version, "/".join(parts))

    def _json(self, method: str, path: str, *, action: str, **kwargs) -> dict:
        headers = {"Accept": "application/json"}
        if "json" in kwargs:
            headers["Content-Type"] = "application/json; charset=UTF-8"
        response = self.session.request(method, path, retry=self.retry, headers=headers, **kwargs)
        if not 200 <= response.status_code < 300:
            raise ConnectorError(f"Salesforce refused to {action}: {error_message(response)}")
        try:
            body = response.json()
        except ValueError:
            raise ConnectorError(
                f"Salesforce sent an unreadable answer when asked to {action}."
            ) from None
        if not isinstance(body, dict):
            raise ConnectorError(f"Salesforce sent an unexpected answer when asked to {action}.")
        return body

    # Ingest jobs

    def create_ingest_job(
        self, *, object_name: str, operation: str, external_id_field: str = ""
    ) -> dict:
        """Create an Open ingest job for CSV with LF line endings; returns its JobInfo."""
        spec = {
            "object": object_name,
            "operation": operation,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        if external_id_field:
            spec["externalIdFieldName"] = external_id_field
        job = self._json(
            "POST",
            self.path("jobs", "ingest"),
            action=f"create a {operation} job for {object_name}",
            json=spec,
        )
        if not job.get("id"):
            raise ConnectorError("Salesforce created a job without an id.")
        return job

    def upload(self, job: dict, data: IO[bytes]) -> None:
        """PUT the CSV to the job's contentUrl, once.

        Not retried here: if the server took the data but its answer was lost, a second PUT
        would add the rows twice. The caller aborts the job and starts a new one instead.
        """
        content_url = job.get("contentUrl") or self.path("jobs", "ingest", job["id"], "batches")
        data.seek(0)
        response = self.session.request(
            "PUT",
            content_url,
            retry=RetryPolicy(limit=0, initial_delay=0),
            transient=None,
            data=data,
            headers={"Content-Type": "text/csv", "Accept": "application/json"},
        )
        if not 200 <= response.status_code < 300:
            raise ConnectorError(
                f"Salesforce refused the data of job {job['id']}: {error_message(response)}",
                retryable=is_transient(response),
            )

    def close_job(self, job_id: str) -> None:
        """Mark the upload complete so Salesforce starts processing."""
        try:
            self._json(
                "PATCH",
                self.path("jobs", "ingest", job_id),
                action=f"start job {job_id}",
                json={"state": "UploadComplete"},
            )
        except ConnectorError:
            # A retried PATCH whose first attempt got through is refused as INVALIDJOBSTATE;
            # the job is then already on its way, which is what we wanted.
            state = self.job_info(job_id).get("state")
            if state in ("Open", None):
                raise

    def abort_job(self, job_id: str, *, kind: str = "ingest") -> None:
        """Abort a job that is not finished; best effort (a failure here is only logged)."""
        try:
            response = self.session.request(
                "PATCH",
                self.path("jobs", kind, job_id),
                retry=RetryPolicy(limit=1, initial_delay=self.retry.initial_delay),
                json={"state": "Aborted"},
                headers={"Accept": "application/json"},
            )
            logger.info("Aborted job %s: HTTP %s", job_id, response.status_code)
        except ConnectorError as exc:
            logger.warning("Could not abort job %s: %s", job_id, exc.message)

    def job_info(self, job_id: str, *, kind: str = "ingest") -> dict:
        return self._json("GET", self.path("jobs", kind, job_id), action=f"report on job {job_id}")

    def wait_for_job(self, job_id: str, *, kind: str = "ingest") -> dict:
        """Poll the job with exponential backoff until it is JobComplete, Failed or Aborted.

        A job still running after POLL_TIMEOUT_SECONDS is aborted; its final JobInfo is
        returned then (state Aborted, with our reason as errorMessage), since rows it
        processed stay processed and its result files still tell which.
        """
        interval = POLL_INITIAL_SECONDS
        deadline = time.monotonic() + POLL_TIMEOUT_SECONDS
        while True:
            job = self.job_info(job_id, kind=kind)
            if job.get("state") in TERMINAL_STATES:
                return job
            if time.monotonic() > deadline:
                return self._give_up(job_id, kind=kind)
            if self.cancelled.wait(interval):
                self.abort_job(job_id, kind=kind)
                raise Cancelled(job_id)
            interval = min(POLL_MAX_SECONDS, interval * 2)

    def _give_up(self, job_id: str, *, kind: str) -> dict:
        reason = (
            f"Salesforce job {job_id} did not finish within "
            f"{duration(POLL_TIMEOUT_SECONDS)}; it was aborted."
        )
        self.abort_job(job_id, kind=kind)
        job = self.job_info(job_id, kind=kind)
        if job.get("state") not in TERMINAL_STATES:
            raise ConnectorError(reason, retryable=True)
        if job.get("state") == "Aborted":
            job["errorMessage"] = reason
        return job

    def ingest_results(self, job_id: str, which: str) -> Iterator[dict[str, str]]:
        """Rows of successfulResults, failedResults or unprocessedrecords as dicts by column
        name (sf__Id, sf__Created, sf__Error and the columns as uploaded)."""
        file = self.download(self.path("jobs", "ingest", job_id, which) + "/")
        # utf-8-sig: a byte order mark, should one come, must not stick to the first name.
        with file:
            yield from csv.DictReader(io.TextIOWrapper(file, encoding="utf-8-sig", newline=""))

    def download(self, path: str, *, params: dict | None = None) -> IO[bytes]:
        """GET a CSV into a spooled file (memory, then disk), retrying a broken transfer.

        Returns the file positioned at the start, with the response headers in `.headers`.
        """
        for attempt in range(self.retry.limit + 1):
            response = self.session.request(
                "GET",
                path,
                retry=self.retry,
                params=params,
                headers={"Accept": "text/csv"},
                stream=True,
            )
            if response.status_code != 200:
                raise ConnectorError(
                    f"Salesforce refused to send {path.rsplit('/', 2)[-2]}: "
                    f"{error_message(response)}",
                    retryable=error_code(response) == "INVALIDJOBSTATE",
                )
            file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (returned)
            try:
                for block in response.iter_content(1024 * 1024):
                    file.write(block)
            except requests.RequestException as exc:
                file.close()
                if attempt == self.retry.limit:
                    raise ConnectorError(
                        f"The download of {path} broke off: {type(exc).__name__}",
                        retryable=True,
                    ) from None
                self.sleep(self.retry.delay(attempt))
                continue
            finally:
                response.close()
            file.seek(0)
            file.headers = response.headers  # type: ignore[attr-defined]
            return file
        raise AssertionError("unreachable")

    # Query jobs

    def query(self, soql: str, *, on_job=None) -> Iterator[dict[str, str]]:
        """Run a Bulk API 2.0 query job and yield its rows as dicts by column name.

        `on_job(job_id)` is called as soon as the job exists. Needs API version 47.0 or later.
        """
        job_id = self.start_query(soql)
        if on_job:
            on_job(job_id)
        yield from self.query_results(job_id)

    def start_query(self, soql: str) -> str:
        """Create a query job (Salesforce starts it at once); returns its id."""
        job = self._json(
            "POST",
            self.path("jobs", "query"),
            action="run a query",
            json={
                "operation": "query",
                "query": soql,
                "contentType": "CSV",
                "columnDelimiter": "COMMA",
                "lineEnding": "LF",
            },
        )
        job_id = job.get("id")
        if not job_id:
            raise ConnectorError("Salesforce created a query job without an id.")
        return job_id

    def query_results(self, job_id: str) -> Iterator[dict[str, str]]:
        """The rows of a query job, waited for; the results of a finished query job stay
        available (for days), so a resumed run reads its recorded job's rows again."""
        job = self.wait_for_job(job_id, kind="query")
        if job.get("state") != "JobComplete":
            raise ConnectorError(
                f"Salesforce query job {job_id} ended {job.get('state')}: "
                f"{job.get('errorMessage') or 'no reason given'}"
            )
        locator = ""
        while True:
            params = {"maxRecords": QUERY_PAGE_RECORDS}
            if locator:
                params["locator"] = locator
            file = self.download(self.path("jobs", "query", job_id, "results"), params=params)
            with file:
                locator = file.headers.get("Sforce-Locator", "null")
                yield from csv.DictReader(io.TextIOWrapper(file, encoding="utf-8-sig", newline=""))
            if not locator or locator == "null":
                return
