"""CSV inference: the proposed columns import the very file they were proposed from."""

import io

import pytest

from segments import services
from segments.inference import infer_csv
from segments.loading import import_profiles
from tests.api.conftest import client_for
from tests.factories import make_user, make_workspace

CSV = (
    "customer_id,email,age,ltv,vip,signup,last_seen,zip,notes\n"
    "C1,a@example.com,34,10.5,true,2024-01-15,2024-05-01T09:30:00Z,01234,\n"
    "C2,b@example.com,,7,no,2023-11-02,2024-05-02 10:00:00,98765,\n"
    "C3,a@example.com,41,-3e2,yes,,,00000,\n"
)


@pytest.mark.django_db
def test_infers_types_and_keys_that_import_the_same_file():
    result = infer_csv(io.BytesIO(CSV.encode()))
    assert result.columns == [
        {"name": "customer_id", "type": "string"},
        {"name": "email", "type": "string"},
        {"name": "age", "type": "integer"},
        {"name": "ltv", "type": "number"},
        {"name": "vip", "type": "boolean"},
        {"name": "signup", "type": "date"},
        {"name": "last_seen", "type": "timestamp"},
        # Leading zeros would be lost as a number; "01234" still parses as an integer, so
        # the proposal is integer: the user overrides it in the form (a documented limit).
        {"name": "zip", "type": "integer"},
        {"name": "notes", "type": "string"},
    ]
    assert result.key_candidates == ["customer_id", "zip"]
    assert result.rows_sampled == 3
    parent = services.create_parent_segment(
        workspace=make_workspace(),
        data={"name": "P", "key_column": "customer_id", "columns": result.columns},
    )
    imported = import_profiles(parent_segment=parent, file=io.BytesIO(CSV.encode()))
    assert imported.ok, imported.errors
    assert imported.rows_imported == 3


def test_an_empty_file_is_refused():
    with pytest.raises(ValueError, match="header"):
        infer_csv(io.BytesIO(b""))


@pytest.mark.django_db
def test_the_api_proposes_columns():
    user = make_user("ines", workspace=make_workspace(), role="editor")
    response = client_for(user).post(
        "/api/v1/parent-segments/infer-columns/",
        CSV.encode(),
        content_type="text/csv",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["key_candidates"] == ["customer_id", "zip"]
    assert response.json()["columns"][4] == {"name": "vip", "type": "boolean"}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"PK\x03\x04\x14\x00\x00\x00\x00\x00P\xb3;]C\xbf\xb7\xaa\x01", "UTF-8"),
        (b"x" * 101 + b",id\n1,2\n", "longer than 100"),
    ],
)
def test_a_file_that_is_not_a_csv_is_refused(content, reason):
    with pytest.raises(ValueError, match=reason):
        infer_csv(io.BytesIO(content))
