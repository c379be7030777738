"""The emulator's relationship columns (Rel.Field, Type:Rel.Field) and object-level permissions."""

import pytest

from tests.connectors.test_emulator import API, Api, rows


@pytest.fixture
def api(salesforce_emulator):
    return Api(salesforce_emulator)


def test_relationship_column_sets_the_lookup_by_the_parents_external_id(salesforce_emulator, api):
    (acme,) = salesforce_emulator.insert_records(
        "Account", [{"Name": "Acme", "Customer_Key__c": "ACME-1"}]
    )

    info = api.run(
        "LastName,Account.Customer_Key__c\nLovelace,ACME-1\nTuring,\n",
        object="Contact",
        operation="insert",
    )

    assert (info["state"], info["numberRecordsFailed"]) == ("JobComplete", 0)
    contacts = salesforce_emulator.records("Contact")
    assert [(c["LastName"], c["AccountId"]) for c in contacts] == [
        ("Lovelace", acme),
        ("Turing", None),
    ]
    # The result echoes the column as uploaded.
    assert rows(api.result(info["id"], "successfulResults"))[0] == [
        "sf__Id",
        "sf__Created",
        "LastName",
        "Account.Customer_Key__c",
    ]


def test_relationship_column_matches_external_ids_case_insensitively(salesforce_emulator, api):
    (acme,) = salesforce_emulator.insert_records(
        "Account", [{"Name": "Acme", "Customer_Key__c": "ACME-1"}]
    )

    api.run(
        "LastName,account.customer_key__c\nLovelace,acme-1\n", object="Contact", operation="insert"
    )

    assert [c["AccountId"] for c in salesforce_emulator.records("Contact")] == [acme]


def test_unknown_parent_fails_the_row_with_the_foreign_key_error(salesforce_emulator, api):
    salesforce_emulator.insert_records("Account", [{"Name": "Acme", "Customer_Key__c": "ACME-1"}])

    info = api.run(
        "LastName,Account.Customer_Key__c\nLovelace,ACME-1\nTuring,NOPE-9\n",
        object="Contact",
        operation="insert",
    )

    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (
        "JobComplete",
        2,
        1,
    )
    assert rows(api.result(info["id"], "failedResults"))[1:] == [
        [
            "",
            "INVALID_FIELD:Foreign key external ID: NOPE-9 not found for field Customer_Key__c "
            "in entity Account:--",
            "Turing",
            "NOPE-9",
        ]
    ]
    assert [c["LastName"] for c in salesforce_emulator.records("Contact")] == ["Lovelace"]


def test_parent_found_twice_fails_the_row(salesforce_emulator, api):
    salesforce_emulator.schema.set_field("Account", "Customer_Key__c", unique=False)
    first, second = salesforce_emulator.insert_records(
        "Account",
        [{"Name": "A", "Customer_Key__c": "DUP"}, {"Name": "B", "Customer_Key__c": "DUP"}],
    )

    info = api.run(
        "LastName,Account.Customer_Key__c\nLovelace,DUP\n", object="Contact", operation="insert"
    )

    assert rows(api.result(info["id"], "failedResults"))[1][1] == (
        "DUPLICATE_EXTERNAL_ID:Customer Key: more than one record found for external id field: "
        f"[{', '.join(sorted([first, second]))}]:--"
    )


def test_self_relationship_by_an_idlookup_field(salesforce_emulator, api):
    (boss,) = salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Boss", "Email": "boss@example.com"}]
    )

    api.run(
        "LastName,ReportsTo.Email\nWorker,boss@example.com\n", object="Contact", operation="insert"
    )

    worker = next(c for c in salesforce_emulator.records("Contact") if c["LastName"] == "Worker")
    assert worker["ReportsToId"] == boss


def test_update_can_set_and_clear_a_lookup_by_relationship(salesforce_emulator, api):
    (acme,) = salesforce_emulator.insert_records(
        "Account", [{"Name": "Acme", "Customer_Key__c": "ACME-1"}]
    )
    (ada,) = salesforce_emulator.insert_records("Contact", [{"LastName": "Lovelace"}])

    api.run(f"Id,Account.Customer_Key__c\n{ada},ACME-1\n", object="Contact", operation="update")
    assert salesforce_emulator.records("Contact")[0]["AccountId"] == acme

    api.run(f"Id,Account.Customer_Key__c\n{ada},#N/A\n", object="Contact", operation="update")
    assert salesforce_emulator.records("Contact")[0]["AccountId"] is None


def test_polymorphic_relationship_names_the_type(salesforce_emulator, api):
    (lead,) = salesforce_emulator.insert_records(
        "Lead", [{"LastName": "Lee", "Company": "Co", "Email": "lee@example.com"}]
    )
    (contact,) = salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Con", "Email": "con@example.com"}]
    )

    api.run("Subject,Lead:Who.Email\nCall,lee@example.com\n", object="Task", operation="insert")
    api.run("Subject,Contact:Who.Email\nMail,con@example.com\n", object="Task", operation="insert")

    assert [(t["Subject"], t["WhoId"]) for t in salesforce_emulator.records("Task")] == [
        ("Call", lead),
        ("Mail", contact),
    ]


# Salesforce's own words, too long for the table.
NOT_POLYMORPHIC = "type is not needed for non polymorphic foreign key references"
NOT_AN_EXTERNAL_ID = "Field name provided, Name is not an External ID or indexed field for Account"


@pytest.mark.parametrize(
    ("object_name", "header", "message"),
    [
        ("Contact", "Parent.Email", "Unable to find relationship: Parent"),
        ("Contact", "Account:Account.Customer_Key__c", f"{NOT_POLYMORPHIC}: Account"),
        ("Task", "Who.Email", "Polymorphic foreign key reference requires an object type: Who"),
        ("Contact", "Account.Name", NOT_AN_EXTERNAL_ID),
        ("Contact", "Account.Nope__c", "Field name not found : Account.Nope__c"),
    ],
)
def test_bad_relationship_headers_fail_the_job(api, object_name, header, message):
    first = "Subject" if object_name == "Task" else "LastName"

    info = api.run(f"{first},{header}\nX,y\n", object=object_name, operation="insert")

    assert (info["state"], info["errorMessage"]) == ("Failed", f"InvalidBatch : {message}")
    assert rows(api.result(info["id"], "unprocessedrecords")) == [[first, header], ["X", "y"]]


# Object-level permissions


@pytest.mark.parametrize("permission", ["createable", "updateable", "deletable", "queryable"])
def test_describe_reports_object_permissions_tests_turn_off(salesforce_emulator, api, permission):
    salesforce_emulator.schema.set_object("Contact", **{permission: False})

    describe = api.request("GET", f"{API}/sobjects/Contact/describe").json()
    listed = api.request("GET", f"{API}/sobjects").json()["sobjects"]

    assert describe[permission] is False
    assert next(item for item in listed if item["name"] == "Contact")[permission] is False
    others = {"createable", "updateable", "deletable", "queryable"} - {permission}
    assert all(describe[name] is True for name in others)


def test_objects_refuse_rows_for_operations_they_do_not_allow(salesforce_emulator, api):
    (ada,) = salesforce_emulator.insert_records("Contact", [{"LastName": "Lovelace"}])
    salesforce_emulator.schema.set_object(
        "Contact", createable=False, updateable=False, deletable=False
    )

    inserted = api.run("LastName\nTuring\n", object="Contact", operation="insert")
    updated = api.run(f"Id,LastName\n{ada},Byron\n", object="Contact", operation="update")
    deleted = api.run(f"Id\n{ada}\n", object="Contact", operation="delete")

    assert rows(api.result(inserted["id"], "failedResults"))[1][:2] == [
        "",
        "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY:entity type cannot be inserted: Contact:--",
    ]
    assert rows(api.result(updated["id"], "failedResults"))[1][:2] == [
        ada,
        "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY:entity type cannot be updated: Contact:--",
    ]
    assert rows(api.result(deleted["id"], "failedResults"))[1][:2] == [
        ada,
        "INSUFFICIENT_ACCESS_OR_READONLY:insufficient access rights on object id:--",
    ]
    assert [(c["Id"], c["LastName"]) for c in salesforce_emulator.records("Contact")] == [
        (ada, "Lovelace")
    ]


def test_object_that_cannot_be_queried_answers_like_an_unknown_one(salesforce_emulator, api):
    salesforce_emulator.schema.set_object("Contact", queryable=False)

    response = api.request(
        "POST", f"{API}/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Contact"}
    )

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_TYPE"
    assert response.json()[0]["message"].startswith("sObject type 'Contact' is not supported.")


def test_unknown_object_permission_is_refused(salesforce_emulator):
    with pytest.raises(ValueError, match="unknown object permissions: deleteable"):
        salesforce_emulator.schema.set_object("Contact", deleteable=False)
