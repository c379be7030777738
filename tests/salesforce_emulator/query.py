"""Bulk API 2.0 query jobs: create, info, list, abort, delete, and paged CSV results."""

import base64
import binascii
import threading
import time
from dataclasses import dataclass, field

from . import csvdata, soql
from .state import Org
from .store import job_info_start, now_stamp, start_in_progress
from .values import format_value
from .web import ApiError, Request, Response, not_found

TERMINAL = ("JobComplete", "Failed", "Aborted")


@dataclass
class QueryJob:
    id: str
    operation: str
    object: str
    createdById: str
    apiVersion: float
    query: soql.Query
    lineEnding: str = "LF"
    columnDelimiter: str = "COMMA"
    state: str = "UploadComplete"
    createdDate: str = field(default_factory=now_stamp)
    systemModstamp: str = field(default_factory=now_stamp)
    rows: list[list[str]] = field(default_factory=list)
    numberRecordsProcessed: int = 0
    totalProcessingTime: int = 0
    errorMessage: str | None = None
    deleted: bool = False

    def set_state(self, state: str) -> None:
        self.state = state
        self.systemModstamp = now_stamp()

    def info(self, *, full: bool) -> dict:
        info = {
            **job_info_start(self),
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": self.apiVersion,
        }
        if full:
            info["jobType"] = "V2Query"
        info.update(lineEnding=self.lineEnding, columnDelimiter=self.columnDelimiter)
        if full:
            info.update(
                numberRecordsProcessed=self.numberRecordsProcessed,
                retries=0,
                totalProcessingTime=self.totalProcessingTime,
            )
            if self.errorMessage:
                info["errorMessage"] = self.errorMessage
        return info


def find_job(org: Org, job_id: str) -> QueryJob:
    job = org.query_jobs.get(job_id)
    if job is None or job.deleted:
        raise not_found()
    return job


def create(org: Org, request: Request, version: float) -> Response:
    """POST /jobs/query {"operation": "query"|"queryAll", "query": "SELECT ..."}."""
    # Query jobs exist from API 47.0 on.
    if version < 47.0:
        raise not_found()
    spec = request.json()
    if not isinstance(spec, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    operation = spec.get("operation")
    if operation not in ("query", "queryAll"):
        raise ApiError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of OperationEnum from VALUE_STRING value {operation}",
        )
    delimiter = spec.get("columnDelimiter", "COMMA")
    line_ending = spec.get("lineEnding", "LF")
    if delimiter not in csvdata.DELIMITERS or line_ending not in csvdata.LINE_ENDINGS:
        raise ApiError(400, "JSON_PARSER_ERROR", "Invalid value for columnDelimiter or lineEnding")
    parsed = soql.parse(str(spec.get("query") or ""), org.schema)
    job = QueryJob(
        id=org.id_maker.make("750"),
        operation=operation,
        object=parsed.object_name,
        createdById=request.user.user_id,
        apiVersion=version,
        query=parsed,
        lineEnding=line_ending,
        columnDelimiter=delimiter,
    )
    with org.lock:
        org.query_jobs[job.id] = job
    timer = threading.Timer(org.settings.processing_delay, run, args=(org, job))
    timer.daemon = True
    timer.start()
    return Response.json(job.info(full=False))


def run(org: Org, job: QueryJob) -> None:
    """InProgress, then the snapshot of matching records and JobComplete."""
    started = start_in_progress(org, job)
    if started is None:
        return
    with org.lock:
        if job.state != "InProgress":
            return
        records = list(org.store.records[job.object].values())
        if job.operation == "queryAll":
            records += list(org.store.bin[job.object].values())
        selected = [record for record in records if soql.matches(job.query, record)]
        if job.query.limit is not None:
            selected = selected[: job.query.limit]
        job.rows = [
            [format_value(record.get(item["name"]), item) for item in job.query.fields]
            for record in selected
        ]
        job.numberRecordsProcessed = len(job.rows)
        job.totalProcessingTime = int((time.monotonic() - started) * 1000)
        job.set_state("JobComplete")


def info(org: Org, request: Request, version: float, job_id: str) -> Response:
    return Response.json(find_job(org, job_id).info(full=True))


def list_jobs(org: Org, request: Request, version: float) -> Response:
    with org.lock:
        records = [job.info(full=True) for job in org.query_jobs.values() if not job.deleted]
    return Response.json({"done": True, "records": records, "nextRecordsUrl": None})


def change_state(org: Org, request: Request, version: float, job_id: str) -> Response:
    """PATCH {"state": "Aborted"}: the only change a client may make to a query job."""
    job = find_job(org, job_id)
    body = request.json()
    with org.lock:
        if not isinstance(body, dict) or body.get("state") != "Aborted":
            raise ApiError(400, "INVALIDJOBSTATE", "Invalid state change requested")
        if job.state in TERMINAL:
            word = "Completed" if job.state == "JobComplete" else job.state
            raise ApiError(400, "INVALIDJOBSTATE", f"Aborting already {word} Job not allowed")
        job.set_state("Aborted")
    return Response.json(job.info(full=False))


def delete(org: Org, request: Request, version: float, job_id: str) -> Response:
    job = find_job(org, job_id)
    with org.lock:
        if job.state not in TERMINAL:
            raise ApiError(400, "INVALIDJOBSTATE", f"Deleting {job.state} Job not allowed")
        job.deleted = True
    return Response.empty(204)


def encode_locator(offset: int) -> str:
    # Real locators are base64 of the offset without padding ("MTAwMDA" is 10000).
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def decode_locator(locator: str) -> int:
    try:
        padded = locator + "=" * (-len(locator) % 4)
        return int(base64.b64decode(padded, validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}") from None


def results(org: Org, request: Request, version: float, job_id: str) -> Response:
    """GET results?locator=&maxRecords=: a page of CSV with Sforce-Locator and -NumberOfRecords."""
    job = find_job(org, job_id)
    if job.state != "JobComplete":
        raise ApiError(
            400, "INVALIDJOBSTATE", f"Results are not available for a job in state {job.state}"
        )
    locator = request.query.get("locator", "")
    offset = decode_locator(locator) if locator and locator != "null" else 0
    try:
        max_records = int(request.query.get("maxRecords") or 0) or len(job.rows) or 1
    except ValueError:
        raise ApiError(400, "INVALIDPARAMETER", "maxRecords must be a positive integer") from None
    page = job.rows[offset : offset + max_records]
    next_offset = offset + len(page)
    header = [item["name"] for item in job.query.fields]
    text = csvdata.query_csv(header, page, job.columnDelimiter, job.lineEnding)
    if org.settings.result_byte_order_mark:
        text = "\ufeff" + text
    return Response.csv(
        text,
        headers={
            "Sforce-Locator": encode_locator(next_offset)
            if next_offset < len(job.rows)
            else "null",
            "Sforce-NumberOfRecords": str(len(page)),
        },
    )
