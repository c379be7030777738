"""The org's limits, read before a run writes: `GET /limits` gives each daily allowance
("Max") and what is left of it ("Remaining"), over a rolling 24 hours. A run estimates what
it needs and fails before creating any job when the org has too little left, instead of
creating jobs until Salesforce refuses halfway."""

import math
from dataclasses import dataclass

from connectors.base import ConnectorError, ExportParams

from .auth import SalesforceSession
from .bulk import QUERY_PAGE_RECORDS
from .describe import looks_up_keys
from .http import RetryPolicy, error_message

# Salesforce processes an ingest job's rows in internal batches of 10,000 records, each
# counted against DailyBulkApiBatches ("Understanding Bulk API 2.0 Ingest").
RECORDS_PER_BULK_BATCH = 10_000
# API calls one ingest job costs: create, upload, close, about five polls (the backoff
# doubles from half a second), and three result files.
CALLS_PER_INGEST_JOB = 10
# API calls one query job costs besides its result pages: create and about five polls.
CALLS_PER_QUERY_JOB = 6


@dataclass(frozen=True)
class Needs:
    """What a run will spend of the org's daily limits, by limit name."""

    api_requests: int
    bulk_batches: int
    query_jobs: int

    def by_limit(self) -> dict[str, int]:
        return {
            "DailyApiRequests": self.api_requests,
            "DailyBulkApiBatches": self.bulk_batches,
            "DailyBulkV2QueryJobs": self.query_jobs,
        }


def estimate(params: ExportParams, row_count: int, *, records_to_delete: int = 0) -> Needs:
    """What writing `row_count` rows with these settings needs; for truncate, also what
    deleting `records_to_delete` records (the object's count now) needs: the query job
    listing them (and its result pages) and the delete jobs."""
    jobs, batches = _ingest(row_count, params.batch_size)
    query_jobs = int(params.mode == "truncate") + int(looks_up_keys(params))
    query_calls = query_jobs * CALLS_PER_QUERY_JOB
    if looks_up_keys(params):
        query_calls += math.ceil(max(row_count, 1) / QUERY_PAGE_RECORDS)
    if params.mode == "truncate":
        delete_jobs, delete_batches = _ingest(records_to_delete, params.batch_size)
        jobs += delete_jobs
        batches += delete_batches
        # The COUNT() itself, and the listing's result pages.
        query_calls += 1 + math.ceil(max(records_to_delete, 1) / QUERY_PAGE_RECORDS)
    return Needs(
        api_requests=jobs * CALLS_PER_INGEST_JOB + query_calls,
        bulk_batches=batches,
        query_jobs=query_jobs,
    )


def _ingest(row_count: int, batch_size: int) -> tuple[int, int]:
    """Ingest jobs and Bulk batches for `row_count` records in jobs of `batch_size`."""
    batch_size = max(1, batch_size)
    full_jobs, last_rows = divmod(row_count, batch_size)
    jobs = full_jobs + (1 if last_rows else 0)
    batches = full_jobs * math.ceil(batch_size / RECORDS_PER_BULK_BATCH) + math.ceil(
        last_rows / RECORDS_PER_BULK_BATCH
    )
    return jobs, batches


def count_records(
    session: SalesforceSession, *, api_version: str, object_name: str, retry: RetryPolicy
) -> int:
    """How many records the object holds: `SELECT COUNT() FROM object` over REST answers
    with `totalSize` alone (one API call, no query job)."""
    response = session.request(
        "GET",
        f"/services/data/v{api_version}/query/",
        retry=retry,
        params={"q": f"SELECT COUNT() FROM {object_name}"},  # noqa: S608 (a checked name)
        headers={"Accept": "application/json"},
    )
    if response.status_code != 200:
        raise ConnectorError(
            f"Salesforce refused to count the {object_name} records: {error_message(response)}",
            retryable=True,
        )
    try:
        total = response.json().get("totalSize")
    except (ValueError, AttributeError):
        total = None
    if not isinstance(total, int):
        raise ConnectorError(f"Salesforce sent an unreadable count of the {object_name} records.")
    return total


def read_limits(session: SalesforceSession, *, api_version: str, retry: RetryPolicy) -> dict:
    """GET /limits: {"DailyApiRequests": {"Max": 15000, "Remaining": 14998}, ...}."""
    response = session.request(
        "GET",
        f"/services/data/v{api_version}/limits/",
        retry=retry,
        headers={"Accept": "application/json"},
    )
    if response.status_code != 200:
        raise ConnectorError(
            f"Salesforce refused to report the org's limits: {error_message(response)}",
            retryable=True,
        )
    try:
        limits = response.json()
    except ValueError:
        limits = None
    if not isinstance(limits, dict):
        raise ConnectorError("Salesforce sent an unreadable answer about the org's limits.")
    return limits


def check(limits: dict, needs: Needs) -> None:
    """Raise ConnectorError naming the first daily limit with less left than needed."""
    for name, needed in needs.by_limit().items():
        limit = limits.get(name)
        if not needed or not isinstance(limit, dict):
            continue
        remaining, maximum = limit.get("Remaining"), limit.get("Max")
        if not isinstance(remaining, int) or remaining >= needed:
            continue
        raise ConnectorError(
            f"The Salesforce org has {remaining:,} of its {maximum:,} daily {name} left and "
            f"this run needs about {needed:,}, so nothing was sent. Salesforce counts them "
            "over a rolling 24 hours: they free up as the use of the last day ages out. Run "
            "again later, send fewer rows (or bigger batches), or ask Salesforce for a higher "
            "limit.",
            retryable=True,
        )
