"""Helpers for the connector tests: a sink that records what a write reports, fast timings."""

from connectors.base import ExportParams


class RecordingSink:
    """A ResultSink that keeps everything it is told."""

    def __init__(self) -> None:
        self.job_ids: list[str] = []
        self.succeeded = 0
        self.failed = []
        self.messages: list[str] = []

    def job_started(self, job_id: str) -> None:
        self.job_ids.append(job_id)

    def rows_succeeded(self, count: int) -> None:
        self.succeeded += count

    def rows_failed(self, rows) -> None:
        self.failed.extend(rows)

    def log(self, message: str) -> None:
        self.messages.append(message)

    def failures(self) -> list[tuple[list[str], str]]:
        """(values, error) pairs sorted, since result order is not guaranteed."""
        return sorted((row.values, row.error) for row in self.failed)


def export(**fields) -> ExportParams:
    """Export settings for tests: Contact, append, tiny retry delays."""
    fields.setdefault("mode", "append")
    fields.setdefault("object_name", "Contact")
    fields.setdefault("retry_initial_delay", 0.01)
    fields.setdefault("retry_limit", 3)
    return ExportParams(**fields)


def speed_up(monkeypatch) -> None:
    """Poll jobs every few hundredths of a second instead of every few seconds."""
    monkeypatch.setattr("connectors.salesforce.bulk.POLL_INITIAL_SECONDS", 0.02)
    monkeypatch.setattr("connectors.salesforce.bulk.POLL_MAX_SECONDS", 0.1)
