"""Result files as real orgs may send them: any row order, CRLF, a byte order mark, quoted
commas and newlines, Unicode, rows left out; every row still ends with the right outcome."""

import pytest

from tests.connectors.recording import RecordingSink, export

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast")]

PICKLIST_ERROR = (
    'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:bad value for restricted picklist field: Hot, "very"'
    "\nhot:Status --"
)


LEADS = [
    ["Zoë", "Łukasiewicz", 'Ącme, "Ltd"\nWarsaw', "Open - Not Contacted"],
    ["Ada", "Lovelace", "Analytical Engines", 'Hot, "very"\nhot'],
    ["山田", "太郎", "株式会社", "Working - Contacted"],
]
COLUMNS = ["FirstName", "LastName", "Company", "Status"]


def lead_names(emulator) -> list[tuple[str, str, str]]:
    return sorted((r["FirstName"], r["LastName"], r["Company"]) for r in emulator.records("Lead"))


@pytest.mark.parametrize(
    "style",
    [
        {},
        {"result_line_ending": "CRLF"},
        {"result_byte_order_mark": True},
        {"result_order": "reversed"},
        {"result_line_ending": "CRLF", "result_byte_order_mark": True, "result_order": "reversed"},
    ],
)
def test_outcomes_are_read_whatever_the_shape_of_the_result_files(
    salesforce_emulator, connector, style
):
    for name, value in style.items():
        setattr(salesforce_emulator.settings, name, value)
    sink = RecordingSink()

    result = connector.write(export(object_name="Lead"), COLUMNS, LEADS, sink)

    assert lead_names(salesforce_emulator) == sorted(
        [("Zoë", "Łukasiewicz", 'Ącme, "Ltd"\nWarsaw'), ("山田", "太郎", "株式会社")]
    )
    assert (result.rows_sent, result.rows_succeeded, result.rows_failed) == (3, 2, 1)
    # The failed row comes back exactly as sent, and the reason with its commas and quotes.
    assert sink.failures() == [(LEADS[1], PICKLIST_ERROR)]


def test_rows_left_out_of_the_results_fail_with_their_values(
    salesforce_emulator, connector, caplog
):
    salesforce_emulator.settings.unrecorded_results = 1
    salesforce_emulator.settings.result_order = "reversed"
    sink = RecordingSink()
    rows = [["Lovelace"], ["Turing"], ["Hopper"]]

    result = connector.write(export(), ["LastName"], rows, sink)

    assert (result.rows_succeeded, result.rows_failed) == (2, 1)
    # The emulator leaves out the first row it processed.
    [(values, error)] = sink.failures()
    assert values == ["Lovelace"]
    assert error == f"Salesforce reported no outcome for this row (job {result.job_ids[0]})"
    assert (
        f"Job {result.job_ids[0]} reports 3 processed and 0 failed rows; its result files "
        "hold 2 and 0"
    ) in caplog.messages


def test_rows_left_out_that_cannot_be_told_apart_fail_without_values(
    salesforce_emulator, connector
):
    # Salesforce echoes currency values converted (100000000 comes back as 1.0E8), so the
    # echoes do not say which of the rows sent is the missing one.
    salesforce_emulator.settings.unrecorded_results = 1
    sink = RecordingSink()
    rows = [["Lovelace", "100000000"], ["Turing", "200000000"]]

    result = connector.write(export(), ["LastName", "Lifetime_Value__c"], rows, sink)

    assert (result.rows_succeeded, result.rows_failed) == (1, 1)
    assert [values for values, _ in sink.failures()] == [[]]


@pytest.mark.parametrize("byte_order_mark", [False, True])
def test_unprocessed_rows_of_a_failed_job_keep_their_values(
    salesforce_emulator, connector, byte_order_mark
):
    # Unprocessed rows start with a data column, which a byte order mark would spoil.
    salesforce_emulator.settings.result_byte_order_mark = byte_order_mark
    salesforce_emulator.inject("job_failed", message="Timeout : too slow", processed_rows=1)
    sink = RecordingSink()

    result = connector.write(export(), ["LastName"], [["Lovelace"], ["Turing"]], sink)

    assert (result.rows_succeeded, result.rows_failed) == (1, 1)
    assert sink.failures() == [(["Turing"], "Not processed by Salesforce: Timeout : too slow")]


def test_a_failed_job_without_unprocessed_rows_fails_the_rest_by_value(
    salesforce_emulator, connector
):
    salesforce_emulator.inject("job_failed", message="Timeout : too slow", processed_rows=2)
    salesforce_emulator.inject("http_error", status=404, times=None, path="/unprocessedrecords")
    sink = RecordingSink()
    rows = [["Lovelace"], ["Turing"], ["Hopper"], ["Curie"]]

    result = connector.write(export(), ["LastName"], rows, sink)

    assert (result.rows_succeeded, result.rows_failed) == (2, 2)
    assert sink.failures() == [
        (["Curie"], "Not processed by Salesforce: Timeout : too slow"),
        (["Hopper"], "Not processed by Salesforce: Timeout : too slow"),
    ]


def test_truncate_reads_ids_from_query_results_with_a_byte_order_mark(
    salesforce_emulator, connector
):
    salesforce_emulator.insert_records("Contact", [{"LastName": "Old 1"}, {"LastName": "Old 2"}])
    salesforce_emulator.settings.result_byte_order_mark = True

    result = connector.write(export(mode="truncate"), ["LastName"], [["New"]], RecordingSink())

    assert [r["LastName"] for r in salesforce_emulator.records("Contact")] == ["New"]
    assert len(salesforce_emulator.recycle_bin("Contact")) == 2
    assert result.rows_succeeded == 1
