"""Bulk API 2.0 ingest jobs: create, upload, close/abort, info, list, delete, result CSVs."""

import email.parser
import email.policy
import threading
import time
from dataclasses import dataclass, field

from . import csvdata
from .operations import JobFailure, RowResult, RowWriter
from .state import Org
from .store import job_info_start, now_stamp, start_in_progress
from .values import NUMBER_TYPES, RowError, java_double
from .web import ApiError, Request, Response, not_found

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
TERMINAL = ("JobComplete", "Failed", "Aborted")
MULTIPART_MAX_CHARACTERS = 100_000


@dataclass
class IngestJob:
    id: str
    operation: str
    object: str
    createdById: str
    apiVersion: float
    externalIdFieldName: str | None = None
    lineEnding: str = "LF"
    columnDelimiter: str = "COMMA"
    assignmentRuleId: str | None = None
    state: str = "Open"
    createdDate: str = field(default_factory=now_stamp)
    systemModstamp: str = field(default_factory=now_stamp)
    concurrencyMode: str = "Parallel"
    contentType: str = "CSV"
    upload: bytes | None = None
    header: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    numberRecordsProcessed: int = 0
    numberRecordsFailed: int = 0
    retries: int = 0
    totalProcessingTime: int = 0
    errorMessage: str | None = None
    deleted: bool = False

    def content_url(self) -> str:
        return f"services/data/v{self.apiVersion:.1f}/jobs/ingest/{self.id}/batches"

    def set_state(self, state: str) -> None:
        self.state = state
        self.systemModstamp = now_stamp()

    def base_info(self) -> dict:
        info = job_info_start(self)
        if self.externalIdFieldName:
            info["externalIdFieldName"] = self.externalIdFieldName
        if self.assignmentRuleId:
            info["assignmentRuleId"] = self.assignmentRuleId
        info.update(
            concurrencyMode=self.concurrencyMode,
            contentType=self.contentType,
            apiVersion=self.apiVersion,
        )
        return info

    def create_info(self) -> dict:
        """The create response: base keys, contentUrl, lineEnding, columnDelimiter."""
        return {
            **self.base_info(),
            "contentUrl": self.content_url(),
            "lineEnding": self.lineEnding,
            "columnDelimiter": self.columnDelimiter,
        }

    def full_info(self) -> dict:
        """GET job info: adds jobType, counters and timings; contentUrl only while Open."""
        info = {**self.base_info(), "jobType": "V2Ingest"}
        if self.state == "Open":
            info["contentUrl"] = self.content_url()
        info.update(
            lineEnding=self.lineEnding,
            columnDelimiter=self.columnDelimiter,
            numberRecordsProcessed=self.numberRecordsProcessed,
            numberRecordsFailed=self.numberRecordsFailed,
            retries=self.retries,
            totalProcessingTime=self.totalProcessingTime,
            apiActiveProcessingTime=self.totalProcessingTime,
            apexProcessingTime=0,
        )
        if self.errorMessage:
            info["errorMessage"] = self.errorMessage
        return info

    def list_info(self) -> dict:
        return {
            **self.base_info(),
            "jobType": "V2Ingest",
            "lineEnding": self.lineEnding,
            "columnDelimiter": self.columnDelimiter,
        }


def find_job(org: Org, job_id: str) -> IngestJob:
    job = org.ingest_jobs.get(job_id)
    if job is None or job.deleted:
        raise not_found()
    return job


def invalid_state(message: str) -> ApiError:
    return ApiError(400, "INVALIDJOBSTATE", message)


def check_version(version: float) -> None:
    # Bulk API 2.0 ingest exists from API 41.0 on.
    if version < 41.0:
        raise not_found()


def create(org: Org, request: Request, version: float) -> Response:
    """POST /jobs/ingest, with a JSON body or multipart (job + content parts)."""
    check_version(version)
    content_type = request.headers.get("content-type", "")
    content = None
    if content_type.startswith("multipart/form-data"):
        spec, content = multipart_parts(request)
    else:
        spec = request.json()
    job = new_job(org, spec, version, request.user)
    if content is not None:
        if len(content.decode("utf-8", "replace")) > MULTIPART_MAX_CHARACTERS:
            raise ApiError(
                400,
                "CLIENTINPUTERROR",
                f"Multipart request content exceeds {MULTIPART_MAX_CHARACTERS} characters",
            )
        check_upload_limits(org, job, content)
        job.upload = content
    with org.lock:
        org.ingest_jobs[job.id] = job
    if content is not None:
        close(org, job)
    return Response.json(job.create_info())


def multipart_parts(request: Request) -> tuple[dict, bytes]:
    raw = b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + request.body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    spec, content = None, None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name == "job":
            spec = Request(
                method="", path="", query={}, headers={}, body=part.get_payload(decode=True)
            ).json()
        elif name == "content":
            content = part.get_payload(decode=True)
    if spec is None or content is None:
        raise ApiError(
            400, "INVALIDJOB", "Multipart request must contain the job and content parts"
        )
    return spec, content


def new_job(org: Org, spec, version: float, user) -> IngestJob:
    if not isinstance(spec, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    operation = spec.get("operation")
    if operation not in OPERATIONS:
        raise ApiError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of OperationEnum from VALUE_STRING value {operation}",
        )
    object_name = org.schema.object_name(str(spec.get("object") or ""))
    if object_name is None:
        raise ApiError(400, "INVALIDJOB", f"Unable to find object: {spec.get('object')}")
    if spec.get("contentType", "CSV") != "CSV":
        raise ApiError(400, "INVALIDJOB", "Only CSV content type is supported for Bulk API 2.0")
    delimiter = spec.get("columnDelimiter", "COMMA")
    line_ending = spec.get("lineEnding", "LF")
    if delimiter not in csvdata.DELIMITERS or line_ending not in csvdata.LINE_ENDINGS:
        raise ApiError(400, "JSON_PARSER_ERROR", "Invalid value for columnDelimiter or lineEnding")
    if operation == "upsert" and not spec.get("externalIdFieldName"):
        raise ApiError(
            400,
            "INVALIDJOB",
            f"External ID was blank for {object_name}. An External ID must be specified for upsert.",
        )
    if operation == "hardDelete" and not user.hard_delete_allowed:
        # [inf] The code is the FeatureNotEnabled family; the wording is ours.
        raise ApiError(
            400,
            "FEATURENOTENABLED",
            "Bulk API Hard Delete permission is required for the hardDelete operation",
        )
    return IngestJob(
        id=org.id_maker.make("750"),
        operation=operation,
        object=object_name,
        createdById=user.user_id,
        apiVersion=version,
        externalIdFieldName=spec.get("externalIdFieldName") if operation == "upsert" else None,
        lineEnding=line_ending,
        columnDelimiter=delimiter,
        assignmentRuleId=spec.get("assignmentRuleId"),
    )


def check_upload_limits(org: Org, job: IngestJob, data: bytes) -> None:
    if org.settings.max_records_per_upload is not None:
        text = data.decode("utf-8", "replace")
        rows = len(csvdata.parse(text, job.columnDelimiter)) - 1
        if rows > org.settings.max_records_per_upload:
            # [inf] A test knob to make clients split; Salesforce itself counts bytes.
            raise ApiError(
                400,
                "CLIENTINPUTERROR",
                f"Exceeded max records per upload: {org.settings.max_records_per_upload}",
            )


def upload(org: Org, request: Request, version: float, job_id: str) -> Response:
    """PUT contentUrl: the job's CSV, once, while Open."""
    job = find_job(org, job_id)
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("text/csv"):
        raise ApiError(
            400,
            "INVALIDCONTENTTYPE",
            f"Content-Type header specified in HTTP request is not supported: {content_type}",
        )
    with org.lock:
        if job.state != "Open":
            raise invalid_state(f"Job {job.id} is not in Open state: {job.state}")
        if job.upload is not None:
            # Observed on a real org: a second PUT on the same job is rejected.
            raise invalid_state(
                f"Found multiple contents for job: <{job.id}>, please 'Close' / 'Abort' / "
                "'Delete' the current Job then create a new Job and make sure you only do "
                "'PUT' once on a given Job."
            )
        check_upload_limits(org, job, request.body)
        job.upload = request.body
    return Response.empty(201)


def change_state(org: Org, request: Request, version: float, job_id: str) -> Response:
    """PATCH /jobs/ingest/{id}: UploadComplete or Aborted."""
    job = find_job(org, job_id)
    body = request.json()
    wanted = body.get("state") if isinstance(body, dict) else None
    with org.lock:
        if wanted == "UploadComplete":
            if job.state != "Open":
                raise invalid_state(f"Closing already {job.state} Job not allowed")
            close(org, job)
        elif wanted == "Aborted":
            if job.state in TERMINAL:
                raise invalid_state(f"Aborting already {state_word(job.state)} Job not allowed")
            abort(job)
        else:
            raise invalid_state(f"Invalid state change to {wanted} requested")
    return Response.json(job.base_info())


def state_word(state: str) -> str:
    return {"JobComplete": "Completed"}.get(state, state)


def abort(job: IngestJob) -> None:
    rows = rows_of(job)[1:] if job.upload else []
    job.unprocessed = rows
    job.set_state("Aborted")


def close(org: Org, job: IngestJob) -> None:
    """UploadComplete, then InProgress and the end after `processing_delay` each."""
    job.set_state("UploadComplete")
    delay = org.settings.processing_delay
    timer = threading.Timer(delay, start_processing, args=(org, job))
    timer.daemon = True
    timer.start()


def start_processing(org: Org, job: IngestJob) -> None:
    started = start_in_progress(org, job)
    if started is not None:
        process(org, job, started)


def rows_of(job: IngestJob) -> list[list[str]]:
    return csvdata.parse(job.upload.decode("utf-8", "replace"), job.columnDelimiter)


def process(org: Org, job: IngestJob, started: float) -> None:
    """Apply the rows; the job ends JobComplete, or Failed with an errorMessage."""
    with org.lock:
        if job.state != "InProgress":
            return
        try:
            if job.upload is None:
                raise JobFailure("InvalidBatch : No data was uploaded for this job")
            text = job.upload.decode("utf-8")
            if csvdata.line_ending_mismatch(text, job.lineEnding):
                raise JobFailure(
                    "ClientInputError : LineEnding is invalid on user data. "
                    f"Current LineEnding setting is {job.lineEnding}"
                )
            rows = csvdata.parse(text, job.columnDelimiter)
            if not rows:
                raise JobFailure("InvalidBatch : No data was uploaded for this job")
            job.header, data = rows[0], rows[1:]
            writer = RowWriter(schema=org.schema, store=org.store, job=job, header=job.header)
        except (JobFailure, UnicodeDecodeError) as failure:
            job.unprocessed = rows_of(job)[1:] if job.upload else []
            finish(job, started, error=str(failure))
            return
        fault = org.faults.job_failure()
        stop_at = fault.options.get("processed_rows", 0) if fault else len(data)
        writer.prepare(data)
        for position, row in enumerate(data):
            if position >= stop_at:
                job.unprocessed.append(row)
                continue
            record(job, writer, row, apply_row(org, writer, row))
        error = None
        if fault:
            error = fault.options.get("message", "InternalServerError : Job failed to process")
        finish(job, started, error=error)


def apply_row(org: Org, writer: RowWriter, row: list[str]) -> RowResult:
    named = dict(zip(writer.header, row, strict=False))
    if not org.faults.lock_row(named):
        return writer.apply(row)
    known_id = writer.target_id(row)
    # The locked record of an insert is some other record (a parent, say): invent its id.
    locked_id = known_id or org.id_maker.make(org.schema.key_prefix(writer.object_name))
    error = RowError(
        "UNABLE_TO_LOCK_ROW",
        f"unable to obtain exclusive access to this record or 1 records: {locked_id}",
    )
    return RowResult(False, known_id, error=error.cell())


def record(job: IngestJob, writer: RowWriter, row: list[str], result: RowResult) -> None:
    job.numberRecordsProcessed += 1
    padded = row + [""] * (len(job.header) - len(row))
    if result.ok:
        echo = [echo_value(text, field) for text, field in zip(padded, writer.fields, strict=False)]
        job.successful.append([result.record_id, "true" if result.created else "false", *echo])
    else:
        job.numberRecordsFailed += 1
        job.failed.append([result.record_id, result.error, *padded])


def echo_value(text: str, field) -> str:
    # Salesforce echoes values after conversion: currency 912260031 comes back as 9.12260031E8.
    numeric = isinstance(field, dict) and field["type"] in NUMBER_TYPES
    if numeric and text not in ("", "#N/A"):
        try:
            return java_double(float(text))
        except ValueError:
            return text
    return text


def finish(job: IngestJob, started: float, *, error: str | None) -> None:
    job.totalProcessingTime = int((time.monotonic() - started) * 1000)
    job.errorMessage = error
    job.set_state("Failed" if error else "JobComplete")


def info(org: Org, request: Request, version: float, job_id: str) -> Response:
    return Response.json(find_job(org, job_id).full_info())


def list_jobs(org: Org, request: Request, version: float) -> Response:
    """GET /jobs/ingest: every job in one page (done true)."""
    job_type = request.query.get("jobType")
    records = []
    if job_type in (None, "", "V2Ingest"):
        with org.lock:
            records = [job.list_info() for job in org.ingest_jobs.values() if not job.deleted]
    return Response.json({"done": True, "records": records, "nextRecordsUrl": None})


def delete(org: Org, request: Request, version: float, job_id: str) -> Response:
    job = find_job(org, job_id)
    with org.lock:
        if job.state not in ("UploadComplete", *TERMINAL):
            raise invalid_state(f"Deleting {job.state} Job not allowed")
        job.deleted = True
    return Response.empty(204)


def results(org: Org, request: Request, version: float, job_id: str, kind: str) -> Response:
    """GET successfulResults/, failedResults/ or unprocessedrecords/ as CSV."""
    job = find_job(org, job_id)
    allowed = ("JobComplete", "Failed", "Aborted")
    if job.state not in allowed:
        raise invalid_state(f"Results are not available for a job in state {job.state}")
    header = job.header or (rows_of(job)[0] if job.upload else [])
    settings = org.settings
    newline = csvdata.LINE_ENDINGS[settings.result_line_ending]

    def ordered(rows: list[list[str]]) -> list[list[str]]:
        return rows[::-1] if settings.result_order == "reversed" else rows

    if kind == "successfulresults":
        recorded = job.successful[settings.unrecorded_results :]
        text = csvdata.result_csv(
            ["sf__Id", "sf__Created"], header, ordered(recorded), job.columnDelimiter, newline
        )
    elif kind == "failedresults":
        text = csvdata.result_csv(
            ["sf__Id", "sf__Error"], header, ordered(job.failed), job.columnDelimiter, newline
        )
    else:
        text = csvdata.plain_csv(header, ordered(job.unprocessed), job.columnDelimiter, newline)
    if settings.result_byte_order_mark:
        text = "\ufeff" + text
    return Response.csv(text)
