"""A scriptable in-memory destination for runner tests: the network edge, replaced.

Registered as connector kind "fake" by the `fake_connector` fixture. Tests that need real
Salesforce behaviour use the emulator instead.
"""

from dataclasses import dataclass, field

from connectors import registry
from connectors.base import Connector, ConnectorError, FailedRow, WriteResult


@dataclass
class FakeDestination:
    """What the fake connector does and what it received."""

    written: list[list[str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    # A row (list of cells) for which this returns a string fails with that error.
    refuse: object = None
    validate_error: ConnectorError | None = None
    write_error: ConnectorError | None = None
    # Called with the number of the job about to be reported (1-based), before reporting.
    before_report: object = None
    jobs: int = 0


class FakeConnector(Connector):
    label = "Fake"
    destination = FakeDestination()

    def verify(self) -> None:
        pass

    def validate_export(self, params, columns) -> None:
        if self.destination.validate_error is not None:
            raise self.destination.validate_error

    def write(self, params, columns, rows, sink) -> WriteResult:
        destination = self.destination
        destination.columns = list(columns)
        result = WriteResult()
        chunk: list[list[str]] = []
        for row in rows:
            chunk.append(list(row))
            if len(chunk) == params.batch_size:
                self._send(chunk, sink, result)
                chunk = []
        if chunk:
            self._send(chunk, sink, result)
        return result

    def _send(self, chunk, sink, result) -> None:
        destination = self.destination
        destination.jobs += 1
        job_id = f"750FAKE{destination.jobs:011d}"
        sink.job_started(job_id)
        result.job_ids.append(job_id)
        if destination.write_error is not None:
            raise destination.write_error
        if destination.before_report is not None:
            destination.before_report(destination.jobs)
        failed = []
        succeeded = 0
        for row in chunk:
            reason = destination.refuse(row) if destination.refuse else None
            if reason:
                failed.append(FailedRow(values=row, error=reason))
            else:
                destination.written.append(row)
                succeeded += 1
        sink.log(f"Job {job_id}: {succeeded} succeeded, {len(failed)} failed.")
        sink.rows_succeeded(succeeded)
        if failed:
            sink.rows_failed(failed)
        result.rows_sent += len(chunk)
        result.rows_succeeded += succeeded
        result.rows_failed += len(failed)


def register_fake_connector(monkeypatch) -> FakeDestination:
    """Register connector kind "fake" for the test (monkeypatch undoes it) and return the
    fresh FakeDestination its connections write to."""
    monkeypatch.setitem(
        registry.CONNECTORS, "fake", ("Fake", "tests.activations.fake_connector.FakeConnector")
    )
    registry.connector_class.cache_clear()
    destination = FakeDestination()
    monkeypatch.setattr(FakeConnector, "destination", destination)
    return destination
