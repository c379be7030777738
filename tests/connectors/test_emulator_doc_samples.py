"""The examples of the Bulk API 2.0 guide run against the emulator as the guide says they run:
"Sample CSV Files", "Step 3: Bulk Insert" and "Step 5: Bulk Upsert"."""

import pytest

from tests.connectors.test_emulator import Api, rows


@pytest.fixture
def api(salesforce_emulator):
    return Api(salesforce_emulator)


def test_simple_csv(salesforce_emulator, api):
    info = api.run(
        "Name,Description,NumberOfEmployees\n"
        "TestAccount1,Description of TestAccount1,30\n"
        "TestAccount2,Another description,40\n"
        "TestAccount3,Yet another description,50\n",
        object="Account",
        contentType="CSV",
        operation="insert",
    )

    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (
        "JobComplete",
        3,
        0,
    )
    assert [
        (a["Name"], a["Description"], a["NumberOfEmployees"])
        for a in salesforce_emulator.records("Account")
    ] == [
        ("TestAccount1", "Description of TestAccount1", 30),
        ("TestAccount2", "Another description", 40),
        ("TestAccount3", "Yet another description", 50),
    ]


def test_csv_with_alternate_line_ending(salesforce_emulator, api):
    info = api.run(
        "FirstName,LastName,Description\r\nTom,Jones,Branding guru\r\n"
        "Ian,Dury,Fuzzy logic expert\r\n",
        object="Contact",
        contentType="CSV",
        operation="insert",
        lineEnding="CRLF",
    )

    assert info["state"] == "JobComplete"
    assert [c["Description"] for c in salesforce_emulator.records("Contact")] == [
        "Branding guru",
        "Fuzzy logic expert",
    ]


def test_csv_with_semicolon_delimiter_and_escaped_fields(salesforce_emulator, api):
    info = api.run(
        "FirstName;LastName;Title;Birthdate;Description\n"
        'Tom;Jones;Senior Director;1940-06-07Z;"Self-described as ""the top"" branding guru"\n'
        'Ian;Dury;Chief Imagineer;1965-12-11Z;"Expert in fuzzy logic design; Knowledgeable in AI\n'
        'Influential in technology purchases."\n',
        object="Contact",
        contentType="CSV",
        operation="insert",
        columnDelimiter="SEMICOLON",
    )

    assert (info["state"], info["numberRecordsFailed"]) == ("JobComplete", 0)
    assert [
        (c["Title"], c["Birthdate"], c["Description"])
        for c in salesforce_emulator.records("Contact")
    ] == [
        ("Senior Director", "1940-06-07", 'Self-described as "the top" branding guru'),
        (
            "Chief Imagineer",
            "1965-12-11",
            "Expert in fuzzy logic design; Knowledgeable in AI\nInfluential in technology "
            "purchases.",
        ),
    ]


def test_csv_with_relationship_field(salesforce_emulator, api):
    salesforce_emulator.add_user("mfellow@salesforce.com", "pw", "token")
    [mfellow] = [
        u["Id"]
        for u in salesforce_emulator.records("User")
        if u["Email"] == "mfellow@salesforce.com"
    ]

    info = api.run(
        "FirstName,LastName,Owner.Email\n"
        "Joe,User,mfellow@salesforce.com\n"
        "Jane,User,mfellow@salesforce.com\n",
        object="Contact",
        contentType="CSV",
        operation="insert",
    )

    assert (info["state"], info["numberRecordsFailed"]) == ("JobComplete", 0)
    assert [c["OwnerId"] for c in salesforce_emulator.records("Contact")] == [mfellow, mfellow]


def test_new_records_belong_to_their_creator_unless_the_row_names_an_owner(
    salesforce_emulator, api
):
    api.run("Name\nAcme\n", object="Account", operation="insert")

    [acme] = salesforce_emulator.records("Account")
    assert acme["OwnerId"] == salesforce_emulator.user().user_id


def test_walkthrough_bulk_insert(salesforce_emulator, api):
    job = api.create_job(object="Account", contentType="CSV", operation="insert", lineEnding="LF")
    assert job["state"] == "Open"
    assert job["contentUrl"] == f"services/data/v59.0/jobs/ingest/{job['id']}/batches"
    upload = api.upload(
        job,
        "Name,ShippingCity,NumberOfEmployees,AnnualRevenue,Website,Description\n"
        'Lorem Ipsum,Milano,2676,912260031,https://ft.com/lacus/at.jsp,"Lorem ipsum dolor sit amet"\n'
        "Posuere Inc,Bodø,141603,896852810,"
        'http://webs.com/in/faucibus/orci/luctus/et/ultrices/posuere.json,"consectetur adipiscing elit"\n',
    )
    assert (upload.status_code, upload.content) == (201, b"")
    assert api.close(job["id"]).json()["state"] == "UploadComplete"

    info = api.wait(job["id"])

    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (
        "JobComplete",
        2,
        0,
    )
    lorem = salesforce_emulator.records("Account")[0]
    successful = api.result(job["id"], "successfulResults").splitlines()
    assert successful[0] == (
        '"sf__Id","sf__Created",Name,ShippingCity,NumberOfEmployees,AnnualRevenue,Website,'
        "Description"
    )
    # The currency comes back converted, as in the guide's results.
    assert successful[1] == (
        f'"{lorem["Id"]}","true","Lorem Ipsum","Milano","2676","9.12260031E8",'
        '"https://ft.com/lacus/at.jsp","Lorem ipsum dolor sit amet"'
    )


def test_walkthrough_bulk_upsert(salesforce_emulator, api):
    text = (
        "customExtIdField__c,name,NumberOfEmployees\n"
        "123,GenePoint,800\n"
        '234,"United Oil & Gas, UK",1467\n'
        '345,"United Oil & Gas, Singapore",348\n'
    )
    spec = {
        "object": "Account",
        "externalIdFieldName": "customExtIdField__c",
        "contentType": "CSV",
        "operation": "upsert",
        "lineEnding": "LF",
    }

    first = api.run(text, **spec)
    second = api.run(text.replace(",800", ",900"), **spec)

    assert first["externalIdFieldName"] == "customExtIdField__c"
    created = [row[1] for row in rows(api.result(first["id"], "successfulResults"))[1:]]
    updated = [row[1] for row in rows(api.result(second["id"], "successfulResults"))[1:]]
    assert (created, updated) == (["true"] * 3, ["false"] * 3)
    assert sorted(
        (a["customExtIdField__c"], a["Name"], a["NumberOfEmployees"])
        for a in salesforce_emulator.records("Account")
    ) == [
        ("123", "GenePoint", 900),
        ("234", "United Oil & Gas, UK", 1467),
        ("345", "United Oil & Gas, Singapore", 348),
    ]
