"""A segment's audience: the matching profiles, their count, and the row stream."""

import collections
import tracemalloc

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


# Two queries per window of chunk_size keys (its last key, then its matching rows), and a
# final window past the last full one.
@pytest.mark.parametrize(("chunk_size", "queries"), [(1, 12), (2, 6), (4, 4), (5, 4), (6, 2)])
def test_iter_rows_walks_the_keys_in_windows(parent, chunk_size, queries):
    everyone = make_segment(parent=parent)

    with CaptureQueriesContext(connection) as captured:
        keys = [row["customer_id"] for row in audience.iter_rows(everyone, chunk_size=chunk_size)]

    assert keys == ["a1", "b2", "c3", "d4", "e5"]
    assert len(captured) == queries


def test_a_window_without_matches_is_skipped(parent):
    only_e5 = make_segment(
        parent=parent,
        rules={
            "type": "and",
            "conditions": [{"column": "country", "operator": "eq", "value": "US"}],
        },
    )

    rows = list(audience.iter_rows(only_e5, chunk_size=2))

    assert rows == [{"customer_id": "e5", "country": "US", "age": 50}]


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
    assert len(captured) == 2

    with CaptureQueriesContext(connection) as captured:
        third = next(rows)
    assert third["customer_id"] == "c3"
    assert len(captured) == 2


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


def test_iter_rows_memory_stays_flat_as_the_audience_grows(db):
    parent = make_parent_segment(workspace=make_workspace())
    Profile.objects.bulk_create(
        Profile(
            parent_segment=parent,
            key=f"k{number:05d}",
            attributes={"customer_id": f"k{number:05d}", "email": "x" * 500, "age": number},
        )
        for number in range(4000)
    )
    everyone = make_segment(parent=parent)

    def peak_bytes(consume):
        tracemalloc.start()
        try:
            consume()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    holding_all = peak_bytes(lambda: list(audience.iter_rows(everyone, chunk_size=100)))
    streaming = peak_bytes(
        lambda: collections.deque(audience.iter_rows(everyone, chunk_size=100), maxlen=0)
    )

    # All 4,000 rows held take well over 2 MB; a stream holds one window of 100 rows.
    assert holding_all > 2_000_000
    assert streaming < holding_all / 8
