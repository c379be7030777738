"""One recorded step of a resumable run: one ingest job over one chunk's rows.

The runner stores each chunk (its rows as CSV) and, through `on_job`, each job id BEFORE
the upload starts; a step given a recorded job id asks Salesforce what became of it instead
of sending the rows again: a finished job's results are read, a job still processing is
waited for, and an Open job (never closed, so nothing processed) is aborted and its rows
sent in a new job. So a run resumed after its worker died sends no row twice."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from connectors.base import ConnectorError, EncodedRows, FailedRow

from . import results
from .bulk import TERMINAL_STATES, BulkApi
from .chunks import ChunkWriter, by_name
from .strict import without_duplicate_keys
from .writer import Events, JobRunner, Plan, _JobTrouble, all_failed, originals_of


@dataclass
class StepOutcome:
    succeeded: int = 0
    failed: list[FailedRow] = field(default_factory=list)
    # Rows that failed with UNABLE_TO_LOCK_ROW, as we sent them (to send again).
    locked: list[list[str]] = field(default_factory=list)
    locked_failures: list[FailedRow] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    # The succeeded rows as Salesforce echoed them, in the run's columns (for fingerprints).
    accepted: list[list[str]] = field(default_factory=list)


class _StepSink:
    """Hands job ids to `on_job` as they are created (before the upload), and log lines."""

    def __init__(self, on_job: Callable[[str], None], log: Callable[[str], None]) -> None:
        self.on_job = on_job
        self.log = log
        self.job_ids: list[str] = []

    def job_started(self, job_id: str) -> None:
        self.job_ids.append(job_id)
        self.on_job(job_id)


def recorded_job(bulk: BulkApi, job_id: str, log) -> dict | None:
    """What became of a recorded job: its final JobInfo (waited for if still processing), or
    None when its rows must be sent again (it was never closed, or aborted before any row
    was processed)."""
    job = bulk.job_info(job_id)
    state = job.get("state")
    if state == "Open":
        bulk.abort_job(job_id)
        log(f"Job {job_id} was left open by a stopped worker; aborted, its rows sent again.")
        return None
    if state not in TERMINAL_STATES:
        job = bulk.wait_for_job(job_id)
    if job.get("state") == "Aborted" and not job.get("numberRecordsProcessed"):
        return None
    log(f"Job {job_id} of a stopped worker ended {job.get('state')}; its results were read.")
    return job


def run_step(
    bulk: BulkApi,
    plan: Plan,
    *,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]] | EncodedRows,
    job_id: str,
    on_job: Callable[[str], None],
    log: Callable[[str], None],
    key_case_sensitive: bool,
    prepare=None,
) -> StepOutcome:
    """One job over `rows` (a recorded `job_id` is reconciled first, see recorded_job).
    `prepare` rewrites the chunk first (the key lookup of an update by another key: the
    same rows become the same Ids, from the run's one recorded query job). Never raises
    ConnectorError: trouble fails the rows with the reason (a cancel while the job was in
    flight aborts it and fails them as cancelled)."""
    writer = ChunkWriter(columns, by_name(columns))
    # EncodedRows (CSV lines) are copied into the job's file as they are.
    add = writer.add_line if isinstance(rows, EncodedRows) else writer.add
    for row in rows:
        add(row)
    chunk = writer.finish()
    sink = _StepSink(on_job, log)
    events = Events(sink)
    outcome = StepOutcome()
    pending = chunk
    try:
        if prepare is not None:
            try:
                pending, not_found = prepare(chunk)
            except ConnectorError as exc:  # the lookup's query job could not be read
                outcome.failed.extend(all_failed(chunk, f"Not sent: {exc.message}"))
                return outcome
            outcome.failed.extend(not_found)
        unique, duplicates = without_duplicate_keys(
            pending, plan.key_column, case_sensitive=key_case_sensitive
        )
        if unique is not pending and pending is not chunk:
            pending.close()
        pending = unique
        outcome.failed.extend(duplicates)
        if not pending.row_count:
            return outcome
        job = recorded_job(bulk, job_id, log) if job_id else None
        if job is None:
            runner = JobRunner(bulk, plan, retry=bulk.retry, events=events)
            job = runner._run_job(pending)
        finished = results.collect(bulk, pending, job, log=log)
        outcome.succeeded = finished.succeeded
        outcome.accepted = finished.accepted
        locked_ids = {id(row) for row, _ in finished.locked}
        outcome.failed.extend(row for row in finished.failed if id(row) not in locked_ids)
        if finished.locked:
            retry_chunk = originals_of(pending, [echo for _, echo in finished.locked])
            # In the run's columns (a looked-up chunk's rows are restored to their key).
            outcome.locked = [retry_chunk.restore(row) for row in retry_chunk.rows()]
            outcome.locked_failures = [row for row, _ in finished.locked]
            retry_chunk.close()
    except _JobTrouble as trouble:
        outcome.failed.extend(all_failed(pending, trouble.reason))
    except ConnectorError as exc:
        outcome.failed.extend(all_failed(pending, f"Outcome unknown: {exc.message}"))
    finally:
        outcome.job_ids = sink.job_ids
        if pending is not chunk:
            pending.close()
        chunk.close()
    return outcome
