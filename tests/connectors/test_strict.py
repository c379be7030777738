"""Where Salesforce is strict, we are too, before anything is sent: required fields, column
types, duplicate keys and Ids in one job; lock retries resend our own cells; a job whose
polling failed is read again; a disabled SOAP login names the fix. The emulator learns each
rule as Salesforce documents it."""

import pytest

from connectors.base import ConnectorError
from connectors.services import test_connection as check
from tests.connectors.recording import RecordingSink, export, speed_up
from tests.factories import make_connection, make_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    speed_up(monkeypatch)


@pytest.fixture
def connector(salesforce_emulator):
    connection = make_connection(
        workspace=make_workspace(), login_url=salesforce_emulator.url, retry_initial_delay=0.01
    )
    return connection.connector


def refusal(connector, params, columns) -> tuple[str, str]:
    with pytest.raises(ConnectorError) as caught:
        connector.validate_export(params, columns)
    return caught.value.field, caught.value.message


# Required fields


@pytest.mark.parametrize(
    "params",
    [export(), export(mode="truncate"), export(mode="update", upsert=True, key="Email")],
    ids=["append", "truncate", "upsert"],
)
def test_a_required_field_left_out_of_the_mapping_fails_validation(connector, params):
    columns = ["Email", "FirstName"] if params.upsert else ["FirstName", "Email"]

    assert refusal(connector, params, columns) == (
        "output_mapping",
        "Contact requires the field LastName on new records: add it to the output mapping "
        "(Salesforce would fail every new row with REQUIRED_FIELD_MISSING).",
    )


def test_required_fields_are_not_asked_of_an_update_by_id(connector):
    connector.validate_export(export(mode="update", key="Id"), ["Id", "Phone"])


def test_defaulted_and_boolean_fields_are_not_required(connector):
    # Lead.Status is not nillable but defaulted on create; HasOptedOutOfEmail is a boolean.
    connector.validate_export(export(object_name="Lead"), ["LastName", "Company"])
    assert refusal(connector, export(object_name="Lead"), ["LastName"]) == (
        "output_mapping",
        "Lead requires the field Company on new records: add it to the output mapping "
        "(Salesforce would fail every new row with REQUIRED_FIELD_MISSING).",
    )


def test_the_emulator_fails_an_upserted_new_row_without_a_required_field(
    salesforce_emulator, connector, monkeypatch
):
    sink = RecordingSink()
    params = export(mode="update", upsert=True, key="Email")
    # Validation would refuse this mapping; skip it to see Salesforce's own answer.
    monkeypatch.setattr("connectors.salesforce.connector.check_export", lambda *args: None)

    connector.write(params, ["Email", "FirstName"], [["new@example.com", "Ada"]], sink)

    assert sink.failures() == [
        (
            ["new@example.com", "Ada"],
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
        )
    ]


# Column types


def test_a_date_column_into_a_boolean_field_is_refused(connector):
    params = export(column_types=(("LastName", "string"), ("HasOptedOutOfEmail", "date")))

    assert refusal(connector, params, ["LastName", "HasOptedOutOfEmail"]) == (
        "HasOptedOutOfEmail",
        "The column HasOptedOutOfEmail holds date values, which cannot go into "
        "Contact.HasOptedOutOfEmail (a boolean field).",
    )


@pytest.mark.parametrize(
    ("column", "column_type"),
    [
        ("HasOptedOutOfEmail", "boolean"),
        ("Birthdate", "date"),
        ("Lifetime_Value__c", "integer"),
        ("Lifetime_Value__c", "number"),
        ("Last_Seen_At__c", "timestamp"),
        ("Title", "number"),  # anything renders as text
        ("Birthdate", "string"),  # Salesforce judges string values row by row
    ],
)
def test_column_types_that_fit_their_field_pass(connector, column, column_type):
    params = export(column_types=(("LastName", "string"), (column, column_type)))

    connector.validate_export(params, ["LastName", column])


def test_a_number_column_into_a_date_field_is_refused(connector):
    params = export(column_types=(("LastName", "string"), ("Birthdate", "number")))

    assert refusal(connector, params, ["LastName", "Birthdate"])[0] == "Birthdate"


# Duplicate keys and Ids in one job


def test_duplicate_ids_in_one_update_job_fail_locally_and_are_not_sent(
    salesforce_emulator, connector
):
    ada, alan = salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Lovelace"}, {"LastName": "Turing"}]
    )
    sink = RecordingSink()
    rows = [[ada, "1"], [alan, "2"], [ada, "3"]]

    result = connector.write(export(mode="update", key="Id"), ["Id", "Phone"], rows, sink)

    assert (result.rows_succeeded, result.rows_failed) == (1, 2)
    reason = (
        f"Not sent: Id {ada!r} occurs more than once in one Salesforce job, which fails every "
        "such row; make the key unique in the segment"
    )
    assert sink.failures() == sorted([([ada, "1"], reason), ([ada, "3"], reason)])
    [job] = salesforce_emulator.jobs
    assert ada.encode() not in job.upload
    phones = {
        record["Id"]: record.get("Phone") for record in salesforce_emulator.records("Contact")
    }
    assert phones == {ada: None, alan: "2"}


def test_duplicate_external_ids_in_one_upsert_job_fail_locally(salesforce_emulator, connector):
    sink = RecordingSink()
    rows = [["a@example.com", "One"], ["A@example.com", "Two"], ["b@example.com", "Three"]]
    params = export(mode="update", upsert=True, key="Email")

    result = connector.write(params, ["Email", "LastName"], rows, sink)

    assert (result.rows_succeeded, result.rows_failed) == (1, 2)
    assert [record["LastName"] for record in salesforce_emulator.records("Contact")] == ["Three"]
    assert all("occurs more than once in one Salesforce job" in row.error for row in sink.failed)


def test_the_same_key_in_two_jobs_is_not_a_duplicate(salesforce_emulator, connector):
    rows = [["a@example.com", "One"], ["a@example.com", "Two"]]
    params = export(
        mode="update", upsert=True, key="Email", batch_size=1, concurrency_mode="serial"
    )

    result = connector.write(params, ["Email", "LastName"], rows, RecordingSink())

    assert (result.rows_succeeded, result.rows_failed) == (2, 0)
    assert [record["LastName"] for record in salesforce_emulator.records("Contact")] == ["Two"]


def test_the_emulator_fails_every_row_naming_an_id_twice(
    salesforce_emulator, connector, monkeypatch
):
    [ada] = salesforce_emulator.insert_records("Contact", [{"LastName": "Lovelace"}])
    sink = RecordingSink()
    # Send the duplicates anyway, to see Salesforce's answer.
    monkeypatch.setattr(
        "connectors.salesforce.strict.duplicate_values", lambda values, normalize: set()
    )

    connector.write(
        export(mode="update", key="Id"), ["Id", "Phone"], [[ada, "1"], [ada, "2"]], sink
    )

    assert [row.error for row in sink.failed] == [
        f"DUPLICATE_VALUE:Duplicate id specified: {ada}:Id --"
    ] * 2


# Lock retries resend our cells


def test_a_locked_row_is_resent_with_the_cells_we_sent_not_salesforces_echo(
    salesforce_emulator, connector
):
    salesforce_emulator.inject("unable_to_lock_row", times=1)
    sink = RecordingSink()

    result = connector.write(
        export(concurrency_mode="serial"),
        ["LastName", "Lifetime_Value__c"],
        [["Lovelace", "912260031"]],
        sink,
    )

    assert (result.rows_succeeded, result.rows_failed) == (1, 0)
    first, retry = (salesforce_emulator.org.ingest_jobs[job_id] for job_id in result.job_ids)
    assert b"9.12260031E8" in first.failed[0][3].encode() or first.failed[0][3] == "912260031"
    assert retry.upload == b"LastName,Lifetime_Value__c\nLovelace,912260031\n"


# A job whose polling failed is read again


def test_a_job_whose_polling_failed_is_read_again_before_its_rows_are_called_unknown(
    salesforce_emulator, connector
):
    # Every poll fails (after its retries); the job still finishes on Salesforce's side.
    salesforce_emulator.inject(
        "http_error", status=503, times=4, method="GET", path="/jobs/ingest/750"
    )
    sink = RecordingSink()

    result = connector.write(export(retry_limit=3), ["LastName"], [["Lovelace"]], sink)

    assert (result.rows_succeeded, result.rows_failed) == (1, 0)
    assert [record["LastName"] for record in salesforce_emulator.records("Contact")] == ["Lovelace"]
    assert any("was read again after an error: JobComplete" in line for line in sink.messages)


# SOAP login disabled


def test_a_disabled_soap_login_names_the_fix(salesforce_emulator):
    salesforce_emulator.settings.soap_login_enabled = False
    connection = make_connection(workspace=make_workspace(), login_url=salesforce_emulator.url)

    message = check(connection)

    assert "SOAP API login() is disabled" in message
    assert "enable SOAP API login()" in message
    assert "OAuth or client credentials" in message
