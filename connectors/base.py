"""The connector interface: what activations need from any destination.

A connector validates export settings and an output mapping against its destination, and
writes a stream of rendered rows, telling a sink what happened to every row. Activations
only ever talk to this interface, so a new destination needs no change outside connectors/.
"""

import abc
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from common.errors import ServiceError


class ConnectorError(ServiceError):
    """A failure talking to the destination.

    `retryable` is True for transient trouble (network, 5xx, limits, locks) and False for
    configuration or data problems (bad credentials, unknown object or field), which count
    toward disabling a scheduled activation. `field` names the setting at fault, if any.
    An unhandled one reaches the API as a 400: a destination problem, said plainly.
    """

    def __init__(self, message: str, *, retryable: bool = False, field: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.field = field


@dataclass(frozen=True)
class ExportParams:
    """The export settings of an activation, as a connector reads them."""

    mode: str  # "append" | "update" | "truncate"
    object_name: str
    upsert: bool = False
    key: str = ""
    hard_delete: bool = False
    concurrency_mode: str = "parallel"  # "parallel" | "serial"
    batch_size: int = 10_000
    api_version: str = "59.0"
    retry_initial_delay: float = 1.0
    retry_limit: int = 3
    # (output column, parent column type) pairs, so that a destination can refuse a column
    # whose values cannot fit its field; String Builder columns are "string".
    column_types: tuple[tuple[str, str], ...] = ()


@dataclass
class FailedRow:
    """A row the destination refused, with its reason (Salesforce's sf__Error)."""

    values: list[str]
    error: str


@dataclass
class WriteResult:
    """What a write did: every row sent is either succeeded or failed."""

    rows_sent: int = 0
    rows_succeeded: int = 0
    rows_failed: int = 0
    job_ids: list[str] = field(default_factory=list)


class EncodedRows:
    """Rows already encoded as CSV, one line (bytes) per row, header excluded: UTF-8, LF line
    ends, a field quoted only when it holds a comma, a quote, CR or LF (common.csvio's
    dialect, which PostgreSQL's COPY … CSV also writes). A connector whose
    `accepts_encoded_rows` is True takes them in place of lists of cells, so the rows go
    from the database into the upload without being decoded and encoded again."""

    def __init__(self, lines: Iterable[bytes]) -> None:
        self.lines = lines

    def __iter__(self):
        return iter(self.lines)


@dataclass(frozen=True)
class DestinationObject:
    """An object (table) of the destination that rows can be written to."""

    name: str  # the API name, e.g. Contact or Audience_Member__c
    label: str
    custom: bool = False
    createable: bool = True
    updateable: bool = True


# The parent segment column types (segments' typed columns), for DestinationField.accepts.
SOURCE_TYPES = ("string", "integer", "number", "boolean", "date", "timestamp")


@dataclass(frozen=True)
class DestinationField:
    """A field of a destination object, as the mapping editor shows it.

    `required` means a new record cannot be created without it; `accepts` lists the source
    column types whose values the field takes as they are rendered (a column of another type
    is shown as a type mismatch next to its row).
    """

    name: str
    label: str
    type: str
    required: bool = False
    external_id: bool = False
    id_lookup: bool = False
    createable: bool = True
    updateable: bool = True
    relationship_name: str = ""
    reference_to: tuple[str, ...] = ()
    accepts: tuple[str, ...] = SOURCE_TYPES


@dataclass
class WritePlan:
    """What a write would do, worked out without writing (a dry run): rows by outcome,
    the jobs and API calls it would take, and the destination's limits left today."""

    insert: int = 0
    update: int = 0
    delete: int = 0
    invalid: int = 0
    jobs: int = 0
    api_calls: int = 0
    limits: dict = field(default_factory=dict)


class ResultSink(Protocol):
    """Receives outcomes while a write progresses, so nothing piles up in memory.

    The runner implements it to store progress and failed rows in the database as they come.
    A sink may also carry `stop_requested`, a threading.Event set when the run is cancelled:
    a connector waiting on its destination watches it, aborts what is in flight, and fails
    the rows not sent (connectors read it with getattr, so it is optional). A sink may also
    have `rows_accepted(rows)`, taking the values of the rows that succeeded (in `columns`
    order) instead of `rows_succeeded(count)`: a connector that can tell them calls it (with
    getattr), so that the sink knows which rows the destination has.
    """

    def job_started(self, job_id: str) -> None: ...

    def rows_succeeded(self, count: int) -> None: ...

    def rows_failed(self, rows: Sequence[FailedRow]) -> None: ...

    def log(self, message: str) -> None: ...


class Connector(abc.ABC):
    """A destination. Instances are built from a saved Connection."""

    label: ClassVar[str]
    # Whether write() takes EncodedRows as well as lists of cells.
    accepts_encoded_rows: ClassVar[bool] = False

    def __init__(self, connection) -> None:
        self.connection = connection

    @abc.abstractmethod
    def verify(self) -> None:
        """Log in ("Test connection"); raise ConnectorError with a clear message on failure."""

    @abc.abstractmethod
    def validate_export(self, params: ExportParams, columns: Sequence[str]) -> None:
        """Check the settings and output column names against the destination before any row
        moves; raise ConnectorError whose `field` names the column or setting at fault."""

    def check_capacity(
        self, params: ExportParams, row_count: int, *, deleting: bool = True
    ) -> None:
        """Before a run writes `row_count` rows: raise ConnectorError when the destination
        cannot take them now (its daily limits, say). `deleting` False: a resumed run whose
        deletions are already listed (truncate), not to be counted again. By default there
        is nothing to check."""
        return

    def resumable(self, params: ExportParams) -> bool:
        """Whether runs with these settings can be written step by step (`run_step`), so
        that a run whose worker died is resumed instead of failed. By default not."""
        return False

    def run_step(self, params: ExportParams, columns: Sequence[str], rows, *, job_id, on_job):
        """Write one recorded chunk in one job (see connectors/salesforce/steps.py)."""
        raise NotImplementedError

    def pre_steps(self, params: ExportParams) -> str:
        """What a recorded run does before its chunks (activations/prephase.py): "" for
        nothing, "lookup" for one query job whose results the steps read (`start_query`,
        `use_query`), "empty" for a query job listing every record (`listed_ids`) that
        delete steps (`delete_step`) remove before the chunks are inserted."""
        return ""

    def start_query(self, params: ExportParams) -> str:
        """Create the run's query job (see pre_steps); return its id."""
        raise NotImplementedError

    def use_query(self, params: ExportParams, columns: Sequence[str], job_id: str) -> None:
        """Read the recorded query job `job_id` (a resumed run reads it again)."""
        raise NotImplementedError

    def listed_ids(self, params: ExportParams) -> Iterator[str]:
        """The record ids the recorded query job listed ("empty")."""
        raise NotImplementedError

    def delete_step(self, params: ExportParams, ids: Sequence[str], *, job_id, on_job):
        """Delete recorded ids in one job, reconciling a recorded `job_id` as run_step does."""
        raise NotImplementedError

    def record_ids(self, params: ExportParams, keys: Sequence[str], *, on_job):
        """(Id, key) pairs for the keys naming one record each, and FailedRows ([key]) for
        the others, so that delete steps are recorded by Id (see the Salesforce connector)."""
        raise NotImplementedError

    def abort_jobs(self, params: ExportParams, job_ids: Sequence[str]) -> list[str]:
        """Stop the jobs of a run whose worker died, those still open or in progress; return
        the ids aborted. By default there are none."""
        return []

    def close(self) -> None:
        """Release what the instance kept between calls (a session); it serves one run."""
        return

    def export_problems(self, params: ExportParams, columns: Sequence[str]) -> list[ConnectorError]:
        """Every problem validate_export would find, not just the first, for an editor that
        shows each next to its field. A connector that cannot tell more than the first may
        keep this default."""
        try:
            self.validate_export(params, columns)
        except ConnectorError as error:
            return [error]
        return []

    def list_objects(self) -> list[DestinationObject]:
        """The objects rows can be written to, for the editor's object picker."""
        raise ConnectorError(f"{self.label} cannot list its objects.")

    def describe_fields(self, object_name: str, *, api_version: str) -> list[DestinationField]:
        """The fields of one object, for the editor's field picker; raises ConnectorError
        (field="export.object") for an unknown object."""
        raise ConnectorError(f"{self.label} cannot describe its objects.")

    @abc.abstractmethod
    def write(
        self,
        params: ExportParams,
        columns: Sequence[str],
        rows: Iterable[Sequence[str]],
        sink: ResultSink,
    ) -> WriteResult:
        """Write rows (lists of final CSV cell strings, in `columns` order, or EncodedRows
        when the connector accepts them) to the destination.

        Every row consumed from `rows` must end up counted as succeeded or failed through
        `sink`; the returned totals match what the sink was told.
        """

    def dry_run(
        self,
        params: ExportParams,
        columns: Sequence[str],
        rows: Iterable[Sequence[str]],
        *,
        clear_rows: Iterable[Sequence[str]] = (),
        delete_keys: Iterable[str] = (),
    ) -> WritePlan:
        """What writing `rows` (then `clear_rows`, counted as deletes, and deleting the
        records of `delete_keys`) would do, without writing anything."""
        raise ConnectorError(f"{self.label} cannot tell what a run would do.")

    def delete(self, params: ExportParams, keys: Iterable[str], sink: ResultSink) -> WriteResult:
        """Delete the records whose `params.key` is one of `keys` (incremental sync: rows
        that left the segment). Outcomes reach `sink` as one-cell rows [key]."""
        raise ConnectorError(f"{self.label} cannot delete records.")
