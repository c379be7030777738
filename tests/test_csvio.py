"""CSV encoding for Salesforce: RFC 4180 quoting, UTF-8 without BOM, LF line endings."""

import csv
import io
import threading

import pytest

from common import csvio


@pytest.mark.parametrize(
    ("values", "line"),
    [
        (["a", "b", "c"], b"a,b,c\n"),
        (["a,b"], b'"a,b"\n'),
        (['say "hi"'], b'"say ""hi"""\n'),
        (['"'], b'""""\n'),
        (["two\nlines"], b'"two\nlines"\n'),
        (["carriage\rreturn"], b'"carriage\rreturn"\n'),
        (["windows\r\nline"], b'"windows\r\nline"\n'),
        (["", "x", ""], b",x,\n"),
        ([""], b'""\n'),
        ([], b"\n"),
        (["#N/A", "true", "2024-05-01T09:30:00Z"], b"#N/A,true,2024-05-01T09:30:00Z\n"),
        (["  spaced  ", "tab\there"], b"  spaced  ,tab\there\n"),
        (["semi;colon", "pipe|", "single'quote"], b"semi;colon,pipe|,single'quote\n"),
        (["日本語", "Émilie", "😀"], "日本語,Émilie,😀\n".encode()),
    ],
)
def test_encodes_a_row_quoting_only_when_needed(values, line):
    assert csvio.encode_row(values) == line


def test_encoding_is_utf8_without_a_bom():
    line = csvio.encode_row(["名前"])

    assert line == b"\xe5\x90\x8d\xe5\x89\x8d\n"
    assert not line.startswith(b"\xef\xbb\xbf")


def test_each_row_stands_alone():
    assert csvio.encode_row(["a,b"]) == b'"a,b"\n'
    assert csvio.encode_row(["c"]) == b"c\n"


TRICKY_ROWS = [
    ["plain", "with,comma", 'with "quotes"', "multi\nline", "cr\ronly", "crlf\r\nend"],
    ["", " ", '""', ",", "\n", "日本 語"],
    ["#N/A", "", "x" * 10_000, 'a"b,c\nd', "trailing space ", "\u2028separator"],
]


def test_write_csv_writes_the_header_and_rows_and_reads_back_identically():
    file = io.BytesIO()

    count = csvio.write_csv(["Name", "Note__c"] * 3, iter(TRICKY_ROWS), file)

    assert count == 3
    data = file.getvalue()
    assert data.startswith(b"Name,Note__c,Name,Note__c,Name,Note__c\n")
    assert b"\r\n" not in data.replace(b'"crlf\r\nend"', b"")
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert parsed == [["Name", "Note__c"] * 3, *TRICKY_ROWS]


def test_write_csv_of_no_rows_is_the_header_alone():
    file = io.BytesIO()

    assert csvio.write_csv(["Id"], [], file) == 0
    assert file.getvalue() == b"Id\n"


def test_encoding_from_several_threads_does_not_mix_rows():
    results: dict[int, set[bytes]] = {}

    def encode(number):
        values = [str(number) * 3, f"x,{number}", f'q"{number}']
        results[number] = {csvio.encode_row(values) for _ in range(2000)}

    threads = [threading.Thread(target=encode, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == {
        number: {f'{str(number) * 3},"x,{number}","q""{number}"\n'.encode()} for number in range(4)
    }


@pytest.mark.parametrize(
    ("cells", "last"),
    [
        (["a", "b"], "C0001"),
        (["", ""], ""),
        ([""], "key"),  # a lone empty cell stays ""
        (['say "hi"', "x,y"], 'k"e,y'),
        (["line\nbreak"], '"'),
        (['ends with quote"'], '""'),
        (["é"], "a\r\nb"),
    ],
)
def test_split_last_gives_the_line_without_its_last_field_and_that_fields_value(cells, last):
    line = csvio.encode_row([*cells, last])

    assert csvio.split_last(line) == (csvio.encode_row(cells), last)
