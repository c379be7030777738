"""RFC 4180 CSV for Salesforce Bulk API uploads: UTF-8, LF line endings, quoted only when needed."""

import csv
import threading
from collections.abc import Iterable, Sequence
from typing import BinaryIO

# The csv module quotes a field (QUOTE_MINIMAL) when it holds the delimiter, the quote, or a
# character of the line terminator. With "\n" alone a bare CR would go out unquoted, so rows
# are written with "\r\n" and the CR is cut off the end of each row.
_TERMINATOR = "\r\n"


class _RowEncoder(threading.local):
    """One reusable writer per thread: building a writer per row costs more than the row."""

    def __init__(self) -> None:
        # writerow() returns what its file's write() returns; with str() that is the line.
        self.write = str
        self.writer = csv.writer(self, lineterminator=_TERMINATOR)

    def encode(self, values: Sequence[str]) -> bytes:
        return (self.writer.writerow(values)[:-2] + "\n").encode()


_encoder = _RowEncoder()


def encode_row(values: Sequence[str]) -> bytes:
    """One CSV line, ending in LF, as UTF-8 bytes (no BOM).

    A field is quoted when it holds a comma, a double quote, CR or LF, with quotes doubled;
    every other field, including an empty one and `#N/A`, goes out as is. A row of one empty
    field is written `""` so that it is not mistaken for a blank line.
    """
    return _encoder.encode(values)


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[str]], file: BinaryIO) -> int:
    """Write the header and then each row to the binary `file`; return the number of rows."""
    file.write(encode_row(columns))
    count = 0
    for row in rows:
        file.write(encode_row(row))
        count += 1
    return count


def split_last(line: bytes) -> tuple[bytes, str]:
    """A line of `encode_row` (or of PostgreSQL's COPY … CSV) as the line of all its fields
    but the last, and the last field's value (a run's key cell). A quoted field's quotes
    come in pairs, so walking back from its closing quote, the first quote not doubled is
    its opening one."""
    if line.endswith(b'"\n'):
        start = len(line) - 3
        while True:
            start = line.rindex(b'"', 0, start + 1)
            if line[start - 1 : start] != b'"':
                break
            start -= 2
        key = line[start + 1 : -2].replace(b'""', b'"').decode()
        cut = start - 1
    else:
        cut = line.rfind(b",")
        key = line[cut + 1 : -1].decode()
    # A lone empty cell is written "" (an empty line would be no row at all).
    return (line[:cut] + b"\n") if cut > 0 else b'""\n', key
