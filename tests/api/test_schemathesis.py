"""Property-based tests of the whole API against its own OpenAPI schema (schemathesis).

Every operation is called with generated valid and invalid input, authenticated as an owner
of a workspace holding one object of each kind; no answer may be a 5xx, and every answer
must match the schema.
"""

import io

import hypothesis
import pytest
import schemathesis
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from activations.models import FailedRow, Run
from config.wsgi import application
from segments.loading import import_profiles
from segments.models import Refresh
from sources.models import Source
from tests.factories import (
    make_activation,
    make_connection,
    make_parent_segment,
    make_segment,
    make_user,
    make_workspace,
)
from tests.generated_requests import HYPOTHESIS_SETTINGS

CSV = "customer_id,email,country,age\nC001,a@example.com,JP,30\nC002,b@example.com,US,40\n"


# Loaded at collection, so that pytest gets one test per operation. (The lazy
# schemathesis.pytest.from_fixture loader fails under pytest 9.2: Function has no _nodeid.)
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


pytestmark = pytest.mark.usefixtures("keep_the_test_transaction_open")


@pytest.fixture(autouse=True)
def _no_throttling(settings):
    # Generated run and token requests must not trip the throttles, tested on their own.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            scope: "100000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        },
    }


@pytest.fixture
def objects(db, salesforce_emulator, sqlite_file):
    """The owner's token and one object of each kind, by the URL segment of its resource."""
    workspace = make_workspace("Fuzz")
    user = make_user("fuzzer", workspace=workspace, role="owner")
    parent = make_parent_segment(workspace=workspace)
    import_profiles(parent_segment=parent, file=io.BytesIO(CSV.encode()))
    segment = make_segment(parent=parent)
    # Connection tests, validation and runs talk to the emulator, never to the internet.
    connection = make_connection(workspace=workspace, login_url=salesforce_emulator.url)
    activation = make_activation(segment=segment, connection=connection)
    run = Run.objects.create(activation=activation, status="partially_failed", columns=["Email"])
    FailedRow.objects.create(run=run, values=["a@example.com"], error="INVALID_EMAIL_ADDRESS")
    source = Source.objects.create(
        workspace=workspace, name="Shop", url=f"sqlite:///{sqlite_file.name}", kind="sqlite"
    )
    backed = make_parent_segment(
        workspace=workspace,
        name="From the shop",
        key_column="id",
        columns=[{"name": "id", "type": "integer"}, {"name": "email", "type": "string"}],
        source=source,
        source_table="main.customers",
    )
    refresh = Refresh.objects.create(parent_segment=backed)
    _, key = AuthToken.objects.create(user=user)
    return {
        "sources": source.pk,
        "refreshes": refresh.pk,
        "token": key,
        "workspaces": workspace.pk,
        "parent-segments": parent.pk,
        "segments": segment.pk,
        "connections": connection.pk,
        "activations": activation.pk,
        "runs": run.pk,
    }


@schema.parametrize()
@hypothesis.settings(max_examples=20, **HYPOTHESIS_SETTINGS)
def test_api_answers_every_input_without_a_server_error_and_as_documented(case, objects):
    # Random ids almost never name an existing object; point half of the cases at real ones,
    # so that updates, actions and deletes get past the lookup and exercise the services.
    identifier = (case.path_parameters or {}).get("id")
    if isinstance(identifier, int) and identifier % 2 == 0:
        case.path_parameters["id"] = objects[case.operation.path.split("/")[3]]
    case.call_and_validate(
        headers={"Authorization": f"Token {objects['token']}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
