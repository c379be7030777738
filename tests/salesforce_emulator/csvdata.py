"""Reading uploaded job CSV and writing result CSVs the way Salesforce quotes them."""

import csv
import io

DELIMITERS = {
    "BACKQUOTE": "`",
    "CARET": "^",
    "COMMA": ",",
    "PIPE": "|",
    "SEMICOLON": ";",
    "TAB": "\t",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}


def line_ending_mismatch(text: str, line_ending: str) -> bool:
    """True when the data's line breaks disagree with the job's lineEnding.

    Only breaks outside quoted values count, since values may hold newlines.
    """
    in_quotes = False
    previous = ""
    for char in text:
        if char == '"':
            in_quotes = not in_quotes
        elif char == "\n" and not in_quotes and (previous == "\r") != (line_ending == "CRLF"):
            return True
        previous = char
    return False


def parse(text: str, delimiter_name: str) -> list[list[str]]:
    """All rows (header first); blank lines are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[delimiter_name])
    return [row for row in reader if row]


def quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def minimal(value: str, delimiter: str) -> str:
    if any(char in value for char in (delimiter, '"', "\n", "\r")):
        return quote(value)
    return value


def result_csv(
    prefix: list[str],
    header: list[str],
    rows: list[list[str]],
    delimiter_name: str,
    newline: str = "\n",
) -> str:
    """A results file: the sf__ names quoted, the original header as uploaded, every value quoted.

    Real body: "sf__Id","sf__Created",Name,ShippingCity / "001...","true","Lorem Ipsum","Milano".
    """
    delimiter = DELIMITERS[delimiter_name]
    lines = [
        delimiter.join([quote(name) for name in prefix] + [minimal(n, delimiter) for n in header])
    ]
    lines.extend(delimiter.join(quote(value) for value in row) for row in rows)
    return newline.join(lines) + newline


def plain_csv(
    header: list[str], rows: list[list[str]], delimiter_name: str, newline: str = "\n"
) -> str:
    """Rows as uploaded (unprocessed records): minimal quoting."""
    delimiter = DELIMITERS[delimiter_name]
    lines = [delimiter.join(minimal(value, delimiter) for value in row) for row in [header, *rows]]
    # A one-column row holding an empty value must not become a blank line, which readers skip.
    lines = [line if line else '""' for line in lines]
    return newline.join(lines) + newline


def query_csv(
    header: list[str], rows: list[list[str]], delimiter_name: str, line_ending: str
) -> str:
    """Query results: every name and value quoted."""
    delimiter = DELIMITERS[delimiter_name]
    newline = LINE_ENDINGS[line_ending]
    lines = [delimiter.join(quote(value) for value in row) for row in [header, *rows]]
    return newline.join(lines) + newline
