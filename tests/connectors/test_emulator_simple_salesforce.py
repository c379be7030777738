"""The emulator driven by simple-salesforce, a Salesforce client nobody on this team wrote.

simple-salesforce builds every URL as https://{instance}/..., so it reaches the emulator through
instance_url + session_id (from a real SOAP login) and a requests session trusting our CA.
"""

import csv
import io
import re

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceOperationError

from tests.connectors.test_emulator import http, soap_login

SESSION_ID = re.compile(r"<sessionId>(.*?)</sessionId>")


def soap_session_id(emulator) -> str:
    response = soap_login(emulator)
    response.raise_for_status()
    return SESSION_ID.search(response.text).group(1)


@pytest.fixture
def sf(salesforce_emulator) -> Salesforce:
    session = http(salesforce_emulator)
    return Salesforce(
        instance_url=salesforce_emulator.url,
        session_id=soap_session_id(salesforce_emulator),
        session=session,
    )


def dict_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_describe_through_simple_salesforce(sf):
    description = sf.Contact.describe()

    fields = {field["name"]: field for field in description["fields"]}
    assert description["name"] == "Contact"
    assert fields["Customer_Key__c"]["externalId"] is True


def test_bulk2_insert_from_csv_file(sf, salesforce_emulator, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(
        "FirstName,LastName,Email\nAda,Lovelace,ada@example.com\nNo,,no-last@example.com\n",
        encoding="utf-8",
    )

    [result] = sf.bulk2.Contact.insert(csv_file=str(path), wait=0.05)

    assert result["numberRecordsProcessed"] == 2
    assert result["numberRecordsFailed"] == 1
    assert result["numberRecordsTotal"] == 2
    [stored] = salesforce_emulator.records("Contact")
    successful = dict_rows(sf.bulk2.Contact.get_successful_records(result["job_id"]))
    assert successful == [
        {
            "sf__Id": stored["Id"],
            "sf__Created": "true",
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "Email": "ada@example.com",
        }
    ]
    failed = dict_rows(sf.bulk2.Contact.get_failed_records(result["job_id"]))
    assert failed == [
        {
            "sf__Id": "",
            "sf__Error": "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
            "FirstName": "No",
            "LastName": "",
            "Email": "no-last@example.com",
        }
    ]
    # simple-salesforce asks for "unprocessedRecords"; the docs spell it "unprocessedrecords".
    unprocessed = sf.bulk2.Contact.get_unprocessed_records(result["job_id"])
    assert unprocessed == "FirstName,LastName,Email\n"


def test_bulk2_insert_records_split_into_jobs_by_batch_size(sf, salesforce_emulator):
    records = [{"LastName": f"Person {number}"} for number in range(5)]

    results = sf.bulk2.Contact.insert(records=records, batch_size=2, wait=0.05)

    assert [result["numberRecordsProcessed"] for result in results] == [2, 2, 1]
    assert len(salesforce_emulator.jobs) == 3
    assert sorted(r["LastName"] for r in salesforce_emulator.records("Contact")) == [
        f"Person {number}" for number in range(5)
    ]


def test_bulk2_upsert_by_external_id(sf, salesforce_emulator):
    [existing] = salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Old", "Customer_Key__c": "K-1"}]
    )

    [result] = sf.bulk2.Contact.upsert(
        records=[
            {"Customer_Key__c": "K-1", "LastName": "Updated"},
            {"Customer_Key__c": "K-2", "LastName": "Created"},
        ],
        external_id_field="Customer_Key__c",
        wait=0.05,
    )

    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (2, 0)
    successful = {
        row["Customer_Key__c"]: row
        for row in dict_rows(sf.bulk2.Contact.get_successful_records(result["job_id"]))
    }
    assert (successful["K-1"]["sf__Id"], successful["K-1"]["sf__Created"]) == (existing, "false")
    assert successful["K-2"]["sf__Created"] == "true"
    stored = {r["Customer_Key__c"]: r["LastName"] for r in salesforce_emulator.records("Contact")}
    assert stored == {"K-1": "Updated", "K-2": "Created"}


def test_bulk2_update_and_delete(sf, salesforce_emulator, tmp_path):
    first, second = salesforce_emulator.insert_records(
        "Contact", [{"LastName": "A"}, {"LastName": "B"}]
    )
    path = tmp_path / "ids.csv"
    path.write_text(f"Id\n{second}\n", encoding="utf-8")

    [update] = sf.bulk2.Contact.update(records=[{"Id": first, "LastName": "A2"}], wait=0.05)
    # simple-salesforce's delete only works with csv_file (its issues #684, #735).
    [delete] = sf.bulk2.Contact.delete(csv_file=str(path), wait=0.05)

    assert update["numberRecordsFailed"] == 0
    assert delete["numberRecordsFailed"] == 0
    assert [(r["Id"], r["LastName"]) for r in salesforce_emulator.records("Contact")] == [
        (first, "A2")
    ]
    assert [r["Id"] for r in salesforce_emulator.recycle_bin("Contact")] == [second]


def test_bulk2_hard_delete_reports_unknown_ids_as_failed(sf, salesforce_emulator, tmp_path):
    [record_id] = salesforce_emulator.insert_records("Contact", [{"LastName": "A"}])
    path = tmp_path / "ids.csv"
    path.write_text(f"Id\n{record_id}\nbogus\n", encoding="utf-8")

    [result] = sf.bulk2.Contact.hard_delete(csv_file=str(path), wait=0.05)

    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (2, 1)
    failed = dict_rows(sf.bulk2.Contact.get_failed_records(result["job_id"]))
    assert failed == [
        {
            "sf__Id": "",
            "sf__Error": "MALFORMED_ID:Contact ID: id value of incorrect type: bogus:Id --",
            "Id": "bogus",
        }
    ]
    assert salesforce_emulator.records("Contact") == []
    assert salesforce_emulator.recycle_bin("Contact") == []


def test_bulk2_failed_job_raises_operation_error(sf, salesforce_emulator):
    with pytest.raises(SalesforceOperationError, match="InvalidBatch : Field name not found : Foo"):
        sf.bulk2.Contact.insert(records=[{"LastName": "A", "Foo": "x"}], wait=0.05)

    [job] = salesforce_emulator.jobs
    assert job.state == "Failed"
    unprocessed = dict_rows(sf.bulk2.Contact.get_unprocessed_records(job.id))
    assert unprocessed == [{"LastName": "A", "Foo": "x"}]


def test_bulk2_query_pages_through_results(sf, salesforce_emulator):
    ids = salesforce_emulator.insert_records("Contact", [{"LastName": f"N{n}"} for n in range(5)])

    pages = list(sf.bulk2.Contact.query("SELECT Id FROM Contact", max_records=2, wait=0.05))

    assert len(pages) == 3
    assert [row["Id"] for page in pages for row in dict_rows(page)] == ids


def test_bulk2_delete_job_disagrees_with_docs_on_the_empty_body(sf, salesforce_emulator):
    [result] = sf.bulk2.Contact.insert(records=[{"LastName": "A"}], wait=0.05)
    client = sf.bulk2.Contact._client

    # The docs answer DELETE with 204 and no body; simple-salesforce calls .json() on it
    # (fixed upstream only for its REST calls, PR #771). The docs win: the job is deleted.
    with pytest.raises(requests.exceptions.JSONDecodeError):
        client.delete_job(result["job_id"], is_query=False)

    assert salesforce_emulator.jobs[0].deleted is True
