"""Downloads of run results: the failed rows as CSV, streamed."""

from collections.abc import Iterator

from common import csvio

from .models import Run

ROWS_PER_CHUNK = 500


def failed_rows_csv(run: Run) -> Iterator[bytes]:
    """The run's failed rows as CSV chunks, for a StreamingHttpResponse: the header is the
    run's output columns plus `sf__Error`, then one line per refused row in the order the
    results came. Reads the rows in batches, so memory stays flat however many failed."""
    yield csvio.encode_row([*run.columns, "sf__Error"])
    chunk: list[bytes] = []
    rows = run.failed_rows.order_by("pk").values_list("values", "error")
    for values, error in rows.iterator(chunk_size=2000):
        chunk.append(csvio.encode_row([*values, error]))
        if len(chunk) >= ROWS_PER_CHUNK:
            yield b"".join(chunk)
            chunk = []
    if chunk:
        yield b"".join(chunk)
