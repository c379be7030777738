"""Export settings and output columns checked against the object's describe, before any row moves."""

import pytest

from connectors.base import ConnectorError
from connectors.salesforce.describe import check_export
from tests.connectors.recording import RecordingSink, export
from tests.factories import make_connection, make_workspace


@pytest.fixture
def connector(salesforce_emulator, db):
    connection = make_connection(workspace=make_workspace(), login_url=salesforce_emulator.url)
    return connection.connector


def refusal(connector, params, columns) -> tuple[str | None, str]:
    with pytest.raises(ConnectorError) as raised:
        connector.validate_export(params, columns)
    assert raised.value.retryable is False
    return raised.value.field, raised.value.message


@pytest.mark.parametrize(
    ("params", "columns"),
    [
        (export(), ["FirstName", "LastName", "Email", "Customer_Key__c", "Birthdate"]),
        (export(mode="truncate", hard_delete=True), ["LastName"]),
        (export(mode="update", key="Id"), ["Id", "Phone"]),
        (export(mode="update", key="Email"), ["Email", "Phone"]),
        (
            export(mode="update", upsert=True, key="Customer_Key__c"),
            ["Customer_Key__c", "LastName"],
        ),
        (export(mode="update", upsert=True, key="Email"), ["Email", "LastName"]),
        (export(object_name="Audience_Member__c"), ["Name", "Customer_Key__c", "Consent__c"]),
        (export(object_name="contact"), ["LastName"]),
    ],
)
def test_accepts_valid_settings(connector, params, columns):
    connector.validate_export(params, columns)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("40.0", "API version 40.0 is too old: Bulk API 2.0 needs 41.0 or later."),
        ("32.0", "API version 32.0 is too old: Bulk API 2.0 needs 41.0 or later."),
        ("v59.0", "The API version must look like 59.0, not 'v59.0'."),
        ("59", "The API version must look like 59.0, not '59'."),
    ],
)
def test_refuses_api_versions_without_bulk_api_2(connector, salesforce_emulator, version, message):
    assert refusal(connector, export(api_version=version), ["LastName"]) == (
        "export.api_version",
        message,
    )
    assert salesforce_emulator.org.requests_log == []  # refused before logging in


def test_query_jobs_need_47_0(connector):
    assert refusal(connector, export(mode="truncate", api_version="46.0"), ["LastName"]) == (
        "export.api_version",
        "Truncate runs Bulk API 2.0 query jobs, which need API version 47.0 or later.",
    )
    assert refusal(
        connector, export(mode="update", key="Email", api_version="45.0"), ["Email", "Phone"]
    ) == (
        "export.api_version",
        "Update by Email runs Bulk API 2.0 query jobs, which need API version 47.0 or later.",
    )
    connector.validate_export(export(mode="update", key="Id", api_version="45.0"), ["Id"])


def test_unknown_object(connector):
    assert refusal(connector, export(object_name="Contactt"), ["LastName"]) == (
        "export.object",
        "Salesforce has no object named Contactt.",
    )
    assert refusal(connector, export(object_name="Contact/../x"), ["LastName"]) == (
        "export.object",
        "'Contact/../x' is not a Salesforce object API name.",
    )


def test_unknown_field_names_the_column(connector):
    assert refusal(connector, export(), ["LastName", "Shoe_Size__c"]) == (
        "Shoe_Size__c",
        "Contact has no field Shoe_Size__c.",
    )
    assert refusal(connector, export(), ["lastname"]) == (
        "lastname",
        "Contact has no field lastname (did you mean LastName?).",
    )


def test_fields_that_cannot_be_written_for_the_mode(connector):
    assert refusal(connector, export(), ["LastName", "Name"]) == (
        "Name",
        "Contact.Name cannot be set on new records (it is not createable).",
    )
    assert refusal(connector, export(), ["Id", "LastName"]) == (
        "Id",
        "Contact.Id cannot be set on new records (it is not createable).",
    )
    assert refusal(connector, export(mode="update", key="Id"), ["Id", "CreatedDate"]) == (
        "CreatedDate",
        "Contact.CreatedDate cannot be changed (it is not updateable).",
    )


def test_upsert_needs_both_createable_and_updateable(connector, salesforce_emulator):
    salesforce_emulator.schema.set_field("Contact", "Phone", updateable=False)

    assert refusal(
        connector,
        export(mode="update", upsert=True, key="Customer_Key__c"),
        ["Customer_Key__c", "Phone"],
    ) == ("Phone", "Contact.Phone cannot be changed (it is not updateable).")
    connector.validate_export(export(), ["LastName", "Phone"])  # fine for insert


@pytest.mark.parametrize(
    ("params", "columns", "message"),
    [
        (export(mode="update"), ["Id"], "Update mode needs a key field."),
        (export(mode="update", key="Shoe__c"), ["Id"], "Contact has no field Shoe__c."),
        (
            export(mode="update", key="Email"),
            ["Id", "Phone"],
            "The key Email must be one of the output columns.",
        ),
        (
            export(mode="update", upsert=True, key="LastName"),
            ["LastName", "Phone"],
            "Contact.LastName is not an External ID field, so it cannot be the key for upsert.",
        ),
        (
            export(mode="update", key="Phone"),
            ["Phone", "LastName"],
            "Contact.Phone is neither Id nor an External ID or idLookup field, so records cannot "
            "be found by it.",
        ),
    ],
)
def test_key_problems_name_the_key(connector, params, columns, message):
    assert refusal(connector, params, columns) == ("export.key", message)


def test_update_by_key_refuses_an_id_column_too(connector):
    assert refusal(connector, export(mode="update", key="Email"), ["Email", "Id"]) == (
        "Id",
        "Updating by Email finds each record's Id itself: remove the Id column, or make Id "
        "the key.",
    )


def test_relationship_columns_need_an_indexed_parent_field(connector):
    assert refusal(connector, export(), ["LastName", "Parent.Email"]) == (
        "Parent.Email",
        "Contact has no field Parent.Email (and no relationship named Parent).",
    )
    connector.validate_export(export(), ["LastName", "Owner.Email"])
    assert refusal(connector, export(), ["LastName", "Account.Name"]) == (
        "Account.Name",
        "Account.Name is not an External ID or idLookup field, so Account.Name cannot find "
        "the related record.",
    )
    assert refusal(connector, export(), ["LastName", "Account.Nope"]) == (
        "Account.Nope",
        "Account has no field Nope.",
    )


def test_write_validates_first_and_reads_no_row_when_invalid(connector, salesforce_emulator):
    read = []

    def rows():
        read.append(1)
        yield ["x"]

    with pytest.raises(ConnectorError) as raised:
        connector.write(export(), ["Shoe_Size__c"], rows(), RecordingSink())

    assert raised.value.field == "Shoe_Size__c"
    assert read == []
    assert salesforce_emulator.org.ingest_jobs == {}


# Object-level permissions, on describes the emulator does not vary

CONTACT = {
    "name": "Contact",
    "createable": True,
    "updateable": True,
    "deletable": True,
    "queryable": True,
    "fields": [
        {"name": "Id", "createable": False, "updateable": False, "idLookup": True},
        {"name": "LastName", "createable": True, "updateable": True},
        {
            "name": "WhoId",
            "type": "reference",
            "relationshipName": "Who",
            "referenceTo": ["Contact", "Lead"],
            "createable": True,
            "updateable": True,
        },
    ],
}


def describe_of(**changes):
    def lookup(name):
        if name in ("Contact", "Lead"):
            return {**CONTACT, "name": name, **changes}
        raise ConnectorError(f"Salesforce has no object named {name}.", field="export.object")

    return lookup


@pytest.mark.parametrize(
    ("params", "changes", "message"),
    [
        (
            export(mode="truncate"),
            {"deletable": False},
            "Contact records cannot be deleted, so truncate mode cannot empty Contact.",
        ),
        (export(), {"createable": False}, "Contact records cannot be created."),
        (
            export(mode="update", key="Id"),
            {"updateable": False},
            "Contact records cannot be updated.",
        ),
        (export(mode="truncate"), {"queryable": False}, "Contact records cannot be queried."),
    ],
)
def test_object_level_permissions(params, changes, message):
    with pytest.raises(ConnectorError) as raised:
        check_export(params, ["LastName"], describe_of(**changes))

    assert (raised.value.field, raised.value.message) == ("export.object", message)


def test_polymorphic_relationship_needs_the_type():
    with pytest.raises(ConnectorError) as raised:
        check_export(export(), ["LastName", "Who.Id"], describe_of())
    assert raised.value.message == (
        "Contact.Who can point to Contact, Lead: name the type, e.g. Contact:Who.Id."
    )

    check_export(export(), ["LastName", "Lead:Who.Id"], describe_of())


# Object-level permissions, as the emulator's describe reports them


@pytest.mark.parametrize(
    ("permission", "params", "message"),
    [
        ("createable", export(), "Contact records cannot be created."),
        (
            "createable",
            export(mode="update", upsert=True, key="Customer_Key__c"),
            "Contact records cannot be created.",
        ),
        ("updateable", export(mode="update", key="Id"), "Contact records cannot be updated."),
        (
            "updateable",
            export(mode="update", upsert=True, key="Customer_Key__c"),
            "Contact records cannot be updated.",
        ),
        (
            "deletable",
            export(mode="truncate"),
            "Contact records cannot be deleted, so truncate mode cannot empty Contact.",
        ),
        ("queryable", export(mode="truncate"), "Contact records cannot be queried."),
        ("queryable", export(mode="update", key="Email"), "Contact records cannot be queried."),
    ],
)
def test_refuses_modes_the_object_does_not_allow(
    connector, salesforce_emulator, permission, params, message
):
    salesforce_emulator.schema.set_object("Contact", **{permission: False})
    columns = [params.key] if params.key else ["LastName"]

    with pytest.raises(ConnectorError) as raised:
        connector.write(params, columns, [["x"]], RecordingSink())

    assert (raised.value.field, raised.value.message) == ("export.object", message)
    assert salesforce_emulator.org.ingest_jobs == {}
    assert salesforce_emulator.org.query_jobs == {}


@pytest.mark.parametrize(
    ("permission", "params"),
    [
        ("deletable", export()),
        ("queryable", export(mode="update", key="Id")),
        ("createable", export(mode="update", key="Id")),
        ("updateable", export(mode="truncate")),
    ],
)
def test_accepts_modes_that_do_not_need_the_missing_permission(
    connector, salesforce_emulator, permission, params
):
    salesforce_emulator.schema.set_object("Contact", **{permission: False})

    connector.validate_export(params, ["Id", "Phone"] if params.key == "Id" else ["LastName"])


def test_refuses_a_field_that_is_not_updateable_for_update_by_key(connector, salesforce_emulator):
    salesforce_emulator.schema.set_field("Contact", "Phone", updateable=False)

    assert refusal(connector, export(mode="update", key="Email"), ["Email", "Phone"]) == (
        "Phone",
        "Contact.Phone cannot be changed (it is not updateable).",
    )
