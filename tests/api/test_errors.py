"""Malformed requests get a 4xx JSON answer that says what is wrong, never a 500."""

import json

import pytest
from rest_framework.test import APIClient

from common.api.errors import flatten_errors

TOKEN_URL = "/api/v1/auth/token/"


def post_raw(body: bytes, content_type="application/json", client=None):
    return (client or APIClient()).post(TOKEN_URL, body, content_type=content_type)


def test_broken_json_is_a_parse_error(db):
    response = post_raw(b'{"username": ')

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_bad_utf8_is_a_parse_error(db):
    response = post_raw(b'{"username": "\xff\xfe", "password": "x"}')

    assert response.status_code == 400
    assert response.json()["detail"].startswith("The body is not valid UTF-8")


def test_nul_characters_are_refused(db):
    response = post_raw(json.dumps({"username": "a\x00b", "password": "x"}).encode())

    assert response.status_code == 400
    assert response.json() == {"detail": "NUL characters (\\u0000) are not allowed."}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(db, constant):
    response = post_raw(f'{{"username": {constant}, "password": "x"}}'.encode())

    assert response.status_code == 400


def test_integers_beyond_64_bits_are_refused(db):
    response = post_raw(b'{"username": 9223372036854775808, "password": "x"}')

    assert response.status_code == 400
    assert response.json() == {"detail": "Integer out of range: 9223372036854775808."}


def test_deep_nesting_is_refused_without_exhausting_the_stack(db):
    response = post_raw(b"[" * 100_000 + b"]" * 100_000)

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON nested deeper than 32 levels."}


def test_a_body_over_the_upload_limit_is_refused(db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = post_raw(json.dumps({"username": "a" * 2000, "password": "x"}).encode())

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is larger than 1000 bytes."}


def test_a_non_object_body_is_refused(db):
    response = post_raw(b"[1, 2]")

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }


def test_wrong_types_are_named(db):
    response = post_raw(json.dumps({"username": {"a": 1}, "password": ["x"]}).encode())

    assert response.status_code == 400
    assert response.json() == {
        "username": ["Not a valid string."],
        "password": ["Not a valid string."],
    }


def test_an_unsupported_media_type_is_refused(db):
    response = post_raw(b"<xml/>", content_type="application/xml")

    assert response.status_code == 415
    assert response.json() == {"detail": 'Unsupported media type "application/xml" in request.'}


def test_unknown_routes_under_the_api_are_a_json_404(db):
    response = APIClient().post("/api/v1/nothing-here/", {}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "No API endpoint at /api/v1/nothing-here/."}


def test_a_missing_trailing_slash_is_pointed_out(db):
    response = APIClient().post("/api/v1/segments", {}, format="json")

    assert response.status_code == 404
    assert response.json() == {
        "detail": "No API endpoint at /api/v1/segments. "
        "Did you mean /api/v1/segments/ (with the slash)?"
    }


def test_nested_errors_are_flattened_to_paths():
    detail = {
        "name": ["This field is required."],
        "output_mapping": {
            "columns": [{}, {}, {"output": ["Duplicate output name."]}],
            "strings": {"non_field_errors": ["Expected a list."]},
        },
        "notifications": {"emails": {1: ["Enter a valid email address."]}},
        "non_field_errors": ["Something about the whole."],
    }

    assert flatten_errors(detail) == {
        "name": ["This field is required."],
        "output_mapping.columns[2].output": ["Duplicate output name."],
        "output_mapping.strings": ["Expected a list."],
        "notifications.emails[1]": ["Enter a valid email address."],
        "non_field_errors": ["Something about the whole."],
    }
