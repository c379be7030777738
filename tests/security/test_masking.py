"""Secrets are hidden in connection test errors and run logs in every form a remote end may
echo them in: as typed, URL-encoded, XML-, HTML- and JSON-escaped, base64."""

import base64
import html
import json
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

import pytest

from activations import runner
from activations.models import Run
from common.masking import mask_secrets
from connectors.base import ConnectorError
from connectors.salesforce.connector import SalesforceConnector
from connectors.services import test_connection
from tests.activations.fake_connector import register_fake_connector
from tests.activations.test_runner import make_fake_activation
from tests.factories import make_connection, make_workspace

SECRET = 'p@ss/w0rd&<"x"> +é'

ENCODINGS = {
    "as typed": SECRET,
    "url-encoded": quote(SECRET, safe=""),
    "url-encoded, lower-case escapes": quote(SECRET, safe="").lower(),
    "form-encoded": quote_plus(SECRET),
    "url-encoded, slash kept": quote(SECRET),
    "xml-escaped": escape(SECRET),
    "xml-escaped with quotes": escape(SECRET, {'"': "&quot;"}),
    "html-escaped": html.escape(SECRET),
    "json-escaped": json.dumps(SECRET)[1:-1],
    "base64": base64.b64encode(SECRET.encode()).decode(),
    "base64 without padding": base64.b64encode(SECRET.encode()).decode().rstrip("="),
    "urlsafe base64": base64.urlsafe_b64encode(SECRET.encode()).decode(),
}


@pytest.mark.parametrize("form", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_every_encoded_form_of_a_secret_is_hidden(form):
    text = f"the server said: bad value <{form}> for the password"
    masked = mask_secrets(text, [SECRET])
    assert masked == "the server said: bad value <[hidden]> for the password"


def test_a_secret_inside_a_basic_authorization_header_is_hidden():
    header = base64.b64encode(f"marketer@example.com:{SECRET}".encode()).decode()
    masked = mask_secrets(f"sent Authorization: Basic {header}", [SECRET])
    before, after = masked.split("Basic ", 1)[1].split("[hidden]")
    # Left: the user name's characters and at most one group of 4 that mixes in the secret.
    assert base64.b64decode(before[: len(before) // 4 * 4]).decode().startswith("marketer@")
    assert len(before) % 4 + len(after) <= 8


def test_short_values_and_ordinary_words_are_left_alone():
    assert mask_secrets("abc is fine", ["abc"]) == "abc is fine"
    assert mask_secrets("nothing to hide", [SECRET, ""]) == "nothing to hide"


@pytest.mark.django_db
@pytest.mark.parametrize("form", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_connection_test_errors_hide_the_encoded_secret(monkeypatch, form):
    connection = make_connection(workspace=make_workspace(), password=SECRET)

    def refuse_echoing_the_secret(connector):
        raise ConnectorError(f"Salesforce refused the login: password={form}")

    monkeypatch.setattr(SalesforceConnector, "verify", refuse_echoing_the_secret)

    assert test_connection(connection) == "Salesforce refused the login: password=[hidden]"


@pytest.mark.django_db
def test_run_errors_and_logs_hide_the_encoded_secrets(monkeypatch):
    fake_connector = register_fake_connector(monkeypatch)
    activation = make_fake_activation(rows=1)
    connection = activation.connection
    connection.password = SECRET
    connection.save()
    echoed = " ".join(ENCODINGS.values())
    fake_connector.validate_error = ConnectorError(f"Login failed: {echoed}", retryable=False)
    run = Run.objects.create(activation=activation, trigger=Run.Trigger.MANUAL)

    finished = runner.execute_run(run.pk)

    assert finished.error == "Login failed: " + " ".join(["[hidden]"] * len(ENCODINGS))
    for form in ENCODINGS.values():
        assert form not in str(finished.log)
