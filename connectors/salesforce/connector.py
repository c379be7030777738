"""SalesforceConnector: the Connector interface over our own Bulk API 2.0 client."""

import functools
from collections.abc import Iterable, Sequence

from connectors.base import (
    Connector,
    ConnectorError,
    DestinationField,
    DestinationObject,
    EncodedRows,
    ExportParams,
    ResultSink,
    WritePlan,
    WriteResult,
)

from . import catalog, writer
from .auth import SalesforceSession, login_policy
from .bulk import BulkApi
from .describe import check_export, export_problems, fetch_describe
from .dryrun import DryRun
from .http import RetryPolicy, error_message

# The API version "Test connection" uses to check a pasted session id.
DEFAULT_API_VERSION = "59.0"


def export_policy(params: ExportParams) -> RetryPolicy:
    return RetryPolicy(limit=params.retry_limit, initial_delay=params.retry_initial_delay)


class SalesforceConnector(Connector):
    """Salesforce through Bulk API 2.0; one session (one login) per call."""

    label = "Salesforce"
    accepts_encoded_rows = True

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
        session = SalesforceSession(self.connection)
        try:
            check_export(params, columns, self._describer(session, params))
        finally:
            session.close()

    def export_problems(self, params: ExportParams, columns: Sequence[str]) -> list[ConnectorError]:
        session = SalesforceSession(self.connection)
        try:
            return export_problems(params, columns, self._describer(session, params))
        finally:
            session.close()

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
        """Validate against the describe (nothing moves if that fails), then write.

        Login uses the connection's retry settings, data calls the export's. The result's
        job ids include query and delete jobs; see writer.write.
        """
        session = SalesforceSession(self.connection)
        try:
            describe_of = self._describer(session, params)
            check_export(params, columns, describe_of)
            bulk = BulkApi(
                session,
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
        finally:
            session.close()

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
        session = SalesforceSession(self.connection)
        try:
            describe_of = self._describer(session, params)
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
        finally:
            session.close()

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

    def delete(self, params: ExportParams, keys: Iterable[str], sink: ResultSink) -> WriteResult:
        """Delete records by their key (Id, or another key looked up with query jobs)."""
        session = SalesforceSession(self.connection)
        try:
            describe_of = self._describer(session, params)
            bulk = BulkApi(
                session,
                api_version=params.api_version,
                retry=export_policy(params),
                cancelled=getattr(sink, "stop_requested", None),
            )
            return writer.delete_records(
                bulk,
                params=params,
                describe=describe_of(params.object_name),
                keys=keys,
                sink=sink,
            )
        finally:
            session.close()

    def _describer(self, session: SalesforceSession, params: ExportParams):
        @functools.cache
        def describe_of(object_name: str) -> dict:
            return fetch_describe(
                session,
                api_version=params.api_version,
                object_name=object_name,
                retry=export_policy(params),
            )

        return describe_of
