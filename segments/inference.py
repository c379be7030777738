"""Columns and types proposed for a CSV file from its header and a sample of its rows.

A type is proposed only when every non-empty sampled value parses as that type with the very
parsers the import uses (segments/loading.py), so a proposal never makes its own sample fail.
"""

import csv
import io
from dataclasses import dataclass, field

from .loading import PARSERS
from .models import ColumnType

SAMPLE_ROWS = 1000
MAX_NAME_LENGTH = 100  # as a parent segment's column names
MAX_COLUMNS = 500
# Most specific first. Booleans only in words: 0/1 columns are more often numbers.
CANDIDATES = (
    ColumnType.INTEGER,
    ColumnType.NUMBER,
    ColumnType.DATE,
    ColumnType.TIMESTAMP,
    ColumnType.BOOLEAN,
)
BOOLEAN_WORDS = {"true", "false", "yes", "no"}
# Identifiers are text or whole numbers, never measures, flags or moments.
KEY_TYPES = (ColumnType.STRING, ColumnType.INTEGER)


@dataclass
class Inference:
    columns: list[dict] = field(default_factory=list)
    key_candidates: list[str] = field(default_factory=list)
    rows_sampled: int = 0


def infer_csv(file, sample_rows: int = SAMPLE_ROWS) -> Inference:
    """Read the header and up to `sample_rows` rows of a binary CSV file; propose columns.

    Key candidates are the string or integer columns whose sampled values are all present and
    distinct.
    Raises ValueError with a reason for a file without a header.
    """
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        names, values, sampled = _sample(csv.reader(text), sample_rows)
    except UnicodeDecodeError:
        raise ValueError("not a UTF-8 text file: save the CSV as UTF-8") from None
    except csv.Error as error:
        raise ValueError(f"unreadable CSV: {error}") from None
    finally:
        text.detach()
    inference = Inference(rows_sampled=sampled)
    for name, column_values in zip(names, values, strict=True):
        column_type = infer_type(column_values)
        inference.columns.append({"name": name, "type": column_type})
        present = [value for value in column_values if value.strip()]
        if (
            column_type in KEY_TYPES
            and present
            and len(present) == len(column_values) == len(set(present))
        ):
            inference.key_candidates.append(name)
    return inference


def _sample(reader, sample_rows: int) -> tuple[list[str], list[list[str]], int]:
    header = next(reader, None)
    if not header:
        raise ValueError("the file is empty: expected a header row naming the columns")
    names = [name.strip() for name in header]
    for name in names:
        if len(name) > MAX_NAME_LENGTH or "\x00" in name:
            raise ValueError(
                f"the header holds a column name longer than {MAX_NAME_LENGTH} characters "
                "or with a NUL: is the first line a CSV header?"
            )
    if len(names) > MAX_COLUMNS:
        raise ValueError(f"more than {MAX_COLUMNS} columns")
    values: list[list[str]] = [[] for _ in names]
    sampled = 0
    for row in reader:
        if not row:
            continue
        if sampled >= sample_rows:
            break
        sampled += 1
        for index in range(len(names)):
            values[index].append(row[index] if index < len(row) else "")
    return names, values, sampled


def infer_type(values: list[str]) -> str:
    present = [value for value in values if value != ""]
    if not present:
        return ColumnType.STRING
    for column_type in CANDIDATES:
        if column_type == ColumnType.BOOLEAN and any(
            value.strip().lower() not in BOOLEAN_WORDS for value in present
        ):
            continue
        try:
            for value in present:
                PARSERS[column_type](value)
        except ValueError:
            continue
        return column_type
    return ColumnType.STRING
