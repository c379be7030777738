"""Checks where Salesforce is strict, made before any job exists: fields required on insert
that the mapping leaves out, output columns whose type cannot fit their field, and keys or
Ids that occur twice in one job (Salesforce fails such rows, or the whole batch)."""

from collections.abc import Mapping, Sequence

from connectors.base import ConnectorError, FailedRow

from .chunks import Chunk, ChunkWriter

# Salesforce field types whose values are text: any column renders into them.
TEXT_TYPES = {
    "string",
    "textarea",
    "picklist",
    "multipicklist",
    "combobox",
    "email",
    "phone",
    "url",
    "encryptedstring",
    "anyType",
}
# Column types (segments.models.ColumnType) each non-text Salesforce field type accepts.
# A string column may hold anything, so Salesforce judges its values row by row.
ACCEPTED_COLUMN_TYPES = {
    "boolean": {"boolean", "string"},
    "int": {"integer", "string"},
    "long": {"integer", "string"},
    "double": {"integer", "number", "string"},
    "currency": {"integer", "number", "string"},
    "percent": {"integer", "number", "string"},
    "date": {"date", "timestamp", "string"},
    "datetime": {"timestamp", "date", "string"},
    "time": {"string"},
    "id": {"string"},
    "reference": {"string"},
    "base64": {"string"},
}


def is_required_on_insert(field: dict) -> bool:
    """Salesforce's "required": createable, not nillable, not defaulted on create
    (a boolean is never required: it defaults to false)."""
    return (
        bool(field.get("createable"))
        and field.get("nillable") is False
        and not field.get("defaultedOnCreate")
        and field.get("type") != "boolean"
    )


def check_required_fields(
    object_name: str, fields: Mapping[str, dict], set_fields: set[str]
) -> None:
    """Raise ConnectorError(field="output_mapping") naming the required fields that no
    output column sets: Salesforce would fail every new record with REQUIRED_FIELD_MISSING."""
    missing = [
        name
        for name, field in fields.items()
        if is_required_on_insert(field) and name not in set_fields
    ]
    if missing:
        plural = "fields" if len(missing) > 1 else "field"
        raise ConnectorError(
            f"{object_name} requires the {plural} {', '.join(missing)} on new records: add "
            f"{'them' if len(missing) > 1 else 'it'} to the output mapping (Salesforce would "
            "fail every new row with REQUIRED_FIELD_MISSING).",
            field="output_mapping",
        )


def check_column_type(object_name: str, column: str, field: dict, column_type: str) -> None:
    """Raise ConnectorError(field=column) when a column of `column_type` cannot fit the
    field's type (a date into a boolean field)."""
    field_type = field.get("type") or ""
    if not column_type or field_type in TEXT_TYPES or field_type not in ACCEPTED_COLUMN_TYPES:
        return
    if column_type not in ACCEPTED_COLUMN_TYPES[field_type]:
        raise ConnectorError(
            f"The column {column} holds {column_type} values, which cannot go into "
            f"{object_name}.{field['name']} (a {field_type} field).",
            field=column,
        )


def duplicate_values(values: Sequence[str], *, normalize=lambda value: value) -> set[str]:
    """The normalized non-empty values that occur more than once."""
    seen: set[str] = set()
    duplicates: set[str] = set()
    for value in values:
        if value:
            key = normalize(value)
            (duplicates if key in seen else seen).add(key)
    return duplicates


def without_duplicate_keys(chunk: Chunk, column: str, *, case_sensitive: bool):
    """The chunk without the rows whose `column` value occurs more than once in it, and
    those rows failed: Salesforce fails every one of them ("Duplicate id specified",
    "Duplicate external id specified"), so they are not sent. Returns (chunk, failed rows);
    the chunk itself when nothing is duplicated."""
    if column not in chunk.header:
        return chunk, []

    def normalize(value: str) -> str:
        if column == "Id":
            return value[:15]  # the 15 case-sensitive characters; the suffix only repeats them
        return value if case_sensitive else value.casefold()

    duplicates = duplicate_values(
        [row.get(column) or "" for row in chunk.rows()], normalize=normalize
    )
    if not duplicates:
        return chunk, []
    writer = ChunkWriter(chunk.header, chunk.restore)
    failed: list[FailedRow] = []
    for row in chunk.rows():
        value = row.get(column) or ""
        if value and normalize(value) in duplicates:
            failed.append(
                FailedRow(
                    chunk.restore(row),
                    f"Not sent: {column} {value!r} occurs more than once in one Salesforce "
                    "job, which fails every such row; make the key unique in the segment",
                )
            )
        else:
            writer.add([row.get(name) or "" for name in chunk.header])
    return writer.finish(), failed
