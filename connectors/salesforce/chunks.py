"""Rows cut into job-sized CSV chunks, each kept in a spooled file until its job takes it."""

import csv
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from common.csvio import encode_row

# Chunks larger than this are kept on disk while they wait for their job.
SPOOL_BYTES = 8 * 1024 * 1024


@dataclass
class Chunk:
    """The CSV of one job (header included), kept in a spooled file.

    `restore` turns a row as Salesforce echoes it in a result file (a dict by column name)
    back into the values of the run's output columns, so failed rows read like the input.
    """

    header: list[str]
    file: IO[bytes]
    row_count: int
    restore: Callable[[dict[str, str]], list[str]]

    def rows(self) -> Iterator[dict[str, str]]:
        self.file.seek(0)
        text = io.TextIOWrapper(self.file, encoding="utf-8", newline="")
        try:
            yield from csv.DictReader(text)
        finally:
            text.detach()

    def close(self) -> None:
        self.file.close()


class ChunkWriter:
    """Builds one Chunk row by row."""

    def __init__(self, header: Sequence[str], restore) -> None:
        self.header = list(header)
        self.restore = restore
        # Lives as long as its Chunk, which closes it.
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self.size = self.file.write(encode_row(self.header))
        self.row_count = 0

    def add(self, values: Sequence[str]) -> None:
        self.add_line(encode_row(values))

    def add_line(self, line: bytes) -> None:
        self.size += self.file.write(line)
        self.row_count += 1

    def would_exceed(self, line: bytes, max_bytes: int) -> bool:
        return self.row_count > 0 and self.size + len(line) > max_bytes

    def finish(self) -> Chunk:
        return Chunk(self.header, self.file, self.row_count, self.restore)


def by_name(columns: Sequence[str]) -> Callable[[dict[str, str]], list[str]]:
    columns = list(columns)
    return lambda row: [row.get(column) or "" for column in columns]


def split_rows(
    rows: Iterable[Sequence[str]],
    columns: Sequence[str],
    *,
    batch_size: int,
    max_bytes: int,
) -> Iterator[Chunk]:
    """Cut rows into chunks of at most `batch_size` rows and `max_bytes` bytes of CSV
    (header included); a single row larger than that still gets a chunk of its own.

    Rows are consumed lazily: only the chunk being built is read from `rows`.
    """
    return split_lines(map(encode_row, rows), columns, batch_size=batch_size, max_bytes=max_bytes)


def split_lines(
    lines: Iterable[bytes],
    columns: Sequence[str],
    *,
    batch_size: int,
    max_bytes: int,
) -> Iterator[Chunk]:
    """split_rows for rows already encoded: one CSV line (bytes, LF-terminated) per row, as
    common.csvio or PostgreSQL's COPY … CSV writes them. The lines are copied into the
    chunks' files as they come; nothing is decoded."""
    restore = by_name(columns)
    writer: ChunkWriter | None = None
    for line in lines:
        if writer and (writer.row_count >= batch_size or writer.would_exceed(line, max_bytes)):
            yield writer.finish()
            writer = None
        if writer is None:
            writer = ChunkWriter(columns, restore)
        writer.add_line(line)
    if writer is not None:
        yield writer.finish()
