"""Hypothesis against the form views that take ids and rule JSON: whatever arrives, the
answer is a page or a 4xx, never a 500."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Ids as they may arrive in a form or a query: digits of any script, signs, exponents,
# huge numbers, NUL, lone surrogates, empty.
ID_TEXT = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=4),
    st.sampled_from(["²", "1e400", "0x1f", " 7", "7 ", "", "\x00", "\ud800", "٣"]),
    st.text(max_size=8),
)
# Form fields cannot carry lone surrogates (they are not UTF-8); everything else can.
FORM_TEXT = ID_TEXT.filter(lambda text: "\ud800" not in text and text.encode("utf-8", "ignore"))

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.sampled_from(["JP", "age", "country", "eq", "in", "between", "\x00", "\ud800", "1e400"]),
)
CONDITIONS = st.fixed_dictionaries(
    {},
    optional={
        "column": st.one_of(st.sampled_from(["country", "age", "consent", "email"]), JSON_SCALARS),
        "operator": st.one_of(
            st.sampled_from(["eq", "ne", "in", "contains", "gt", "between", "is_null"]),
            JSON_SCALARS,
        ),
        "value": st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=3)),
    },
)
RULE_TREES = st.recursive(
    CONDITIONS,
    lambda children: st.fixed_dictionaries(
        {"type": st.sampled_from(["and", "or", "xor"])},
        optional={"conditions": st.lists(children, max_size=3)},
    ),
    max_leaves=6,
)
FAST = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def no_server_error(response) -> None:
    assert response.status_code < 500, response.content[:300]


@FAST
@given(value=FORM_TEXT)
def test_views_taking_an_id_answer_any_text_without_a_server_error(owner_client, team, value):
    no_server_error(owner_client.post("/workspace/", {"workspace": value}))
    no_server_error(owner_client.post("/connections/test/", {"connection": value}))
    no_server_error(owner_client.post("/activations/preview/", {"segment": value}))
    no_server_error(owner_client.get("/activations/new/", {"segment": value}))
    no_server_error(
        owner_client.get("/activations/new/", {"segment": team["segment"].pk, "copy": value})
    )
    no_server_error(owner_client.get("/segments/new/", {"parent": value}))
    no_server_error(owner_client.get("/segments/", {"q": value}))


@FAST
@given(value=ID_TEXT)
def test_audience_size_answers_any_parent_id_without_a_server_error(owner_client, value):
    body = json.dumps({"parent_segment": value, "rules": {"type": "and", "conditions": []}})
    no_server_error(
        owner_client.post("/segments/audience-size/", body, content_type="application/json")
    )


@FAST
@given(tree=RULE_TREES)
def test_audience_size_answers_any_rule_tree_without_a_server_error(owner_client, team, tree):
    body = json.dumps({"parent_segment": team["parent"].pk, "rules": tree})
    response = owner_client.post("/segments/audience-size/", body, content_type="application/json")
    no_server_error(response)
    if response.status_code == 400:
        assert response.json()["errors"]


@FAST
@given(tree=RULE_TREES)
def test_segment_form_answers_any_rule_tree_without_a_server_error(owner_client, team, tree):
    response = owner_client.post(
        "/segments/new/",
        {
            "parent_segment": team["parent"].pk,
            "name": "Generated",
            "folder": "",
            "rules": json.dumps(tree),
        },
    )
    no_server_error(response)


@pytest.mark.parametrize("text", ["\ud800", "\x00", "a\udfffb"])
def test_segment_form_refuses_unstorable_rule_values_by_path(owner_client, team, text):
    tree = {"type": "and", "conditions": [{"column": "country", "operator": "eq", "value": text}]}
    response = owner_client.post(
        "/segments/new/",
        {"parent_segment": team["parent"].pk, "name": "Bad", "rules": json.dumps(tree)},
    )
    assert response.status_code == 400
    assert "conditions[0].value" in json.dumps(response.context["form"].rule_errors)
