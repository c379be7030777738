"""A segment's audience: the matching profiles, their count, and the row stream."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.validation import InvalidInput
from segments import audience
from segments.models import Profile
from tests.factories import make_parent_segment, make_segment, make_workspace


@pytest.fixture
def parent(db):
    parent = make_parent_segment(workspace=make_workspace())
    # Created out of key order, so key order is not insertion order.
    for key, country, age in [
        ("c3", "JP", 30),
        ("a1", "JP", 17),
        ("e5", "US", 50),
        ("b2", "JP", 45),
        ("d4", "JP", None),
    ]:
        Profile.objects.create(
            parent_segment=parent,
            key=key,
            attributes={"customer_id": key, "country": country, "age": age},
        )
    return parent


@pytest.fixture
def adults_in_japan(parent):
    return make_segment(
        parent=parent,
        name="Adults in Japan",
        rules={
            "type": "and",
            "conditions": [
                {"column": "country", "operator": "eq", "value": "JP"},
                {"column": "age", "operator": "gte", "value": 18},
            ],
        },
    )


def test_profiles_of_selects_the_matching_rows_of_the_parent_only(parent, adults_in_japan):
    other = make_parent_segment(workspace=parent.workspace, name="Other")
    Profile.objects.create(parent_segment=other, key="a0", attributes={"country": "JP", "age": 99})

    keys = list(audience.profiles_of(adults_in_japan).values_list("key", flat=True))

    assert keys == ["b2", "c3"]


def test_size_is_one_count_query(adults_in_japan):
    with CaptureQueriesContext(connection) as queries:
        count = audience.size(adults_in_japan)

    assert count == 2
    assert len(queries) == 1
    assert "COUNT(" in queries[0]["sql"].upper()


def test_an_empty_rule_tree_is_the_whole_parent(parent):
    everyone = make_segment(parent=parent)

    assert audience.size(everyone) == 5


def test_iter_rows_yields_attribute_dicts_in_key_order(parent):
    everyone = make_segment(parent=parent)

    rows = list(audience.iter_rows(everyone))

    assert [row["customer_id"] for row in rows] == ["a1", "b2", "c3", "d4", "e5"]
    assert rows[3] == {"customer_id": "d4", "country": "JP", "age": None}


@pytest.mark.parametrize(("chunk_size", "queries"), [(1, 6), (2, 3), (4, 2), (5, 2), (6, 1)])
def test_iter_rows_pages_by_key_in_chunks(parent, chunk_size, queries):
    everyone = make_segment(parent=parent)

    with CaptureQueriesContext(connection) as captured:
        keys = [row["customer_id"] for row in audience.iter_rows(everyone, chunk_size=chunk_size)]

    assert keys == ["a1", "b2", "c3", "d4", "e5"]
    assert len(captured) == queries
    # Keyset pagination: each page asks for at most chunk_size rows, none skips by OFFSET.
    assert all(f"LIMIT {chunk_size}" in query["sql"] for query in captured)
    assert not any("OFFSET" in query["sql"] for query in captured)


def test_iter_rows_filters_by_the_rules(adults_in_japan):
    rows = list(audience.iter_rows(adults_in_japan, chunk_size=1))

    assert [row["customer_id"] for row in rows] == ["b2", "c3"]


def test_iter_rows_is_lazy_and_holds_one_chunk(parent):
    everyone = make_segment(parent=parent)
    rows = audience.iter_rows(everyone, chunk_size=2)

    with CaptureQueriesContext(connection) as captured:
        first = next(rows)
        second = next(rows)
    assert (first["customer_id"], second["customer_id"]) == ("a1", "b2")
    assert len(captured) == 1

    with CaptureQueriesContext(connection) as captured:
        third = next(rows)
    assert third["customer_id"] == "c3"
    assert len(captured) == 1


def test_iter_rows_survives_rows_deleted_between_pages(parent):
    everyone = make_segment(parent=parent)
    rows = audience.iter_rows(everyone, chunk_size=2)
    seen = [next(rows)["customer_id"], next(rows)["customer_id"]]

    Profile.objects.filter(key__in=["a1", "c3"]).delete()
    seen += [row["customer_id"] for row in rows]

    assert seen == ["a1", "b2", "d4", "e5"]


def test_iter_rows_rejects_a_chunk_size_below_one(parent):
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        next(audience.iter_rows(make_segment(parent=parent), chunk_size=0))


def test_rules_that_no_longer_fit_the_parent_raise_invalid_input(parent, adults_in_japan):
    parent.columns = [column for column in parent.columns if column["name"] != "age"]
    parent.save()
    adults_in_japan.refresh_from_db()

    with pytest.raises(InvalidInput) as caught:
        audience.size(adults_in_japan)

    assert list(caught.value.errors) == ["conditions[1].column"]
