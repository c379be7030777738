"""The output mapping on plain data: validation with paths, output columns, and rendering."""

import datetime
import itertools
import zoneinfo

import pytest
import time_machine

from activations import mapping
from common.validation import InvalidInput
from tests.factories import columns

COLUMNS = columns(
    customer_id="string",
    Email="string",
    age="integer",
    lifetime_value="number",
    consent="boolean",
    signup_date="date",
    last_seen_at="timestamp",
)
RUN_AT = datetime.datetime(2026, 11, 25, 15, 20, 38, tzinfo=datetime.UTC)
CONTEXT = mapping.RenderContext(
    segment_id=7, segment_name="VIP 顧客", audience_id=3, timestamp=RUN_AT
)
ROW = {
    "customer_id": "c-1",
    "Email": "alice@example.com",
    "age": 30,
    "lifetime_value": 120.5,
    "consent": True,
    "signup_date": "2024-01-15",
    "last_seen_at": "2024-05-01T09:30:00Z",
}


def errors_of(output_mapping, columns=COLUMNS):
    with pytest.raises(InvalidInput) as caught:
        mapping.validate(output_mapping, columns)
    return caught.value.errors


def added(*columns, strings=(), export_all=False):
    return {
        "export_all_columns": export_all,
        "columns": [
            {"source": source, "output": output} if output is not None else {"source": source}
            for source, output in columns
        ],
        "strings": list(strings),
    }


def render(output_mapping, rows, **kwargs):
    kwargs.setdefault("context", CONTEXT)
    return list(mapping.render_rows(output_mapping, columns=COLUMNS, rows=rows, **kwargs))


# --- validation -------------------------------------------------------------------------


def test_accepts_a_mapping_using_every_feature():
    mapping.validate(
        {
            "export_all_columns": False,
            "columns": [
                {"source": "customer_id", "output": "Customer_Id__c"},
                {"source": "Email", "output": "Email"},
                {"source": "age"},
            ],
            "strings": [
                {
                    "output": "Source__c",
                    "parts": [
                        {"type": "string", "value": "seg-"},
                        {"type": "segment_id"},
                        {"type": "segment_name", "value": None, "format": ""},
                        {"type": "audience_id"},
                        {"type": "timestamp", "format": "%Y-%m-%d %H:%M"},
                        {"type": "timestamp"},
                    ],
                }
            ],
        },
        COLUMNS,
    )


def test_reports_an_unknown_source_column():
    errors = errors_of(added(("age", None), ("Email", None), ("phone", "Phone")))

    assert errors == {
        "columns[2].source": [
            "unknown column 'phone'; the parent segment has: customer_id, Email, age, "
            "lifetime_value, consent, signup_date, last_seen_at"
        ]
    }


@pytest.mark.parametrize("column", [{}, {"source": ""}, {"source": None, "output": "Age"}])
def test_a_source_is_required(column):
    output_mapping = {"columns": [column]}

    assert errors_of(output_mapping) == {"columns[0].source": ["required"]}


@pytest.mark.parametrize("output", ["", "   "])
def test_rejects_an_empty_output_name(output):
    assert errors_of(added(("age", output))) == {"columns[0].output": ["must not be empty"]}


def test_rejects_an_output_name_that_is_not_a_string():
    assert errors_of(added(("age", 5))) == {"columns[0].output": ["must be a string"]}


def test_the_output_name_defaults_to_the_source_name():
    output_mapping = added(("age", None), ("Email", None))

    mapping.validate(output_mapping, COLUMNS)
    assert mapping.output_columns(output_mapping, COLUMNS) == ["age", "Email"]


def test_a_defaulted_output_name_must_still_be_a_field_name():
    columns = [*COLUMNS, {"name": "名前", "type": "string"}]

    errors = errors_of(added(("名前", None)), columns)

    assert errors == {"columns[0].output": [f"'名前' is {mapping.NAME_RULES}"]}


def test_reports_a_duplicate_output_name_on_the_later_column():
    errors = errors_of(added(("age", "Age__c"), ("Email", "Email"), ("lifetime_value", "Age__c")))

    assert errors == {
        "columns[2].output": ["duplicate output name 'Age__c': column 1 already outputs it"]
    }


def test_duplicate_output_names_ignore_case_as_salesforce_does():
    errors = errors_of(added(("age", "Age__c"), ("lifetime_value", "AGE__c")))

    assert errors == {
        "columns[1].output": [
            "duplicate output name 'AGE__c': column 1 already outputs 'Age__c' "
            "(Salesforce ignores case)"
        ]
    }


def test_an_added_column_may_not_reuse_an_exported_name():
    errors = errors_of(added(("age", "Email"), export_all=True))

    assert errors == {
        "columns[0].output": [
            "duplicate output name 'Email': Export All Columns already outputs it"
        ]
    }


def test_a_string_may_not_reuse_a_column_name():
    strings = [{"output": "age", "parts": [{"type": "string", "value": "x"}]}]

    errors = errors_of(added(("customer_id", None), ("age", None), strings=strings))

    assert errors == {
        "strings[0].output": ["duplicate output name 'age': column 2 already outputs it"]
    }


def test_two_strings_may_not_share_a_name():
    part = {"type": "segment_id"}
    strings = [{"output": "Seg__c", "parts": [part]}, {"output": "Seg__c", "parts": [part]}]

    assert errors_of(added(strings=strings)) == {
        "strings[1].output": ["duplicate output name 'Seg__c': string column 1 already outputs it"]
    }


@pytest.mark.parametrize(
    "name",
    [
        "Email",
        "FirstName",
        "X",
        "Customer_Id__c",
        "ns__Loyalty_Tier__c",
        "Person_Score__pc",
        "A1_b2__c",
        "a" * 40,
        "a" * 40 + "__c",
        "abcdefghijklmno__" + "a" * 40 + "__c",
        "Owner.Email",
        "Account.External_Id__c",
        "Mother_Of_Child__r.External_ID__c",
        "ns__Parent__r.ns__Key__c",
        "Lead:Who.Email",
        "Custom_Object__c:What.Key__c",
    ],
)
def test_accepts_salesforce_field_api_names(name):
    mapping.validate(added(("age", name)), COLUMNS)


@pytest.mark.parametrize(
    "name",
    [
        "1Email",
        "_Email",
        "Email_",
        "Customer__Id",
        "Customer___c",
        "Customer_Id__C",
        "Customer_Id__r",
        "Customer Id",
        "Customer-Id",
        "Eメール",
        "Émail",
        "a" * 41,
        "a" * 41 + "__c",
        "abcdefghijklmnop__Field__c",
        "Owner.",
        ".Email",
        "Owner.Email.Name",
        "Parent__c.Name",
        "Lead:Who",
        "Email\n",
    ],
)
def test_rejects_names_that_are_not_salesforce_field_api_names(name):
    errors = errors_of(added(("age", name)))

    assert errors == {"columns[0].output": [f"{name!r} is {mapping.NAME_RULES}"]}


def test_export_all_reports_parent_columns_salesforce_cannot_take():
    columns = [
        *COLUMNS,
        {"name": "名前", "type": "string"},
        {"name": "first name", "type": "string"},
    ]

    errors = errors_of({"export_all_columns": True}, columns)

    assert errors == {
        "export_all_columns": [
            f"parent column '名前' is {mapping.NAME_RULES}; add it under another name instead",
            f"parent column 'first name' is {mapping.NAME_RULES}; add it under another name instead",
        ]
    }


def test_export_all_reports_parent_columns_that_differ_only_in_case():
    columns = [*COLUMNS, {"name": "email", "type": "string"}]

    assert errors_of({"export_all_columns": True}, columns) == {
        "export_all_columns": [
            "parent columns 'Email' and 'email' differ only in case, which Salesforce "
            "ignores; add one of them under another name"
        ]
    }


@pytest.mark.parametrize(
    ("part", "path", "message"),
    [
        (
            {"type": "uuid"},
            "type",
            "unknown part type 'uuid'; use one of: string, timestamp, segment_id, "
            "segment_name, audience_id",
        ),
        (
            {"value": "x"},
            "type",
            "unknown part type None; use one of: string, timestamp, segment_id, "
            "segment_name, audience_id",
        ),
        ({"type": "string"}, "value", "required: the text of this part"),
        ({"type": "string", "value": ""}, "value", "required: the text of this part"),
        ({"type": "string", "value": 5}, "value", "must be a string"),
        ({"type": "segment_id", "value": "7"}, "value", "only a string part has a value"),
        (
            {"type": "string", "value": "x", "format": "%Y"},
            "format",
            "only a timestamp part has a format",
        ),
        ({"type": "timestamp", "format": 5}, "format", "must be a string"),
        ({"type": "timestamp", "format": "%Y" * 51}, "format", "at most 100 characters"),
        (
            {"type": "timestamp", "format": "YYYY-MM-DD"},
            "format",
            "has no strftime directive such as %Y-%m-%d; leave it empty for ISO 8601",
        ),
        (
            {"type": "timestamp", "format": "100%%"},
            "format",
            "has no strftime directive such as %Y-%m-%d; leave it empty for ISO 8601",
        ),
        (
            {"type": "timestamp", "format": "%Y-%Q"},
            "format",
            "unknown directive '%Q'; use strftime directives %% %A %B %H %I %M %S %Y %Z "
            "%a %b %d %f %j %m %p %y %z, or leave it empty for ISO 8601",
        ),
        (
            {"type": "timestamp", "format": "%Y%"},
            "format",
            "unknown directive '%'; use strftime directives %% %A %B %H %I %M %S %Y %Z "
            "%a %b %d %f %j %m %p %y %z, or leave it empty for ISO 8601",
        ),
        (
            {"type": "segment_id", "when": "now"},
            "when",
            "unknown key 'when'; a part has type, value, format, timezone",
        ),
    ],
)
def test_reports_bad_string_parts(part, path, message):
    strings = [{"output": "Tag__c", "parts": [{"type": "segment_id"}, part]}]

    assert errors_of(added(strings=strings)) == {f"strings[0].parts[1].{path}": [message]}


def test_a_part_must_be_an_object():
    strings = [{"output": "Tag__c", "parts": ["segment_id"]}]

    assert errors_of(added(strings=strings)) == {
        "strings[0].parts[0]": ["must be an object {type, value, format, timezone}"]
    }


@pytest.mark.parametrize("parts", [[], None, "segment_id"])
def test_a_string_needs_parts(parts):
    strings = [{"output": "Tag__c", "parts": parts}]

    assert errors_of(added(strings=strings)) == {"strings[0].parts": ["add at least one part"]}


def test_a_string_has_at_most_fifty_parts():
    strings = [{"output": "Tag__c", "parts": [{"type": "segment_id"}] * 51}]

    assert errors_of(added(strings=strings)) == {"strings[0].parts": ["at most 50 parts"]}


def test_a_string_needs_an_output_name():
    strings = [
        {"parts": [{"type": "segment_id"}]},
        {"output": "", "parts": [{"type": "audience_id"}]},
    ]

    assert errors_of(added(strings=strings)) == {
        "strings[0].output": ["required"],
        "strings[1].output": ["must not be empty"],
    }


@pytest.mark.parametrize(
    "output_mapping",
    [
        {},
        {"export_all_columns": False, "columns": [], "strings": []},
        {"export_all_columns": False, "columns": None, "strings": None},
    ],
)
def test_rejects_a_mapping_with_nothing_to_export(output_mapping):
    assert errors_of(output_mapping) == {
        "": ["nothing to export: choose Export All Columns, or add columns or strings"]
    }


@pytest.mark.parametrize(
    ("output_mapping", "errors"),
    [
        (None, {"": ["must be an object with export_all_columns, columns and strings"]}),
        ([], {"": ["must be an object with export_all_columns, columns and strings"]}),
        (
            {"export_all_columns": True, "rows": 3},
            {"rows": ["unknown key 'rows'; a mapping has export_all_columns, columns, strings"]},
        ),
        ({"export_all_columns": "yes"}, {"export_all_columns": ["must be true or false"]}),
        ({"export_all_columns": True, "columns": {"age": "Age"}}, {"columns": ["must be a list"]}),
        ({"export_all_columns": True, "strings": "x"}, {"strings": ["must be a list"]}),
        ({"columns": ["age"]}, {"columns[0]": ["must be an object {source, output}"]}),
        ({"strings": [["x"]]}, {"strings[0]": ["must be an object {output, parts}"]}),
        (
            {"columns": [{"source": "age", "output": "Age", "type": "integer"}]},
            {"columns[0].type": ["unknown key 'type'; a column has source, output"]},
        ),
        (
            {"strings": [{"output": "A", "parts": [{"type": "segment_id"}], "sep": "-"}]},
            {"strings[0].sep": ["unknown key 'sep'; a string has output, parts"]},
        ),
    ],
)
def test_rejects_malformed_mappings(output_mapping, errors):
    assert errors_of(output_mapping) == errors


def test_rejects_too_many_columns():
    output_mapping = added(*[("age", f"Age_{n}__c") for n in range(501)])

    assert errors_of(output_mapping) == {
        "": ["too many columns: at most 500 added columns and strings"]
    }


def test_collects_every_error_with_its_path():
    output_mapping = added(
        ("age", "Age__c"),
        ("nope", "Nope__c"),
        ("Email", "Age__c"),
        strings=[{"output": "Bad Name", "parts": [{"type": "timestamp", "format": "%Q"}]}],
    )

    errors = errors_of(output_mapping)

    assert sorted(errors) == [
        "columns[1].source",
        "columns[2].output",
        "strings[0].output",
        "strings[0].parts[0].format",
    ]


def test_errors_prefix_under_the_payload_field():
    error = pytest.raises(InvalidInput, mapping.validate, added(("age", "a b")), COLUMNS)

    assert list(error.value.prefixed("output_mapping")) == ["output_mapping.columns[0].output"]


# --- output columns ---------------------------------------------------------------------


def test_output_columns_are_export_all_then_added_then_strings():
    output_mapping = added(
        ("Email", "Email_Address__c"),
        ("age", None),
        export_all=True,
        strings=[{"output": "Tag__c", "parts": [{"type": "segment_id"}]}],
    )
    # "age" would clash with the exported "age", so this mapping is invalid; the order is
    # still well defined, which is what the UI shows while the user fixes it.
    assert mapping.output_columns(output_mapping, COLUMNS) == [
        "customer_id",
        "Email",
        "age",
        "lifetime_value",
        "consent",
        "signup_date",
        "last_seen_at",
        "Email_Address__c",
        "age",
        "Tag__c",
    ]


def test_a_renamed_column_is_exported_under_both_names():
    output_mapping = added(("Email", "Email_Address__c"), export_all=True)

    mapping.validate(output_mapping, COLUMNS)
    rows = render(output_mapping, [ROW])

    assert mapping.output_columns(output_mapping, COLUMNS)[1::6] == ["Email", "Email_Address__c"]
    assert rows[0][1] == rows[0][7] == "alice@example.com"


# --- rendering --------------------------------------------------------------------------


def test_renders_export_all_columns_as_salesforce_values():
    assert render({"export_all_columns": True}, [ROW]) == [
        [
            "c-1",
            "alice@example.com",
            "30",
            "120.5",
            "true",
            "2024-01-15",
            "2024-05-01T09:30:00Z",
        ]
    ]


def test_renders_added_columns_in_their_order_under_their_sources():
    output_mapping = added(("consent", "HasOptedIn__c"), ("customer_id", "Customer_Id__c"))

    assert render(output_mapping, [ROW]) == [["true", "c-1"]]


@pytest.mark.parametrize(
    ("column", "value", "cell"),
    [
        ("customer_id", 'a,b "c"\n', 'a,b "c"\n'),
        ("customer_id", "  spaced  ", "  spaced  "),
        ("customer_id", "日本語", "日本語"),
        ("customer_id", "", ""),
        ("age", 0, "0"),
        ("age", -42, "-42"),
        ("age", 2**63 - 1, "9223372036854775807"),
        ("lifetime_value", 3.0, "3"),
        ("lifetime_value", -0.0, "0"),
        ("lifetime_value", 0.1, "0.1"),
        ("lifetime_value", -3.25, "-3.25"),
        ("lifetime_value", 1e-7, "0.0000001"),
        ("lifetime_value", 1.5e-10, "0.00000000015"),
        ("lifetime_value", 1e16, "10000000000000000"),
        ("lifetime_value", 1.2345e20, "123450000000000000000"),
        ("lifetime_value", 12, "12"),
        ("consent", True, "true"),
        ("consent", False, "false"),
        ("signup_date", "2024-02-29", "2024-02-29"),
        ("last_seen_at", "2024-05-01T09:30:00Z", "2024-05-01T09:30:00Z"),
        ("last_seen_at", "2024-05-01T09:30:00.250000Z", "2024-05-01T09:30:00.250Z"),
        ("last_seen_at", "2024-05-01T09:30:00.999999Z", "2024-05-01T09:30:00.999Z"),
        ("last_seen_at", "2024-05-01T09:30:00.5Z", "2024-05-01T09:30:00.500Z"),
        # values of another type than the column's are written as they are
        ("last_seen_at", "yesterday", "yesterday"),
        ("age", "30", "30"),
        ("customer_id", ["a", 1], '["a",1]'),
        ("customer_id", {"k": "é"}, '{"k":"é"}'),
    ],
)
def test_formats_each_value_as_salesforce_reads_it(column, value, cell):
    assert render(added((column, "Out__c")), [{column: value}]) == [[cell]]


@pytest.mark.parametrize(("null_value", "cell"), [("leave", ""), ("clear", "#N/A")])
def test_nulls_become_empty_cells_or_na_as_the_activation_says(null_value, cell):
    output_mapping = added(("age", None), ("Email", None), ("consent", None))
    rows = [{"age": None, "Email": "a@example.com"}, {}]

    assert render(output_mapping, rows, null_value=null_value) == [
        [cell, "a@example.com", cell],
        [cell, cell, cell],
    ]


def test_nulls_are_left_by_default():
    assert render(added(("age", None)), [{}]) == [[""]]


def test_non_finite_numbers_are_null():
    output_mapping = added(("lifetime_value", None))

    assert render(output_mapping, [{"lifetime_value": float("nan")}], null_value="clear") == [
        ["#N/A"]
    ]


def test_rejects_an_unknown_null_value():
    with pytest.raises(ValueError, match="null_value must be one of: leave, clear"):
        mapping.render_rows(
            added(("age", None)), columns=COLUMNS, rows=[], context=CONTEXT, null_value="skip"
        )


def test_render_rows_validates_the_mapping_before_reading_rows():
    def rows():
        raise AssertionError("rows were read")
        yield {}

    with pytest.raises(InvalidInput):
        mapping.render_rows(added(("nope", None)), columns=COLUMNS, rows=rows(), context=CONTEXT)


@pytest.mark.parametrize(
    ("part", "text"),
    [
        ({"type": "string", "value": 'Batch, "A"'}, 'Batch, "A"'),
        ({"type": "timestamp"}, "2026-11-25T15:20:38Z"),
        ({"type": "timestamp", "format": ""}, "2026-11-25T15:20:38Z"),
        ({"type": "timestamp", "format": "%Y%m%d-%H%M%S"}, "20261125-152038"),
        ({"type": "timestamp", "format": "%d %b %Y %I:%M %p %z"}, "25 Nov 2026 03:20 PM +0000"),
        ({"type": "segment_id"}, "7"),
        ({"type": "segment_name"}, "VIP 顧客"),
        ({"type": "audience_id"}, "3"),
    ],
)
def test_each_string_part_renders(part, text):
    strings = [{"output": "Tag__c", "parts": [part]}]

    assert render(added(strings=strings), [{}, ROW]) == [[text], [text]]


def test_a_string_concatenates_its_parts():
    parts = [
        {"type": "string", "value": "seg-"},
        {"type": "segment_id"},
        {"type": "string", "value": "/aud-"},
        {"type": "audience_id"},
        {"type": "string", "value": " "},
        {"type": "segment_name"},
        {"type": "string", "value": " @ "},
        {"type": "timestamp"},
    ]
    output_mapping = added(("customer_id", None), strings=[{"output": "Tag__c", "parts": parts}])

    assert render(output_mapping, [ROW]) == [["c-1", "seg-7/aud-3 VIP 顧客 @ 2026-11-25T15:20:38Z"]]


def test_the_default_timestamp_is_utc_and_a_format_keeps_the_given_time_zone():
    tokyo = RUN_AT.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    context = mapping.RenderContext(segment_id=7, segment_name="s", audience_id=3, timestamp=tokyo)
    parts = [
        {"type": "timestamp"},
        {"type": "string", "value": "|"},
        {"type": "timestamp", "format": "%Y-%m-%d %H:%M %z"},
    ]

    rows = render(added(strings=[{"output": "At__c", "parts": parts}]), [{}], context=context)

    assert rows == [["2026-11-25T15:20:38Z|2026-11-26 00:20 +0900"]]


def test_one_run_has_one_timestamp_however_long_it_takes():
    output_mapping = added(
        ("customer_id", None), strings=[{"output": "At__c", "parts": [{"type": "timestamp"}]}]
    )
    rendered = mapping.render_rows(
        output_mapping,
        columns=COLUMNS,
        rows=({"customer_id": str(n)} for n in range(3)),
        context=CONTEXT,
    )

    cells = []
    for hours in (1, 5, 30):
        with time_machine.travel(RUN_AT + datetime.timedelta(hours=hours), tick=False):
            cells.append(next(rendered))

    assert cells == [
        ["0", "2026-11-25T15:20:38Z"],
        ["1", "2026-11-25T15:20:38Z"],
        ["2", "2026-11-25T15:20:38Z"],
    ]


def test_render_rows_is_lazy_over_an_endless_stream():
    pulled = []

    def endless_rows():
        for number in itertools.count():
            pulled.append(number)
            yield {"age": number}

    rendered = mapping.render_rows(
        added(("age", None)), columns=COLUMNS, rows=endless_rows(), context=CONTEXT
    )

    assert pulled == []
    assert next(rendered) == ["0"]
    assert pulled == [0]
    assert list(itertools.islice(rendered, 3)) == [["1"], ["2"], ["3"]]
    assert pulled == [0, 1, 2, 3]


def test_each_row_is_a_new_list():
    rows = render(
        added(("age", None), strings=[{"output": "S__c", "parts": [{"type": "segment_id"}]}]),
        [{"age": 1}, {"age": 2}],
    )

    rows[0].append("changed")
    assert rows == [["1", "7", "changed"], ["2", "7"]]


def test_a_timestamp_part_is_written_in_its_time_zone_or_else_the_schedules():
    context = mapping.RenderContext(
        segment_id=7, segment_name="s", audience_id=3, timestamp=RUN_AT, timezone="Asia/Tokyo"
    )
    parts = [
        {"type": "timestamp"},
        {"type": "string", "value": "|"},
        {"type": "timestamp", "format": "%Y-%m-%d %H:%M", "timezone": "America/New_York"},
        {"type": "string", "value": "|"},
        {"type": "timestamp", "format": "%H:%M %Z"},
        {"type": "string", "value": "|"},
        {"type": "timestamp", "timezone": "UTC"},
    ]

    rows = render(added(strings=[{"output": "At__c", "parts": parts}]), [{}], context=context)

    assert rows == [["2026-11-26T00:20:38+09:00|2026-11-25 10:20|00:20 JST|2026-11-25T15:20:38Z"]]


@pytest.mark.parametrize(
    ("part", "message"),
    [
        ({"type": "timestamp", "timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"type": "timestamp", "timezone": "../etc/passwd"}, "unknown time zone '../etc/passwd'"),
        ({"type": "timestamp", "timezone": 9}, "must be a string"),
        ({"type": "segment_id", "timezone": "UTC"}, "only a timestamp part has a time zone"),
    ],
)
def test_reports_a_bad_part_time_zone(part, message):
    strings = [{"output": "Tag__c", "parts": [part]}]

    errors = errors_of(added(strings=strings))

    assert list(errors) == ["strings[0].parts[0].timezone"]
    assert errors["strings[0].parts[0].timezone"][0].startswith(message)
