"""Reading a finished ingest job's result files into per-row outcomes.

Salesforce gives three files ("Get Job Successful/Failed/Unprocessed Record Results"): rows
that succeeded (sf__Id, sf__Created, then the row as uploaded), rows that failed (sf__Id,
sf__Error, then the row) and, for a Failed or Aborted job, rows never processed (the row
only). "The order of records in the response is not guaranteed to match the ordering of
records in the original job data", so outcomes are read from the rows Salesforce echoes
back, never by position. Results may also be missing ("Results are not recorded for batches
that exceed the daily batch allocation"); such rows fail, with their values when they can
be told apart from the echoed ones.
"""

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from connectors.base import ConnectorError, FailedRow

from .bulk import BulkApi
from .chunks import Chunk

logger = logging.getLogger("connectors.salesforce")

LOCK_ERROR_CODE = "UNABLE_TO_LOCK_ROW"


@dataclass
class JobResults:
    """What one job did to the rows of its chunk."""

    succeeded: int = 0
    failed: list[FailedRow] = field(default_factory=list)
    # The values of the rows that succeeded (restored like failed rows'), for sinks that
    # keep track of what Salesforce accepted.
    accepted: list[list[str]] = field(default_factory=list)
    # Rows that failed with UNABLE_TO_LOCK_ROW, with their echoes (to send them again).
    locked: list[tuple[FailedRow, dict[str, str]]] = field(default_factory=list)


def collect(bulk: BulkApi, chunk: Chunk, job: dict, *, log) -> JobResults:
    """Read a finished job's results; every row of `chunk` ends succeeded or failed.

    Raises ConnectorError when a JobComplete job's results cannot be read (its outcome is
    then unknown); `log(message)` reports a job that did not complete.
    """
    job_id = job["id"]
    state = job.get("state")
    complete = state == "JobComplete"
    results = JobResults()
    echoed: Counter[int] = Counter()
    failed_in_file = 0

    def note(echo: dict[str, str]) -> None:
        echoed[row_key(echo, chunk.header)] += 1

    for echo in _read(bulk, job_id, "successfulResults", required=complete):
        results.succeeded += 1
        results.accepted.append(chunk.restore(echo))
        note(echo)
    for echo in _read(bulk, job_id, "failedResults", required=complete):
        note(echo)
        failed_in_file += 1
        row = FailedRow(chunk.restore(echo), echo.get("sf__Error") or "Failed")
        results.failed.append(row)
        if row.error.startswith(LOCK_ERROR_CODE):
            results.locked.append((row, echo))
    if not complete:
        reason = (
            f"Not processed by Salesforce: {job.get('errorMessage') or f'the job ended {state}'}"
        )
        for echo in _read(bulk, job_id, "unprocessedrecords", required=False):
            note(echo)
            results.failed.append(FailedRow(chunk.restore(echo), reason))
        log(f"Job {job_id} ended {state}: {job.get('errorMessage') or ''}")
    else:
        reason = f"Salesforce reported no outcome for this row (job {job_id})"
    _compare_counts(job, succeeded=results.succeeded, failed=failed_in_file)
    settled = results.succeeded + len(results.failed)
    if settled > chunk.row_count:
        logger.warning(
            "Job %s reported %s more outcomes than rows", job_id, settled - chunk.row_count
        )
    elif settled < chunk.row_count:
        missing = chunk.row_count - settled
        logger.warning("Job %s gave no outcome for %s rows", job_id, missing)
        results.failed.extend(
            FailedRow(values, reason) for values in _unsettled(chunk, echoed, missing)
        )
    return results


def _compare_counts(job: dict, *, succeeded: int, failed: int) -> None:
    """The result files are what counts; a JobInfo that disagrees is worth a log line."""
    reported = (job.get("numberRecordsProcessed"), job.get("numberRecordsFailed"))
    if reported[0] is not None and reported != (succeeded + failed, failed):
        logger.warning(
            "Job %s reports %s processed and %s failed rows; its result files hold %s and %s",
            job["id"],
            *reported,
            succeeded + failed,
            failed,
        )


def row_key(row: dict[str, str], header: list[str]) -> int:
    """A row's identity by its values (a hash keeps the memory of 100 MB chunks small)."""
    return hash(tuple(row.get(column) or "" for column in header))


def _unsettled(chunk: Chunk, echoed: Counter[int], missing: int) -> list[list[str]]:
    """The values of the `missing` rows no result file mentions: the chunk's rows left after
    taking away one per echo. Echoes are the values after Salesforce converted them (a
    currency 912260031 comes back as 9.12260031E8), so when more rows are left than are
    missing, which ones they are is unknown and the failed rows carry no values."""
    left = Counter(echoed)
    unmatched: list[list[str]] = []
    for row in chunk.rows():
        key = row_key(row, chunk.header)
        if left[key]:
            left[key] -= 1
        elif len(unmatched) <= missing:
            unmatched.append(chunk.restore(row))
    if len(unmatched) == missing:
        return unmatched
    return [[] for _ in range(missing)]


def _read(bulk: BulkApi, job_id: str, which: str, *, required: bool) -> Iterator[dict[str, str]]:
    """The rows of a result file; an optional one that cannot be read yields nothing."""
    try:
        yield from bulk.ingest_results(job_id, which)
    except ConnectorError:
        if required:
            raise
        logger.info("No %s for job %s", which, job_id)
