"""Each export mode against the emulator, checked record by record afterwards."""

import pytest

from connectors.base import ConnectorError
from tests.connectors.recording import RecordingSink, export

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast")]


def contacts(emulator, *fields):
    return sorted(
        tuple(record.get(name) for name in fields) for record in emulator.records("Contact")
    )


def test_append_inserts_every_row(salesforce_emulator, connector):
    sink = RecordingSink()
    rows = [["Ada", "Lovelace", "ada@example.com"], ["Alan", "Turing", "alan@example.com"]]

    result = connector.write(export(), ["FirstName", "LastName", "Email"], iter(rows), sink)

    assert contacts(salesforce_emulator, "FirstName", "LastName", "Email") == [
        ("Ada", "Lovelace", "ada@example.com"),
        ("Alan", "Turing", "alan@example.com"),
    ]
    assert (result.rows_sent, result.rows_succeeded, result.rows_failed) == (2, 2, 0)
    assert sink.succeeded == 2
    assert sink.failed == []
    assert len(result.job_ids) == 1
    assert result.job_ids == sink.job_ids
    assert result.job_ids[0].startswith("750")


def test_append_reports_rows_salesforce_refuses_with_its_reason(salesforce_emulator, connector):
    sink = RecordingSink()
    rows = [["Ada", "Lovelace"], ["Nobody", ""]]

    result = connector.write(export(), ["FirstName", "LastName"], rows, sink)

    assert contacts(salesforce_emulator, "FirstName", "LastName") == [("Ada", "Lovelace")]
    assert (result.rows_sent, result.rows_succeeded, result.rows_failed) == (2, 1, 1)
    assert sink.failures() == [
        (
            ["Nobody", ""],
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
        )
    ]


def test_update_by_id_changes_only_the_named_records(salesforce_emulator, connector):
    ada, alan = salesforce_emulator.insert_records(
        "Contact",
        [{"LastName": "Lovelace", "Phone": "1"}, {"LastName": "Turing", "Phone": "2"}],
    )
    sink = RecordingSink()

    result = connector.write(export(mode="update", key="Id"), ["Id", "Phone"], [[ada, "100"]], sink)

    assert contacts(salesforce_emulator, "Id", "LastName", "Phone") == sorted(
        [(ada, "Lovelace", "100"), (alan, "Turing", "2")]
    )
    assert (result.rows_succeeded, result.rows_failed) == (1, 0)


def test_update_by_email_looks_up_ids_and_fails_rows_without_a_match(
    salesforce_emulator, connector
):
    # given two contacts, one of them sharing its email with a third
    ada, alan, twin = salesforce_emulator.insert_records(
        "Contact",
        [
            {"LastName": "Lovelace", "Email": "ada@example.com", "Phone": "1"},
            {"LastName": "Turing", "Email": "alan@example.com", "Phone": "2"},
            {"LastName": "Turing Twin", "Email": "alan@example.com", "Phone": "3"},
        ],
    )
    sink = RecordingSink()
    rows = [
        ["ADA@example.com", "100"],  # Salesforce compares emails without case
        ["grace@example.com", "300"],
        ["alan@example.com", "200"],
        ["", "400"],
    ]

    # when updating by Email without upsert
    result = connector.write(export(mode="update", key="Email"), ["Email", "Phone"], rows, sink)

    # then only Ada changed; the others failed with a reason
    assert contacts(salesforce_emulator, "Id", "Email", "Phone") == sorted(
        [
            (ada, "ada@example.com", "100"),
            (alan, "alan@example.com", "2"),
            (twin, "alan@example.com", "3"),
        ]
    )
    assert (result.rows_sent, result.rows_succeeded, result.rows_failed) == (4, 1, 3)
    assert sink.failures() == [
        (["", "400"], "The key Email is empty"),
        (
            ["alan@example.com", "200"],
            "2 Contact records have Email = 'alan@example.com'; update by key needs exactly one",
        ),
        (["grace@example.com", "300"], "No Contact has Email = 'grace@example.com'"),
    ]
    assert len(result.job_ids) == 2  # the lookup query job, then the update job


def test_update_by_key_reports_salesforce_failures_with_the_original_key(
    salesforce_emulator, connector
):
    salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Lovelace", "Email": "ada@example.com"}]
    )
    sink = RecordingSink()

    result = connector.write(
        export(mode="update", key="Email"), ["Email", "LastName"], [["ada@example.com", ""]], sink
    )

    # An empty cell leaves a field alone on update, so clearing a required one takes #N/A.
    assert result.rows_succeeded == 1
    sink = RecordingSink()
    result = connector.write(
        export(mode="update", key="Email"),
        ["Email", "LastName"],
        [["ada@example.com", "#N/A"]],
        sink,
    )
    assert result.rows_failed == 1
    [(values, error)] = sink.failures()
    assert values == ["ada@example.com", "#N/A"]
    assert error.startswith("REQUIRED_FIELD_MISSING:")
    assert contacts(salesforce_emulator, "LastName") == [("Lovelace",)]


def test_upsert_on_an_external_id_creates_and_updates_without_duplicates(
    salesforce_emulator, connector
):
    [existing] = salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Lovelace", "Customer_Key__c": "C-1", "Phone": "1"}]
    )
    params = export(mode="update", upsert=True, key="Customer_Key__c")
    columns = ["Customer_Key__c", "LastName", "Phone"]
    rows = [["C-1", "Lovelace", "100"], ["C-2", "Turing", "200"]]

    first = connector.write(params, columns, rows, RecordingSink())
    second = connector.write(params, columns, rows, RecordingSink())  # a retried run

    records = salesforce_emulator.records("Contact")
    assert sorted((r["Customer_Key__c"], r["LastName"], r["Phone"]) for r in records) == [
        ("C-1", "Lovelace", "100"),
        ("C-2", "Turing", "200"),
    ]
    assert next(r["Id"] for r in records if r["Customer_Key__c"] == "C-1") == existing
    assert (first.rows_succeeded, second.rows_succeeded) == (2, 2)


@pytest.mark.parametrize("hard_delete", [False, True])
def test_truncate_deletes_every_record_then_inserts(salesforce_emulator, connector, hard_delete):
    old = salesforce_emulator.insert_records(
        "Contact", [{"LastName": f"Old {i}"} for i in range(5)]
    )
    sink = RecordingSink()

    result = connector.write(
        export(mode="truncate", hard_delete=hard_delete, batch_size=2),
        ["LastName"],
        [["New 1"], ["New 2"], ["New 3"]],
        sink,
    )

    assert contacts(salesforce_emulator, "LastName") == [("New 1",), ("New 2",), ("New 3",)]
    binned = sorted(record["Id"] for record in salesforce_emulator.recycle_bin("Contact"))
    assert binned == ([] if hard_delete else sorted(old))
    assert (result.rows_sent, result.rows_succeeded, result.rows_failed) == (3, 3, 0)
    # query job, 3 delete jobs of at most 2 ids, 2 insert jobs of at most 2 rows
    assert len(result.job_ids) == 6
    verb = "Hard-deleted" if hard_delete else "Deleted"
    assert f"{verb} 5 Contact records before inserting" in sink.messages


def test_truncate_of_an_empty_object_with_no_rows_does_nothing_else(salesforce_emulator, connector):
    result = connector.write(export(mode="truncate"), ["LastName"], [], RecordingSink())

    assert (result.rows_sent, result.rows_succeeded, result.rows_failed) == (0, 0, 0)
    assert len(result.job_ids) == 1  # just the query job
    assert salesforce_emulator.records("Contact") == []


def test_truncate_inserts_nothing_when_a_record_cannot_be_deleted(salesforce_emulator, connector):
    salesforce_emulator.insert_records("Contact", [{"LastName": "Old 1"}, {"LastName": "Old 2"}])
    salesforce_emulator.inject("unable_to_lock_row", times=None)
    sink = RecordingSink()

    with pytest.raises(ConnectorError) as raised:
        connector.write(export(mode="truncate", retry_limit=1), ["LastName"], [["New"]], sink)

    assert raised.value.message.startswith(
        "Could not empty Contact before inserting: 2 of 2 records were not deleted "
        "(first error: UNABLE_TO_LOCK_ROW:"
    )
    assert raised.value.message.endswith("No rows were inserted.")
    assert raised.value.retryable is True
    assert contacts(salesforce_emulator, "LastName") == [("Old 1",), ("Old 2",)]
    assert (sink.succeeded, sink.failed) == (0, [])


def test_truncate_reads_every_page_of_the_id_query(salesforce_emulator, connector, monkeypatch):
    monkeypatch.setattr("connectors.salesforce.bulk.QUERY_PAGE_RECORDS", 2)
    salesforce_emulator.insert_records("Contact", [{"LastName": f"Old {i}"} for i in range(5)])

    connector.write(export(mode="truncate"), ["LastName"], [["New"]], RecordingSink())

    assert contacts(salesforce_emulator, "LastName") == [("New",)]
    assert len(salesforce_emulator.recycle_bin("Contact")) == 5
    pages = [
        path for method, path in salesforce_emulator.org.requests_log if path.endswith("/results")
    ]
    assert len(pages) == 3


def test_update_by_key_looks_keys_up_with_one_query_job_per_run(salesforce_emulator, connector):
    emails = [f"person{i}@example.com" for i in range(6)]
    salesforce_emulator.insert_records(
        "Contact", [{"LastName": f"P{i}", "Email": email} for i, email in enumerate(emails)]
    )

    result = connector.write(
        export(mode="update", key="Email", batch_size=2),
        ["Email", "Phone"],
        [[email, str(i)] for i, email in enumerate(emails)],
        RecordingSink(),
    )

    assert contacts(salesforce_emulator, "Email", "Phone") == [
        (email, str(i)) for i, email in enumerate(emails)
    ]
    assert len(salesforce_emulator.org.ingest_jobs) == 3
    assert len(salesforce_emulator.org.query_jobs) == 1  # not one per chunk
    assert result.rows_succeeded == 6


def test_truncate_with_hard_delete_needs_the_permission(salesforce_emulator, connector):
    salesforce_emulator.insert_records("Contact", [{"LastName": "Old"}])
    salesforce_emulator.user().hard_delete_allowed = False

    with pytest.raises(ConnectorError) as raised:
        connector.write(
            export(mode="truncate", hard_delete=True), ["LastName"], [["New"]], RecordingSink()
        )

    assert raised.value.message == (
        "Could not empty Contact before inserting: 1 of 1 records were not deleted (first "
        "error: Salesforce refused to create a hardDelete job for Contact: FEATURENOTENABLED: "
        "Bulk API Hard Delete permission is required for the hardDelete operation). "
        "No rows were inserted."
    )
    assert contacts(salesforce_emulator, "LastName") == [("Old",)]
