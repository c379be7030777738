"""CSV import of parent segment rows: types, errors with lines, atomicity, modes, flat memory."""

import io
import re
import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection as db_connection

from segments import loading
from segments.loading import CHUNK_SIZE, MAX_REPORTED_ERRORS, RowError, import_profiles, parse_value
from segments.models import ParentSegment, Profile
from tests.factories import make_parent_segment, make_workspace

HEADER = "customer_id,email,first_name,last_name,country,age,lifetime_value,consent,signup_date,last_seen_at"


def csv_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


def rows_of(parent) -> dict[str, dict]:
    return {
        profile.key: profile.attributes for profile in Profile.objects.filter(parent_segment=parent)
    }


@pytest.fixture
def parent(db):
    return make_parent_segment(workspace=make_workspace())


def test_imports_every_column_as_its_type(parent):
    file = csv_file(
        HEADER + "\n"
        "c1,ann@example.com,Ann,Lee,JP,34,1200.50,true,2024-03-01,2024-03-05T10:15:00Z\n"
        "c2,bob@example.com,Bob,Kim,KR,41,80,no,2023-12-31,2024-03-05 19:00:00+09:00\n"
    )

    result = import_profiles(parent_segment=parent, file=file)

    assert result.errors == []
    assert result.rows_imported == 2
    assert rows_of(parent) == {
        "c1": {
            "customer_id": "c1",
            "email": "ann@example.com",
            "first_name": "Ann",
            "last_name": "Lee",
            "country": "JP",
            "age": 34,
            "lifetime_value": 1200.5,
            "consent": True,
            "signup_date": "2024-03-01",
            "last_seen_at": "2024-03-05T10:15:00Z",
        },
        "c2": {
            "customer_id": "c2",
            "email": "bob@example.com",
            "first_name": "Bob",
            "last_name": "Kim",
            "country": "KR",
            "age": 41,
            "lifetime_value": 80,
            "consent": False,
            "signup_date": "2023-12-31",
            "last_seen_at": "2024-03-05T10:00:00Z",
        },
    }
    parent.refresh_from_db()
    assert parent.row_count == 2


def test_empty_cells_and_columns_left_out_of_the_file_are_null(parent):
    file = csv_file("customer_id,email,age\nc1,,\nc2,b@example.com,7\n")

    result = import_profiles(parent_segment=parent, file=file)

    assert result.errors == []
    nulls = dict.fromkeys(parent.column_names)
    assert rows_of(parent) == {
        "c1": {**nulls, "customer_id": "c1"},
        "c2": {**nulls, "customer_id": "c2", "email": "b@example.com", "age": 7},
    }


def test_reads_a_byte_order_mark_crlf_line_endings_and_quoted_values(parent):
    file = io.BytesIO(
        "\ufeffcustomer_id,first_name,last_name\r\n"
        'c1,"Lee, Ann","O""Brien"\r\n'
        'c2,"two\r\nlines",  Kim  \r\n'.encode()
    )

    result = import_profiles(parent_segment=parent, file=file)

    assert result.errors == []
    rows = rows_of(parent)
    assert rows["c1"]["first_name"] == "Lee, Ann"
    assert rows["c1"]["last_name"] == 'O"Brien'
    assert rows["c2"]["first_name"] == "two\r\nlines"
    # Strings are kept exactly as written, spaces included.
    assert rows["c2"]["last_name"] == "  Kim  "


def test_skips_blank_lines(parent):
    result = import_profiles(parent_segment=parent, file=csv_file("customer_id\nc1\n\nc2\n\n"))

    assert result.errors == []
    assert sorted(rows_of(parent)) == ["c1", "c2"]


@pytest.mark.parametrize(
    ("column_type", "text", "value"),
    [
        ("string", " a b ", " a b "),
        ("integer", "42", 42),
        ("integer", " -7 ", -7),
        ("integer", "+3", 3),
        ("integer", "9223372036854775807", 9223372036854775807),
        ("number", "1000", 1000),
        ("number", "-0.25", -0.25),
        ("number", "1.5e3", 1500.0),
        ("number", ".5", 0.5),
        ("boolean", "TRUE", True),
        ("boolean", "Yes", True),
        ("boolean", "1", True),
        ("boolean", "false", False),
        ("boolean", "NO", False),
        ("boolean", "0", False),
        ("date", "2024-02-29", "2024-02-29"),
        ("timestamp", "2024-05-01T09:30:00Z", "2024-05-01T09:30:00Z"),
        ("timestamp", "2024-05-01T09:30:00", "2024-05-01T09:30:00Z"),
        ("timestamp", "2024-05-01 09:30", "2024-05-01T09:30:00Z"),
        ("timestamp", "2024-05-01T09:30:00+02:00", "2024-05-01T07:30:00Z"),
        ("timestamp", "2024-05-01T09:30:00.250-01:00", "2024-05-01T10:30:00.250000Z"),
        ("timestamp", "2024-05-01", "2024-05-01T00:00:00Z"),
        ("timestamp", "0999-12-31T23:00:00-02:00", "1000-01-01T01:00:00Z"),
        ("integer", "", None),
        ("string", "", None),
    ],
)
def test_parses_values_of_each_type(column_type, text, value):
    parsed = parse_value(column_type, text)

    assert parsed == value
    assert type(parsed) is type(value)


NOT_A_TIMESTAMP = "is not a timestamp (ISO 8601, e.g. 2024-05-01T09:30:00Z)"


@pytest.mark.parametrize(
    ("column_type", "text", "message"),
    [
        ("integer", "4.5", "'4.5' is not an integer"),
        ("integer", "abc", "'abc' is not an integer"),
        ("integer", str(2**63), f"'{2**63}' is out of range for an integer (64 bits)"),
        ("number", "1,5", "'1,5' is not a number"),
        ("number", "nan", "'nan' is not a number"),
        ("number", "inf", "'inf' is not a number"),
        ("number", "1e999", "'1e999' is out of range for a number"),
        ("boolean", "maybe", "'maybe' is not a boolean (use true/false, 1/0 or yes/no)"),
        ("date", "2024-02-30", "'2024-02-30' is not a date (YYYY-MM-DD)"),
        ("date", "01/02/2024", "'01/02/2024' is not a date (YYYY-MM-DD)"),
        ("date", "2024-1-2", "'2024-1-2' is not a date (YYYY-MM-DD)"),
        ("string", "a\x00b", "contains a NUL character"),
        ("timestamp", "yesterday", f"'yesterday' {NOT_A_TIMESTAMP}"),
        ("timestamp", "2024-05-01T25:00:00Z", f"'2024-05-01T25:00:00Z' {NOT_A_TIMESTAMP}"),
    ],
)
def test_rejects_values_that_do_not_match_their_type(column_type, text, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_value(column_type, text)


def test_reports_each_bad_value_with_its_line_column_and_reason(parent):
    file = csv_file(
        "customer_id,age,lifetime_value,consent,signup_date,last_seen_at\n"
        "c1,30,10.5,true,2024-01-01,2024-01-01T00:00:00Z\n"
        "c2,thirty,10.5,true,2024-01-01,2024-01-01T00:00:00Z\n"
        "c3,30,lots,perhaps,2024-13-01,noon\n"
    )

    result = import_profiles(parent_segment=parent, file=file)

    assert result.rows_imported == 0
    assert result.error_count == 5
    assert result.errors == [
        RowError(3, "age", "'thirty' is not an integer"),
        RowError(4, "lifetime_value", "'lots' is not a number"),
        RowError(4, "consent", "'perhaps' is not a boolean (use true/false, 1/0 or yes/no)"),
        RowError(4, "signup_date", "'2024-13-01' is not a date (YYYY-MM-DD)"),
        RowError(
            4, "last_seen_at", "'noon' is not a timestamp (ISO 8601, e.g. 2024-05-01T09:30:00Z)"
        ),
    ]
    assert str(result.errors[0]) == "line 3, column age: 'thirty' is not an integer"
    assert Profile.objects.count() == 0


def test_reports_lines_as_in_the_file_after_a_value_spanning_lines(parent):
    file = csv_file('customer_id,first_name,age\nc1,"multi\nline\nname",1\nc2,Bo,x\n')

    result = import_profiles(parent_segment=parent, file=file)

    assert result.errors == [RowError(5, "age", "'x' is not an integer")]


def test_rejects_an_empty_key(parent):
    result = import_profiles(
        parent_segment=parent, file=csv_file("customer_id,age\nc1,1\n,2\n  ,3\n")
    )

    assert result.errors == [RowError(line, "customer_id", "the key is empty") for line in (3, 4)]
    assert Profile.objects.count() == 0


def test_rejects_a_duplicate_key_naming_the_first_line(parent):
    result = import_profiles(parent_segment=parent, file=csv_file("customer_id\nc1\nc2\nc1\n"))

    assert result.errors == [RowError(4, "customer_id", "duplicate key 'c1' (first on line 2)")]
    assert Profile.objects.count() == 0


def test_finds_a_duplicate_key_in_a_later_chunk_of_the_file(parent):
    lines = ["customer_id"] + [f"c{number}" for number in range(CHUNK_SIZE * 2 + 10)] + ["c5"]

    result = import_profiles(parent_segment=parent, file=csv_file("\n".join(lines) + "\n"))

    assert result.errors == [
        RowError(len(lines), "customer_id", "duplicate key 'c5' (first on line 7)")
    ]
    assert Profile.objects.count() == 0


def test_integer_keys_are_compared_by_value(db):
    parent = make_parent_segment(
        workspace=make_workspace(),
        key_column="id",
        columns=[{"name": "id", "type": "integer"}, {"name": "name", "type": "string"}],
    )

    result = import_profiles(parent_segment=parent, file=csv_file("id,name\n7,a\n007,b\n"))

    assert result.errors == [RowError(3, "id", "duplicate key '7' (first on line 2)")]


def test_rejects_unknown_and_repeated_header_columns(parent):
    result = import_profiles(
        parent_segment=parent, file=csv_file("customer_id,emial,age,age\nc1,x,1,2\n")
    )

    assert result.errors == [
        RowError(
            1,
            "emial",
            "unknown column 'emial'; the columns of 'Customers' are customer_id, email, "
            "first_name, last_name, country, age, lifetime_value, consent, signup_date, last_seen_at",
        ),
        RowError(1, "age", "column 'age' appears twice in the header"),
    ]


def test_rejects_a_header_without_the_key_column(parent):
    result = import_profiles(parent_segment=parent, file=csv_file("email\na@example.com\n"))

    assert result.errors == [RowError(1, "customer_id", "the key column 'customer_id' is missing")]


def test_rejects_an_empty_file(parent):
    result = import_profiles(parent_segment=parent, file=csv_file(""))

    assert result.errors == [
        RowError(1, "", "the file is empty: expected a header row naming the columns")
    ]


def test_rejects_rows_with_too_few_or_too_many_values(parent):
    result = import_profiles(
        parent_segment=parent, file=csv_file("customer_id,age\nc1\nc2,1,2\nc3,3\n")
    )

    assert result.errors == [
        RowError(2, "", "expected 2 values as in the header, found 1"),
        RowError(3, "", "expected 2 values as in the header, found 3"),
    ]
    assert Profile.objects.count() == 0


def test_rejects_bad_utf8_naming_the_line(parent):
    file = io.BytesIO(b"customer_id,first_name\nc1,Ann\nc2,Ren\xe9\nc3,Zo\xc3\xab\n")

    result = import_profiles(parent_segment=parent, file=file)

    assert result.errors == [
        RowError(3, "", "not valid UTF-8 (byte b'\\xe9' at position 7); save the file as UTF-8")
    ]
    assert Profile.objects.count() == 0


def test_rejects_malformed_quoting(parent):
    result = import_profiles(
        parent_segment=parent, file=csv_file('customer_id,first_name\nc1,"An"n\n')
    )

    assert result.errors == [RowError(2, "", "unreadable CSV: ',' expected after '\"'")]


def test_keeps_counting_errors_beyond_the_reported_ones(parent):
    lines = ["customer_id,age"] + [f"c{number},x" for number in range(250)]

    result = import_profiles(parent_segment=parent, file=csv_file("\n".join(lines)))

    assert result.error_count == 250
    assert len(result.errors) == MAX_REPORTED_ERRORS
    assert result.errors[-1] == RowError(MAX_REPORTED_ERRORS + 1, "age", "'x' is not an integer")


def test_replace_leaves_exactly_the_rows_of_the_file(parent):
    import_profiles(parent_segment=parent, file=csv_file("customer_id,age\nc1,1\nc2,2\n"))

    result = import_profiles(
        parent_segment=parent,
        file=csv_file("customer_id,email\nc2,b@example.com\nc3,\n"),
        mode="replace",
    )

    assert result.rows_imported == 2
    nulls = dict.fromkeys(parent.column_names)
    assert rows_of(parent) == {
        "c2": {**nulls, "customer_id": "c2", "email": "b@example.com"},
        "c3": {**nulls, "customer_id": "c3"},
    }
    parent.refresh_from_db()
    assert parent.row_count == 2


def test_upsert_updates_existing_keys_adds_new_ones_and_keeps_the_others(parent):
    import_profiles(parent_segment=parent, file=csv_file("customer_id,age\nc1,1\nc2,2\n"))
    kept_id = Profile.objects.get(key="c2").pk

    result = import_profiles(
        parent_segment=parent, file=csv_file("customer_id,age\nc2,20\nc3,30\n"), mode="upsert"
    )

    assert result.rows_imported == 2
    ages = {key: attributes["age"] for key, attributes in rows_of(parent).items()}
    assert ages == {"c1": 1, "c2": 20, "c3": 30}
    # Updated in place, not deleted and inserted again.
    assert Profile.objects.get(key="c2").pk == kept_id
    parent.refresh_from_db()
    assert parent.row_count == 3


def test_imports_into_one_parent_leave_other_parents_alone(parent):
    other = make_parent_segment(workspace=parent.workspace, name="Other")
    import_profiles(parent_segment=other, file=csv_file("customer_id\nc1\n"))

    import_profiles(parent_segment=parent, file=csv_file("customer_id\nc1\nc2\n"))
    import_profiles(parent_segment=parent, file=csv_file("customer_id\nc9\n"))

    assert list(rows_of(other)) == ["c1"]
    assert list(rows_of(parent)) == ["c9"]


def test_rejects_an_unknown_mode(parent):
    with pytest.raises(ValueError, match="mode must be one of"):
        import_profiles(parent_segment=parent, file=csv_file("customer_id\n"), mode="merge")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["replace", "upsert"])
def test_a_failed_import_leaves_the_previous_rows_intact(mode):
    # Given committed rows (transaction=True: the import's own transaction really commits)
    parent = make_parent_segment(workspace=make_workspace())
    import_profiles(parent_segment=parent, file=csv_file("customer_id,age\nc1,1\nc2,2\n"))
    before = rows_of(parent)

    # When a file fails on its last row, after whole chunks were written
    lines = ["customer_id,age"] + [f"n{number},{number}" for number in range(CHUNK_SIZE * 3)]
    lines += ["c1,5", "bad,not-a-number"]
    result = import_profiles(parent_segment=parent, file=csv_file("\n".join(lines)), mode=mode)

    # Then nothing changed
    assert result.rows_imported == 0
    assert result.errors == [RowError(len(lines), "age", "'not-a-number' is not an integer")]
    assert rows_of(parent) == before
    parent.refresh_from_db()
    assert parent.row_count == 2
    # and the next import works (no leftover state from the failed one)
    assert import_profiles(parent_segment=parent, file=csv_file("customer_id\nc3\n")).ok


def write_customers(path, rows: int) -> None:
    with open(path, "w", encoding="utf-8") as file:
        file.write(HEADER + "\n")
        for number in range(rows):
            file.write(
                f"cust{number:08d},person{number}@example.com,Given{number},Family{number},"
                f"JP,{number % 90},{number * 1.25:.2f},{'true' if number % 2 else 'false'},"
                f"2024-01-{number % 28 + 1:02d},2024-02-01T12:{number % 60:02d}:00Z\n"
            )


def peak_memory_of_import(parent, path) -> int:
    tracemalloc.start()
    try:
        with open(path, "rb") as file:
            result = import_profiles(parent_segment=parent, file=file)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.errors == []
    return peak


def test_memory_stays_flat_as_the_file_grows(parent, tmp_path, settings, monkeypatch):
    settings.DEBUG = False
    # Chunks of 200 rows instead of 1,000: the same ten chunks against a hundred, five times
    # fewer rows to write under tracemalloc.
    monkeypatch.setattr(loading, "CHUNK_SIZE", 200)
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    write_customers(small, 2_000)
    write_customers(large, 20_000)

    small_peak = peak_memory_of_import(parent, small)
    large_peak = peak_memory_of_import(parent, large)

    assert Profile.objects.filter(parent_segment=parent).count() == 20_000
    parent.refresh_from_db()
    assert parent.row_count == 20_000
    # Ten times the rows, not ten times the memory: the peak is one chunk's worth.
    assert large_peak < 2 * small_peak, (small_peak, large_peak)


def test_reads_an_uploaded_file(parent):
    # What the API and the UI pass in: Django's uploaded file, read in chunks.
    upload = SimpleUploadedFile(
        "customers.csv",
        '\ufeffcustomer_id,first_name\r\nc1,"Zoë\r\nSecond line"\r\nc2,Ren\r\n'.encode(),
        content_type="text/csv",
    )

    result = import_profiles(parent_segment=parent, file=upload)

    assert result.errors == []
    assert {key: row["first_name"] for key, row in rows_of(parent).items()} == {
        "c1": "Zoë\r\nSecond line",
        "c2": "Ren",
    }


def test_checks_the_file_against_the_columns_as_stored_now(parent):
    stale = ParentSegment.objects.get(pk=parent.pk)
    parent.columns = [*parent.columns, {"name": "plan", "type": "string"}]
    parent.save()

    result = import_profiles(parent_segment=stale, file=csv_file("customer_id,plan\nc1,pro\n"))

    assert result.errors == []
    assert rows_of(parent)["c1"]["plan"] == "pro"
    assert stale.row_count == 1


@pytest.mark.postgres
@pytest.mark.skipif(
    db_connection.vendor != "postgresql", reason="planner statistics are PostgreSQL's"
)
def test_postgresql_plans_with_the_imported_rows_counted(parent):
    # Without fresh statistics PostgreSQL believes a just-imported parent has almost no rows
    # and plans audience.iter_rows' windows as a sort of all of them (benchmarks/README.md).
    rows = "".join(f"c{number:04d},{number}\n" for number in range(300))
    import_profiles(parent_segment=parent, file=csv_file(f"customer_id,age\n{rows}"))

    with db_connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (FORMAT JSON) SELECT key FROM segments_profile WHERE parent_segment_id = %s",
            [parent.pk],
        )
        (plan,) = cursor.fetchone()
    assert plan[0]["Plan"]["Plan Rows"] == 300
