"""Splitting rows into job-sized CSV chunks, and the pure pieces of the key lookup."""

import itertools

from common.csvio import encode_row
from connectors.salesforce.chunks import split_lines, split_rows
from connectors.salesforce.lookup import lookup_queries, soql_literal


def chunk_text(chunk) -> str:
    chunk.file.seek(0)
    return chunk.file.read().decode("utf-8")


def test_splits_by_row_count():
    rows = [[f"user{i}@example.com", f"Name {i}"] for i in range(7)]

    chunks = list(split_rows(rows, ["Email", "LastName"], batch_size=3, max_bytes=10**9))

    assert [chunk.row_count for chunk in chunks] == [3, 3, 1]
    assert chunk_text(chunks[2]) == "Email,LastName\nuser6@example.com,Name 6\n"
    assert [list(row.values()) for row in chunks[1].rows()] == [
        ["user3@example.com", "Name 3"],
        ["user4@example.com", "Name 4"],
        ["user5@example.com", "Name 5"],
    ]


def test_splits_by_bytes_counting_the_header():
    header = b"Email\n"  # 6 bytes
    rows = [["a" * 9]] * 5  # 10 bytes per line

    chunks = list(split_rows(rows, ["Email"], batch_size=100, max_bytes=len(header) + 20))

    assert [chunk.row_count for chunk in chunks] == [2, 2, 1]
    assert all(len(chunk_text(chunk).encode()) <= 26 for chunk in chunks)


def test_a_row_larger_than_the_byte_limit_gets_its_own_chunk():
    rows = [["small"], ["x" * 100], ["small"]]

    chunks = list(split_rows(rows, ["Name"], batch_size=100, max_bytes=30))

    assert [chunk.row_count for chunk in chunks] == [1, 1, 1]
    assert chunk_text(chunks[1]) == "Name\n" + "x" * 100 + "\n"


def test_bytes_are_utf8_bytes_not_characters():
    rows = [["日本語"]] * 4  # 9 bytes + LF per line, 3 characters

    chunks = list(split_rows(rows, ["Name"], batch_size=100, max_bytes=5 + 20))

    assert [chunk.row_count for chunk in chunks] == [2, 2]


def test_reads_rows_lazily():
    consumed = []

    def rows():
        for i in itertools.count():
            consumed.append(i)
            yield [str(i)]

    chunks = split_rows(rows(), ["Name"], batch_size=2, max_bytes=10**9)
    first = next(chunks)

    assert first.row_count == 2
    assert consumed == [0, 1, 2]  # the third row starts the next chunk


def test_no_rows_no_chunks():
    assert list(split_rows([], ["Name"], batch_size=10, max_bytes=100)) == []


def test_csv_quotes_only_where_needed_and_ends_lines_with_lf():
    assert encode_row(["plain", "with,comma", 'with "quote"', "two\nlines", "", "#N/A"]) == (
        b'plain,"with,comma","with ""quote""","two\nlines",,#N/A\n'
    )


def test_chunk_rows_read_back_embedded_newlines_and_unicode():
    rows = [["two\nlines", "Zoë"], ['say "hi"', ""]]

    [chunk] = split_rows(rows, ["Description", "FirstName"], batch_size=10, max_bytes=10**9)

    assert [chunk.restore(row) for row in chunk.rows()] == rows


def test_soql_literal_escapes_quotes_and_backslashes():
    assert soql_literal("o'brien@example.com", numeric=False) == "'o\\'brien@example.com'"
    assert soql_literal("back\\slash", numeric=False) == "'back\\\\slash'"
    assert soql_literal("line\nbreak", numeric=False) == "'line\\nbreak'"


def test_soql_literal_of_numbers_refuses_non_numbers():
    assert soql_literal("42", numeric=True) == "42"
    assert soql_literal("1.50", numeric=True) == "1.50"
    assert soql_literal("42 OR Id != null", numeric=True) is None
    assert soql_literal("NaN", numeric=True) is None


def test_lookup_queries_stay_under_the_soql_length_limit(monkeypatch):
    monkeypatch.setattr("connectors.salesforce.lookup.MAX_SOQL_CHARS", 100)
    literals = [f"'user{i}@example.com'" for i in range(10)]

    queries = list(lookup_queries("Contact", "Email", literals))

    assert all(len(query) <= 100 for query in queries)
    assert queries[0] == (
        "SELECT Id, Email FROM Contact WHERE Email IN ('user0@example.com', 'user1@example.com')"
    )
    found = [part for query in queries for part in query.split("IN (")[1][:-1].split(", ")]
    assert found == literals


def test_encoded_lines_split_at_row_boundaries_by_count_and_bytes():
    # As PostgreSQL's COPY hands them out: one line per row, a quoted line break inside one.
    lines = [b'a,"two\nlines"\n', b"b,x\n", b"c,y\n", b"d,z\n"]
    header = ["Key", "Note"]  # "Key,Note\n": 9 bytes

    by_count = list(split_lines(iter(lines), header, batch_size=3, max_bytes=10**9))
    by_bytes = list(split_lines(iter(lines), header, batch_size=10, max_bytes=9 + 15 + 4))

    assert [chunk.row_count for chunk in by_count] == [3, 1]
    assert chunk_text(by_count[0]) == 'Key,Note\na,"two\nlines"\nb,x\nc,y\n'
    assert [chunk.row_count for chunk in by_bytes] == [2, 2]
    assert [row["Note"] for row in by_bytes[0].rows()] == ["two\nlines", "x"]
