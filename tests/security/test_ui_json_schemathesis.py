"""The UI's JSON endpoints under schemathesis, as tests/api/test_schemathesis.py does for the
API: the rule builder's live audience size and the uploader's CSV import. Generated bodies,
ids and files (valid and not), signed in as an owner; no answer may be a 5xx, and every
answer must match the schema below (the contract the page's JavaScript relies on)."""

import hypothesis
import pytest
import schemathesis
from django.test import Client
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from config.wsgi import application
from tests.generated_requests import HYPOTHESIS_SETTINGS

CSRF_TOKEN = "a" * 32
ERRORS = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        }
    },
}
CONDITION = {
    "type": "object",
    "properties": {
        "column": {"type": "string"},
        "operator": {
            "enum": ["eq", "ne", "in", "contains", "starts_with", "gt", "between", "is_null"]
        },
        "value": {},
    },
}
UI_SCHEMA = {
    "openapi": "3.0.3",
    "info": {"title": "UI JSON endpoints", "version": "1"},
    "paths": {
        "/segments/audience-size/": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "parent_segment": {},
                                    "rules": {
                                        "type": "object",
                                        "properties": {
                                            "type": {"enum": ["and", "or"]},
                                            "conditions": {"type": "array", "items": CONDITION},
                                        },
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "The size",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["size", "total"],
                                    "properties": {
                                        "size": {"type": "integer"},
                                        "total": {"type": "integer"},
                                    },
                                }
                            }
                        },
                    },
                    "400": {
                        "description": "Errors by path",
                        "content": {"application/json": {"schema": ERRORS}},
                    },
                    "404": {"description": "No such parent segment among yours"},
                },
            }
        },
        "/audience/{id}/upload/": {
            "post": {
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {
                        "name": "Accept",
                        "in": "header",
                        "required": True,
                        "schema": {"enum": ["application/json"]},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "mode": {"type": "string"},
                                    "allow_empty": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Imported",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["rows_imported", "row_count", "errors"],
                                }
                            }
                        },
                    },
                    "400": {
                        "description": "Form errors or the file's bad rows",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "404": {"description": "No such parent segment among yours"},
                },
            }
        },
    },
}

STATUSES: set = set()
schema = schemathesis.openapi.from_dict(UI_SCHEMA)
schema.app = application


pytestmark = [
    pytest.mark.usefixtures("keep_the_test_transaction_open"),
    # The last test reads what the generated ones saw: one pytest-xdist worker runs them all
    # (--dist loadgroup, as bin/test and .ci/run run the suite).
    pytest.mark.xdist_group("ui_json_schemathesis"),
]


@pytest.fixture
def browser_cookies(team):
    """The owner's browser: session and CSRF cookies (the page sends the token as a header)."""
    client = Client()
    client.force_login(team["owner"])
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF_TOKEN}


@schema.parametrize()
@hypothesis.settings(max_examples=40, **HYPOTHESIS_SETTINGS)
def test_ui_json_endpoints_answer_every_input_without_a_server_error(case, team, browser_cookies):
    # Point half of the generated ids at the real parent segment, to get past the lookup.
    body = case.body
    if isinstance(body, dict) and len(repr(body)) % 2 == 0 and "upload" not in case.path:
        body["parent_segment"] = team["parent"].pk
    identifier = (case.path_parameters or {}).get("id")
    if isinstance(identifier, int) and identifier % 2 == 0:
        case.path_parameters["id"] = team["parent"].pk
    case.cookies = {**(case.cookies or {}), **browser_cookies}
    response = case.call_and_validate(
        headers={"X-CSRFToken": CSRF_TOKEN},
        checks=[not_a_server_error, response_schema_conformance],
    )
    # Signed in and past the CSRF check: the view itself answered (405: a method it does
    # not take, which schemathesis tries too).
    assert response.status_code in (200, 400, 404, 405), response.status_code
    STATUSES.add((case.operation.path, response.status_code))


def test_the_generated_requests_reached_every_outcome():
    """Runs after the generated cases (same module): they got answers of every kind, so the
    test above did not pass on refusals alone."""
    if not STATUSES:
        pytest.skip("run together with the generated cases")
    assert {status for _, status in STATUSES} >= {200, 400, 404}
