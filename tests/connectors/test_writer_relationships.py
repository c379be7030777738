"""Relationship columns (Account.Customer_Key__c, Lead:Who.Email) through the connector."""

import pytest

from connectors.base import ConnectorError
from tests.connectors.recording import RecordingSink, export

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast")]

NOT_FOUND = (
    "INVALID_FIELD:Foreign key external ID: {} not found for field Customer_Key__c in entity "
    "Account:--"
)


@pytest.fixture
def acme(salesforce_emulator):
    (account_id,) = salesforce_emulator.insert_records(
        "Account", [{"Name": "Acme", "Customer_Key__c": "ACME-1"}]
    )
    return account_id


def accounts_of_contacts(emulator) -> list[tuple]:
    return sorted((c["LastName"], c["AccountId"]) for c in emulator.records("Contact"))


def test_append_links_contacts_to_accounts_by_external_id(salesforce_emulator, connector, acme):
    sink = RecordingSink()
    columns = ["LastName", "Account.Customer_Key__c"]

    result = connector.write(
        export(), columns, [["Lovelace", "ACME-1"], ["Turing", "NOPE-9"], ["Hopper", ""]], sink
    )

    assert accounts_of_contacts(salesforce_emulator) == [("Hopper", None), ("Lovelace", acme)]
    assert (result.rows_sent, result.rows_succeeded, result.rows_failed) == (3, 2, 1)
    assert sink.failures() == [(["Turing", "NOPE-9"], NOT_FOUND.format("NOPE-9"))]


def test_upsert_sets_the_lookup_on_new_and_existing_records(salesforce_emulator, connector, acme):
    salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Lovelace", "Customer_Key__c": "C-1"}]
    )
    columns = ["Customer_Key__c", "LastName", "Account.Customer_Key__c"]

    result = connector.write(
        export(mode="update", upsert=True, key="Customer_Key__c"),
        columns,
        [["C-1", "Lovelace", "ACME-1"], ["C-2", "Turing", "ACME-1"]],
        RecordingSink(),
    )

    assert accounts_of_contacts(salesforce_emulator) == [("Lovelace", acme), ("Turing", acme)]
    assert result.rows_succeeded == 2


def test_update_by_key_keeps_the_relationship_column(salesforce_emulator, connector, acme):
    salesforce_emulator.insert_records(
        "Contact",
        [
            {"LastName": "Lovelace", "Email": "ada@example.com"},
            {"LastName": "Turing", "Email": "alan@example.com"},
        ],
    )
    sink = RecordingSink()

    result = connector.write(
        export(mode="update", key="Email"),
        ["Email", "Account.Customer_Key__c"],
        [["ada@example.com", "ACME-1"], ["alan@example.com", "GONE"]],
        sink,
    )

    assert accounts_of_contacts(salesforce_emulator) == [("Lovelace", acme), ("Turing", None)]
    assert result.rows_failed == 1
    # The failed row reads like the input: the key comes back, not the Id used in the job.
    assert sink.failures() == [(["alan@example.com", "GONE"], NOT_FOUND.format("GONE"))]


def test_polymorphic_lookup_by_type(salesforce_emulator, connector):
    (lead,) = salesforce_emulator.insert_records(
        "Lead", [{"LastName": "Lee", "Company": "Co", "Email": "lee@example.com"}]
    )

    result = connector.write(
        export(object_name="Task"),
        ["Subject", "Lead:Who.Email"],
        [["Call", "lee@example.com"]],
        RecordingSink(),
    )

    assert result.rows_succeeded == 1
    assert [(t["Subject"], t["WhoId"]) for t in salesforce_emulator.records("Task")] == [
        ("Call", lead)
    ]


@pytest.mark.parametrize(
    ("params", "column", "message"),
    [
        (
            export(),
            "Account:Account.Customer_Key__c",
            "Contact.Account can only point to Account: write Account.Customer_Key__c, "
            "without the type.",
        ),
        (
            export(object_name="Task"),
            "Who.Email",
            "Task.Who can point to Contact, Lead: name the type, e.g. Contact:Who.Email.",
        ),
        (
            export(object_name="Task"),
            "Account:Who.Name",
            "Task.Who cannot point to Account.",
        ),
        (
            export(),
            "Account.Name",
            "Account.Name is not an External ID or idLookup field, so Account.Name cannot find "
            "the related record.",
        ),
    ],
)
def test_relationship_columns_salesforce_would_refuse_are_refused_first(
    salesforce_emulator, connector, params, column, message
):
    first = "Subject" if params.object_name == "Task" else "LastName"

    with pytest.raises(ConnectorError) as raised:
        connector.write(params, [first, column], [["x", "y"]], RecordingSink())

    assert (raised.value.field, raised.value.message) == (column, message)
    assert salesforce_emulator.org.ingest_jobs == {}


def test_a_lookup_that_is_not_createable_is_refused(salesforce_emulator, connector):
    salesforce_emulator.schema.set_field("Contact", "AccountId", createable=False)

    with pytest.raises(ConnectorError) as raised:
        connector.validate_export(export(), ["LastName", "Account.Customer_Key__c"])

    assert (raised.value.field, raised.value.message) == (
        "Account.Customer_Key__c",
        "Contact.AccountId cannot be set on new records (it is not createable).",
    )
