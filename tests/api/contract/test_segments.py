"""The REST API contract of issue 5, segments.

Each test reads one sentence of the contract and drives the API as a script would."""

import datetime

import pytest

from tests.api.contract.helpers import API, condition, create, segment_size
from tests.factories import IN_JAPAN


def test_segment_has_the_contract_fields(client, parent):
    body = create(
        client,
        "segments",
        {
            "parent_segment": parent["id"],
            "name": "Japan",
            "description": "JP customers",
            "folder": "Regions",
            "rules": IN_JAPAN,
        },
    )

    assert set(body) >= {
        "id",
        "workspace",
        "parent_segment",
        "name",
        "description",
        "folder",
        "rules",
        "size",
    }
    assert body["parent_segment"] == parent["id"]
    assert body["size"] == 2
    assert body["folder"] == "Regions"


def test_segments_filter_by_parent_segment(client, parent, everyone):
    other = create(
        client,
        "parent-segments",
        {"name": "Other", "key_column": "id", "columns": [{"name": "id", "type": "string"}]},
    )
    create(client, "segments", {"parent_segment": other["id"], "name": "Other everyone"})

    mine = client.get(f"{API}/segments/", {"parent_segment": parent["id"]}).json()["results"]
    theirs = client.get(f"{API}/segments/", {"parent_segment": other["id"]}).json()["results"]

    assert [item["id"] for item in mine] == [everyone["id"]]
    assert [item["name"] for item in theirs] == ["Other everyone"]


def test_an_empty_and_group_matches_every_row(client, parent):
    assert segment_size(client, parent, {"type": "and", "conditions": []}) == 4


@pytest.mark.parametrize(
    ("rules", "size"),
    [
        (condition("country", "eq", "JP"), 2),
        # Null matches only is_null (SQL semantics): C004 has no country.
        (condition("country", "ne", "JP"), 1),
        (condition("country", "in", ["JP", "US"]), 3),
        (condition("country", "not_in", ["JP"]), 1),
        (condition("age", "gt", 34), 1),
        (condition("age", "gte", 34), 2),
        (condition("age", "lt", 34), 1),
        (condition("age", "lte", 34), 2),
        (condition("age", "between", [29, 34]), 2),
        (condition("lifetime_value", "between", [80, 450]), 2),
        (condition("email", "contains", "example.jp"), 2),
        (condition("email", "starts_with", "ann"), 1),
        (condition("email", "is_null", with_value=False), 1),
        (condition("email", "is_not_null", with_value=False), 3),
        (condition("signup_date", "before", "2024-01-01"), 2),
        (condition("signup_date", "after", "2023-11-02"), 1),
        (condition("consent", "eq", True), 2),
        (
            {
                "type": "or",
                "conditions": [
                    {"column": "country", "operator": "eq", "value": "US"},
                    {
                        "type": "and",
                        "conditions": [
                            {"column": "country", "operator": "eq", "value": "JP"},
                            {"column": "age", "operator": "gt", "value": 40},
                        ],
                    },
                ],
            },
            2,
        ),
    ],
)
def test_rule_operators_select_the_documented_rows(client, parent, rules, size):
    assert segment_size(client, parent, rules) == size


def test_between_is_inclusive_at_both_ends(client, parent):
    assert segment_size(client, parent, condition("age", "between", [29, 41])) == 3


def test_is_null_accepts_an_explicit_null_value(client, parent):
    assert segment_size(client, parent, condition("email", "is_null", None)) == 1


def test_within_last_days_takes_a_number_of_days(client, parent, time_machine):
    time_machine.move_to(datetime.datetime(2024, 1, 20, 12, tzinfo=datetime.UTC))

    assert segment_size(client, parent, condition("signup_date", "within_last_days", 10)) == 1
    assert segment_size(client, parent, condition("last_seen_at", "within_last_days", 30)) == 0


def test_within_last_days_on_timestamps(client, parent, time_machine):
    time_machine.move_to(datetime.datetime(2025, 6, 2, 12, tzinfo=datetime.UTC))

    assert segment_size(client, parent, condition("last_seen_at", "within_last_days", 7)) == 1


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        (condition("country", "in", "JP"), "rules.conditions[0].value"),
        (condition("age", "between", [1]), "rules.conditions[0].value"),
        (condition("age", "between", 5), "rules.conditions[0].value"),
        (condition("signup_date", "within_last_days", "a week"), "rules.conditions[0].value"),
        (condition("shoe_size", "eq", 42), "rules.conditions[0].column"),
        (condition("country", "resembles", "JP"), "rules.conditions[0].operator"),
        (
            {
                "type": "and",
                "conditions": [
                    {"type": "or", "conditions": [condition("age", "gt", "x")["conditions"][0]]}
                ],
            },
            "rules.conditions[0].conditions[0].value",
        ),
    ],
)
def test_bad_rules_are_a_400_naming_the_condition(client, parent, rules, path):
    response = client.post(
        f"{API}/segments/",
        {"parent_segment": parent["id"], "name": "Bad", "rules": rules},
        format="json",
    )

    assert response.status_code == 400
    assert path in response.json(), response.json()
