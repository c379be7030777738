"""Parent segment and segment services: validation with field paths, column changes, atomicity."""

import io

import pytest

from common.validation import InvalidInput
from segments import audience, services
from segments.models import ParentSegment, Segment
from tests.factories import (
    make_activation,
    make_connection,
    make_parent_segment,
    make_segment,
    make_workspace,
    output_mapping,
)

COLUMNS = [
    {"name": "customer_id", "type": "string"},
    {"name": "age", "type": "integer"},
    {"name": "signup_date", "type": "date"},
]


def parent_data(**overrides) -> dict:
    return {
        "name": "Customers",
        "description": "Everyone who ever bought",
        "key_column": "customer_id",
        "columns": COLUMNS,
        **overrides,
    }


def errors_of(call) -> dict:
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value.errors


def test_creates_a_parent_segment(workspace):
    parent = services.create_parent_segment(
        workspace=workspace, data=parent_data(name=" Customers ")
    )

    parent.refresh_from_db()
    assert parent.workspace == workspace
    assert parent.name == "Customers"
    assert parent.description == "Everyone who ever bought"
    assert parent.key_column == "customer_id"
    assert parent.columns == COLUMNS
    assert parent.row_count == 0


def test_rejects_a_parent_segment_without_name_or_columns(workspace):
    errors = errors_of(
        lambda: services.create_parent_segment(
            workspace=workspace, data={"name": "  ", "key_column": "id", "columns": []}
        )
    )

    assert errors == {
        "name": ["required"],
        "columns": ['required: a non-empty list of {"name", "type"}'],
    }
    assert ParentSegment.objects.count() == 0


def test_reports_each_bad_column_at_its_path(workspace):
    columns = [
        {"name": "customer_id", "type": "string"},
        {"name": "first name", "type": "string"},
        {"name": "age", "type": "int"},
        {"name": "customer_id", "type": "string"},
        {"name": "", "type": "date"},
        {"name": "9lives", "type": "integer", "width": 3},
        "email",
    ]

    errors = errors_of(
        lambda: services.create_parent_segment(
            workspace=workspace, data=parent_data(columns=columns)
        )
    )

    assert errors == {
        "columns[1].name": ["use letters, digits and underscores, not starting with a digit"],
        "columns[2].type": [
            "unknown type 'int'; use one of: string, integer, number, boolean, date, timestamp"
        ],
        "columns[3].name": ["duplicate column name 'customer_id'"],
        "columns[4].name": ["required"],
        "columns[5].width": ["unknown key 'width'; a column has name, type"],
        "columns[5].name": ["use letters, digits and underscores, not starting with a digit"],
        "columns[6]": ['must be an object {"name", "type"}'],
    }
    assert ParentSegment.objects.count() == 0


def test_rejects_a_key_column_that_is_not_a_column(workspace):
    errors = errors_of(
        lambda: services.create_parent_segment(
            workspace=workspace, data=parent_data(key_column="email")
        )
    )

    assert errors == {"key_column": ["'email' is not one of the columns"]}


def test_updates_only_the_fields_given(workspace):
    parent = services.create_parent_segment(workspace=workspace, data=parent_data())

    services.update_parent_segment(parent, data={"description": "Bought at least once"})

    parent.refresh_from_db()
    assert parent.name == "Customers"
    assert parent.description == "Bought at least once"
    assert parent.columns == COLUMNS


def test_allows_retyping_and_removing_columns_while_there_are_no_rows(workspace):
    parent = services.create_parent_segment(workspace=workspace, data=parent_data())
    columns = [{"name": "customer_id", "type": "string"}, {"name": "age", "type": "number"}]

    services.update_parent_segment(parent, data={"columns": columns})

    parent.refresh_from_db()
    assert parent.columns == columns


def parent_with_rows(workspace) -> ParentSegment:
    parent = services.create_parent_segment(workspace=workspace, data=parent_data())
    result = services.import_profiles_file(
        parent_segment=parent, file=io.BytesIO(b"customer_id,age\nc1,30\n")
    )
    assert result.ok
    return parent


def test_refuses_type_and_key_changes_once_the_parent_has_rows(workspace):
    parent = parent_with_rows(workspace)
    columns = [
        {"name": "customer_id", "type": "string"},
        {"name": "age", "type": "string"},
        {"name": "signup_date", "type": "date"},
    ]

    errors = errors_of(
        lambda: services.update_parent_segment(
            parent, data={"columns": columns, "key_column": "signup_date", "name": "Renamed"}
        )
    )

    assert errors == {
        "columns[1].type": [
            "cannot change 'age' from integer to string: the parent segment has rows; "
            "import them again into a new parent segment"
        ],
        "key_column": ["cannot change the key column of a parent segment with rows"],
    }
    parent.refresh_from_db()
    assert parent.name == "Customers"
    assert parent.columns == COLUMNS


def test_adds_a_column_to_a_parent_with_rows(workspace):
    parent = parent_with_rows(workspace)
    columns = [*COLUMNS, {"name": "email", "type": "string"}]

    services.update_parent_segment(parent, data={"columns": columns})

    parent.refresh_from_db()
    assert parent.columns == columns


def test_refuses_removing_a_column_that_a_segment_or_an_activation_uses(workspace):
    parent = services.create_parent_segment(workspace=workspace, data=parent_data())
    make_segment(
        parent=parent,
        name="Adults",
        rules={
            "type": "and",
            "conditions": [
                {"type": "or", "conditions": [{"column": "age", "operator": "gte", "value": 18}]}
            ],
        },
    )
    everyone = make_segment(parent=parent, name="Everyone")
    make_activation(
        segment=everyone,
        connection=make_connection(workspace=workspace),
        name="Signups to Contacts",
        output_mapping=output_mapping(
            ("signup_date", "Signup_Date__c"), strings=[], export_all_columns=False
        ),
    )

    errors = errors_of(
        lambda: services.update_parent_segment(
            parent, data={"columns": [{"name": "customer_id", "type": "string"}]}
        )
    )

    assert errors == {
        "columns": [
            "cannot remove column 'age': segment 'Adults' uses it",
            "cannot remove column 'signup_date': activation 'Signups to Contacts' uses it",
        ]
    }
    parent.refresh_from_db()
    assert parent.columns == COLUMNS


def test_refuses_retyping_a_column_that_a_segment_uses_even_without_rows(workspace):
    # Given a parent with no rows and a segment whose rules compare `age` as a number
    parent = services.create_parent_segment(workspace=workspace, data=parent_data())
    adults = make_segment(
        parent=parent,
        name="Adults",
        rules={"type": "and", "conditions": [{"column": "age", "operator": "gte", "value": 18}]},
    )
    retyped = [dict(column) for column in COLUMNS]
    retyped[1]["type"] = "string"

    # when `age` is retyped to string
    errors = errors_of(lambda: services.update_parent_segment(parent, data={"columns": retyped}))

    # then the change is refused at that column's type, nothing changed, and the segment
    # still counts its audience.
    assert errors == {
        "columns[1].type": [
            "cannot change the type of 'age': segment 'Adults' uses it in its rules"
        ]
    }
    parent.refresh_from_db()
    assert parent.columns == COLUMNS
    adults.refresh_from_db()
    assert audience.size(adults) == 0


def segment_data(parent, **overrides) -> dict:
    return {
        "parent_segment": parent,
        "name": "Adults in Japan",
        "description": "For the spring campaign",
        "folder": "Marketing",
        "rules": {
            "type": "and",
            "conditions": [
                {"column": "age", "operator": "gte", "value": 18},
                {"column": "signup_date", "operator": "within_last_days", "value": 30},
            ],
        },
        **overrides,
    }


def test_creates_a_segment(workspace):
    parent = make_parent_segment(workspace=workspace, columns=COLUMNS)
    data = segment_data(parent)

    segment = services.create_segment(workspace=workspace, data=data)

    segment.refresh_from_db()
    assert segment.workspace == workspace
    assert segment.parent_segment == parent
    assert segment.name == "Adults in Japan"
    assert segment.description == "For the spring campaign"
    assert segment.folder == "Marketing"
    assert segment.rules == data["rules"]


def test_a_segment_without_rules_selects_everyone(workspace):
    parent = make_parent_segment(workspace=workspace, columns=COLUMNS)

    segment = services.create_segment(
        workspace=workspace, data={"parent_segment": parent, "name": "Everyone"}
    )

    assert segment.rules == {"type": "and", "conditions": []}
    assert segment.folder == ""


def test_reports_rule_errors_under_rules(workspace):
    parent = make_parent_segment(workspace=workspace, columns=COLUMNS)
    rules = {
        "type": "and",
        "conditions": [
            {"column": "age", "operator": "gte", "value": 18},
            {"column": "country", "operator": "eq", "value": "JP"},
        ],
    }

    errors = errors_of(
        lambda: services.create_segment(
            workspace=workspace, data=segment_data(parent, rules=rules, name="")
        )
    )

    assert errors == {
        "name": ["required"],
        "rules.conditions[1].column": [
            "unknown column 'country'; the parent segment has: customer_id, age, signup_date"
        ],
    }
    assert Segment.objects.count() == 0


def test_rejects_a_parent_segment_of_another_workspace(workspace):
    elsewhere = make_parent_segment(workspace=make_workspace("Elsewhere"), columns=COLUMNS)

    errors = errors_of(
        lambda: services.create_segment(workspace=workspace, data=segment_data(elsewhere))
    )

    assert errors == {"parent_segment": ["must be a parent segment of the same workspace"]}
    assert Segment.objects.count() == 0


def test_updates_a_segment_and_checks_the_rules_again(workspace):
    parent = make_parent_segment(workspace=workspace, columns=COLUMNS)
    segment = services.create_segment(workspace=workspace, data=segment_data(parent))

    services.update_segment(segment, data={"folder": " Lifecycle ", "name": "Renamed"})
    errors = errors_of(
        lambda: services.update_segment(
            segment,
            data={
                "name": "Broken",
                "rules": {"type": "xor", "conditions": []},
            },
        )
    )

    assert errors == {"rules.type": ['must be "and" or "or"']}
    segment.refresh_from_db()
    assert segment.name == "Renamed"
    assert segment.folder == "Lifecycle"
    assert segment.rules == segment_data(parent)["rules"]


def test_import_profiles_file_rejects_an_unknown_mode(workspace):
    parent = make_parent_segment(workspace=workspace, columns=COLUMNS)

    errors = errors_of(
        lambda: services.import_profiles_file(
            parent_segment=parent, file=io.BytesIO(b"customer_id\n"), mode="merge"
        )
    )

    assert errors == {"mode": ["must be one of: replace, upsert"]}
