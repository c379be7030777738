"""SalesforceConnector: the Connector interface over our own Bulk API 2.0 client."""

from collections.abc import Iterable, Iterator, Sequence

from connectors.base import (
    Connector,
    ConnectorError,
    DestinationField,
    DestinationObject,
    EncodedRows,
    ExportParams,
    FailedRow,
    ResultSink,
    WritePlan,
    WriteResult,
)

from . import catalog, limits, steps, writer
from .auth import SalesforceSession, login_policy
from .bulk import TERMINAL_STATES, BulkApi
from .chunks import ChunkWriter, by_name
from .describe import check_export, export_problems, fetch_describe, looks_up_keys
from .dryrun import DryRun
from .http import RetryPolicy, error_message
from .lookup import KeyLookup, lookup_soql
from .permissions import check_hard_delete

# The API version "Test connection" uses to check a pasted session id.
DEFAULT_API_VERSION = "59.0"


class _JobIds:
    """The events a key lookup's own query job reports its id to."""

    def __init__(self, on_job) -> None:
        self.job_started = on_job


def export_policy(params: ExportParams) -> RetryPolicy:
    return RetryPolicy(limit=params.retry_limit, initial_delay=params.retry_initial_delay)


class SalesforceConnector(Connector):
    """Salesforce through Bulk API 2.0. One instance serves one run: one session (one
    login) and one describe per object, kept until `close()`."""

    label = "Salesforce"
    accepts_encoded_rows = True

    def __init__(self, connection) -> None:
        super().__init__(connection)
        self._session: SalesforceSession | None = None
        self._describes: dict[tuple[str, str], dict] = {}
        self._checked: set[ExportParams] = set()
        # A recorded run's query job (steps.pre_steps) and, for lookups, its key index.
        self._query_job = ""
        self._lookup: KeyLookup | None = None
        # Keys to Ids for recorded delete steps (record_ids).
        self._key_ids: KeyLookup | None = None

    @property
    def session(self) -> SalesforceSession:
        if self._session is None:
            self._session = SalesforceSession(self.connection)
        return self._session

    def close(self) -> None:
        for lookup in (self._lookup, self._key_ids):
            if lookup is not None:
                lookup.close()
        self._lookup = self._key_ids = None
        if self._session is not None:
            self._session.close()
            self._session = None

    def verify(self) -> None:
        """Log in; for a pasted session id (where nothing is checked at login) also make one
        API call with it. Raises ConnectorError with a clear message."""
        session = SalesforceSession(self.connection)
        try:
            session.token()
            if self.connection.auth_method == "session_id":
                response = session.request(
                    "GET",
                    f"/services/data/v{DEFAULT_API_VERSION}/limits/",
                    retry=login_policy(self.connection),
                    headers={"Accept": "application/json"},
                )
                if response.status_code == 404:
                    raise ConnectorError(
                        f"{session.instance_url} does not answer like a Salesforce instance "
                        "(HTTP 404); check the instance URL."
                    )
                if response.status_code != 200:
                    raise ConnectorError(
                        "Salesforce refused the session id: " + error_message(response)
                    )
        finally:
            session.close()

    def validate_export(self, params: ExportParams, columns: Sequence[str]) -> None:
        """The describe checks, and for hard delete the user's permission."""
        check_export(params, columns, self._describer(params))
        if params.mode == "truncate" and params.hard_delete:
            check_hard_delete(
                self.session, api_version=params.api_version, retry=export_policy(params)
            )
        self._checked.add(params)

    def check_capacity(
        self, params: ExportParams, row_count: int, *, deleting: bool = True
    ) -> None:
        """Fail before any job when the org's daily limits cannot carry `row_count` rows and,
        for truncate (unless a resumed one past its listing), the deletion of every record
        the object holds now (counted with one cheap `SELECT COUNT()`)."""
        truncate = params.mode == "truncate" and deleting
        if not row_count and not truncate:
            return
        policy = export_policy(params)
        records = (
            limits.count_records(
                self.session,
                api_version=params.api_version,
                object_name=params.object_name,
                retry=policy,
            )
            if truncate
            else 0
        )
        if not row_count and not records:
            return
        found = limits.read_limits(self.session, api_version=params.api_version, retry=policy)
        limits.check(found, limits.estimate(params, row_count, records_to_delete=records))

    def resumable(self, params: ExportParams) -> bool:
        """Every mode is written as recorded steps (steps.py): one job per chunk, after the
        run's one recorded query job for truncate and for an update by another key."""
        return params.mode in ("append", "update", "truncate")

    def pre_steps(self, params: ExportParams) -> str:
        """What a recorded run does before its chunks: "empty" (truncate: a query job lists
        every record, delete steps remove them), "lookup" (update by another key: one query
        job lists every key and Id, which the steps read), or "" (nothing)."""
        if params.mode == "truncate":
            return "empty"
        return "lookup" if looks_up_keys(params) else ""

    def start_query(self, params: ExportParams) -> str:
        """Create the run's query job (see pre_steps); returns its id, to be recorded before
        anything reads it."""
        if params.mode == "truncate":
            soql = f"SELECT Id FROM {params.object_name}"  # noqa: S608 (a checked object name)
        else:
            soql = lookup_soql(params.object_name, self._key_field(params)["name"])
        return self._bulk(params).start_query(soql)

    def use_query(self, params: ExportParams, columns: Sequence[str], job_id: str) -> None:
        """The recorded query job the run's steps read (a resumed run reads it again rather
        than running another: its results stay available)."""
        self._query_job = job_id
        if looks_up_keys(params) and self._lookup is None:
            self._lookup = KeyLookup(
                self._bulk(params),
                object_name=params.object_name,
                key_field=self._key_field(params),
                columns=list(columns),
                events=None,
                job_id=job_id,
            )

    def listed_ids(self, params: ExportParams) -> Iterator[str]:
        """The Ids the recorded query job listed (truncate), in its order."""
        for record in self._bulk(params).query_results(self._query_job):
            yield record.get("Id") or ""

    def delete_step(
        self,
        params: ExportParams,
        ids: Sequence[str],
        *,
        job_id: str,
        on_job,
        log=lambda message: None,
        stop_requested=None,
    ) -> steps.StepOutcome:
        """One delete (hardDelete with params.hard_delete) job over recorded Ids; a recorded
        `job_id` is reconciled as in run_step."""
        operation = "hardDelete" if params.hard_delete else "delete"
        return steps.run_step(
            self._bulk(params, cancelled=stop_requested),
            writer.Plan(params.object_name, operation),
            columns=["Id"],
            rows=[[record_id] for record_id in ids],
            job_id=job_id,
            on_job=on_job,
            log=log,
            key_case_sensitive=True,
        )

    def run_step(
        self,
        params: ExportParams,
        columns: Sequence[str],
        rows,
        *,
        job_id: str,
        on_job,
        log=lambda message: None,
        stop_requested=None,
    ) -> steps.StepOutcome:
        """One job over one recorded chunk; see steps.run_step."""
        plan = writer.plan_for(params)
        describe = self._describer(params)(params.object_name)
        key_field = next((f for f in describe["fields"] if f["name"] == plan.external_id_field), {})
        prepare = None
        if looks_up_keys(params):
            if self._lookup is None:
                raise ConnectorError("An update by a key other than Id needs its query job.")
            prepare = self._lookup
        return steps.run_step(
            self._bulk(params, cancelled=stop_requested),
            plan,
            columns=columns,
            rows=rows,
            job_id=job_id,
            on_job=on_job,
            log=log,
            key_case_sensitive=bool(key_field.get("caseSensitive")),
            prepare=prepare,
        )

    def abort_jobs(self, params: ExportParams, job_ids: Sequence[str]) -> list[str]:
        """Abort the ingest and query jobs among `job_ids` that are not finished."""
        bulk = BulkApi(self.session, api_version=params.api_version, retry=export_policy(params))
        aborted = []
        for job_id in job_ids:
            for kind in ("ingest", "query"):
                try:
                    state = bulk.job_info(job_id, kind=kind).get("state")
                except ConnectorError:
                    continue  # not a job of this kind (or gone)
                if state not in TERMINAL_STATES:
                    bulk.abort_job(job_id, kind=kind)
                    aborted.append(job_id)
                break
        return aborted

    def export_problems(self, params: ExportParams, columns: Sequence[str]) -> list[ConnectorError]:
        return export_problems(params, columns, self._describer(params))

    def list_objects(self) -> list[DestinationObject]:
        session = SalesforceSession(self.connection)
        try:
            return catalog.list_objects(
                session, api_version=DEFAULT_API_VERSION, retry=login_policy(self.connection)
            )
        finally:
            session.close()

    def describe_fields(self, object_name: str, *, api_version: str) -> list[DestinationField]:
        session = SalesforceSession(self.connection)
        try:
            describe = fetch_describe(
                session,
                api_version=api_version,
                object_name=object_name,
                retry=login_policy(self.connection),
            )
        finally:
            session.close()
        return catalog.destination_fields(describe)

    def write(
        self,
        params: ExportParams,
        columns: Sequence[str],
        rows: Iterable[Sequence[str]] | EncodedRows,
        sink: ResultSink,
    ) -> WriteResult:
        """Validate against the describe (nothing moves if that fails; skipped when this
        instance already validated these settings), then write.

        Login uses the connection's retry settings, data calls the export's. The result's
        job ids include query and delete jobs; see writer.write.
        """
        describe_of = self._describer(params)
        if params not in self._checked:
            check_export(params, columns, describe_of)
        bulk = BulkApi(
            self.session,
            api_version=params.api_version,
            retry=export_policy(params),
            cancelled=getattr(sink, "stop_requested", None),
        )
        return writer.write(
            bulk,
            params=params,
            describe=describe_of(params.object_name),
            columns=list(columns),
            rows=rows,
            sink=sink,
        )

    def dry_run(
        self,
        params: ExportParams,
        columns: Sequence[str],
        rows: Iterable[Sequence[str]],
        *,
        clear_rows: Iterable[Sequence[str]] = (),
        delete_keys: Iterable[str] = (),
    ) -> WritePlan:
        """Check the destination, look keys up with query jobs, read /limits; no ingest
        job is created."""
        session = self.session
        describe_of = self._describer(params)
        check_export(params, columns, describe_of)
        bulk = BulkApi(session, api_version=params.api_version, retry=export_policy(params))
        dry_run = DryRun(
            bulk,
            params=params,
            describe=describe_of(params.object_name),
            max_bytes=writer.MAX_JOB_BYTES,
        )
        if params.mode == "truncate":
            dry_run.truncate()
        dry_run.rows(columns, rows)
        dry_run.rows(columns, clear_rows, into="delete")
        dry_run.deletes(delete_keys)
        plan = dry_run.plan
        plan.api_calls += 1  # the describe
        plan.limits = self._limits(session, params)
        return plan

    def _limits(self, session: SalesforceSession, params: ExportParams) -> dict:
        """The org's limits left today (`/limits`: {"DailyApiRequests": {"Max", "Remaining"},
        ...}), or {} if they cannot be read."""
        response = session.request(
            "GET",
            f"/services/data/v{params.api_version}/limits/",
            retry=export_policy(params),
            headers={"Accept": "application/json"},
        )
        if response.status_code != 200:
            return {}
        return response.json()

    def record_ids(
        self, params: ExportParams, keys: Sequence[str], *, on_job
    ) -> tuple[list[tuple[str, str]], list[FailedRow]]:
        """The (Id, key) of each key naming exactly one record, and the others failed with
        the reason (one-cell rows [key]), for recorded delete steps (`delete_step`). Keys are
        Ids by Id; another key is looked up in the run's recorded query job (update by that
        key) or in one query job of this instance's own (its id handed to `on_job`)."""
        if params.key.lower() == "id":
            return [(key, key) for key in keys], []
        if self._key_ids is None:
            self._key_ids = KeyLookup(
                self._bulk(params),
                object_name=params.object_name,
                key_field=self._key_field(params),
                columns=[params.key],
                events=_JobIds(on_job),
                job_id=self._query_job if looks_up_keys(params) else "",
            )
        chunk = ChunkWriter([params.key], by_name([params.key]))
        for key in keys:
            chunk.add([key])
        written = chunk.finish()
        try:
            ids, failures = self._key_ids(written)
            try:
                pairs = [(row["Id"], ids.restore(row)[0]) for row in ids.rows()]
            finally:
                ids.close()
        finally:
            written.close()
        return pairs, failures

    def _bulk(self, params: ExportParams, *, cancelled=None) -> BulkApi:
        return BulkApi(
            self.session,
            api_version=params.api_version,
            retry=export_policy(params),
            cancelled=cancelled,
        )

    def _key_field(self, params: ExportParams) -> dict:
        describe = self._describer(params)(params.object_name)
        return next(f for f in describe["fields"] if f["name"].lower() == params.key.lower())

    def _describer(self, params: ExportParams):
        def describe_of(object_name: str) -> dict:
            key = (params.api_version, object_name)
            if key not in self._describes:
                self._describes[key] = fetch_describe(
                    self.session,
                    api_version=params.api_version,
                    object_name=object_name,
                    retry=export_policy(params),
                )
            return self._describes[key]

        return describe_of
