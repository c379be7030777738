"""Checking export settings and output columns against an object's describe, before any
row moves, so that a mistake is reported once, naming the field, instead of per row."""

import re
from collections.abc import Callable, Sequence

from connectors.base import ConnectorError, ExportParams

from .auth import SalesforceSession
from .http import RetryPolicy, error_message
from .strict import check_column_type, check_required_fields

# Bulk API 2.0 ingest exists from 41.0, its query jobs (lookups, truncate) from 47.0.
MIN_API_VERSION = 41.0
MIN_QUERY_API_VERSION = 47.0
API_VERSION_PATTERN = re.compile(r"[0-9]{2,3}\.0")
# Rel.Field, or Type:Rel.Field for a polymorphic relationship (e.g. Lead:Who.Email).
RELATIONSHIP_COLUMN = re.compile(r"(?:(\w+):)?(\w+)\.(\w+)")
MODES = ("append", "update", "truncate")


def api_version_number(text: str) -> float:
    """The API version as a number; raises ConnectorError(field="export.api_version")."""
    if not isinstance(text, str) or not API_VERSION_PATTERN.fullmatch(text):
        raise ConnectorError(
            f"The API version must look like 59.0, not {text!r}.", field="export.api_version"
        )
    number = float(text)
    if number < MIN_API_VERSION:
        raise ConnectorError(
            f"API version {text} is too old: Bulk API 2.0 needs {MIN_API_VERSION} or later.",
            field="export.api_version",
        )
    return number


def looks_up_keys(params: ExportParams) -> bool:
    """Whether an update finds each row's record Id by its key first (no upsert, key not Id)."""
    return params.mode == "update" and not params.upsert and params.key != "Id"


def needs_query(params: ExportParams) -> bool:
    """Whether the mode runs query jobs (truncate lists the Ids; update looks up keys)."""
    return params.mode == "truncate" or looks_up_keys(params)


def fetch_describe(
    session: SalesforceSession, *, api_version: str, object_name: str, retry: RetryPolicy
) -> dict:
    """GET /sobjects/{object}/describe; raises ConnectorError(field="export.object") when
    Salesforce has no such object."""
    if not re.fullmatch(r"\w+", object_name or ""):
        raise ConnectorError(
            f"{object_name!r} is not a Salesforce object API name.", field="export.object"
        )
    response = session.request(
        "GET",
        f"/services/data/v{api_version}/sobjects/{object_name}/describe/",
        retry=retry,
        headers={"Accept": "application/json"},
    )
    if response.status_code == 404:
        raise ConnectorError(
            f"Salesforce has no object named {object_name}.", field="export.object"
        )
    if response.status_code == 410:
        raise ConnectorError(
            f"Salesforce no longer serves API version {api_version}: choose a newer one.",
            field="export.api_version",
        )
    if response.status_code != 200:
        raise ConnectorError(
            f"Salesforce refused to describe {object_name}: {error_message(response)}"
        )
    try:
        describe = response.json()
    except ValueError:
        describe = None
    if not isinstance(describe, dict) or not isinstance(describe.get("fields"), list):
        raise ConnectorError(f"Salesforce sent an unreadable describe of {object_name}.")
    return describe


def check_export(
    params: ExportParams, columns: Sequence[str], describe_of: Callable[[str], dict]
) -> None:
    """Check the export settings and output columns against the destination object.

    `describe_of(object_name)` returns a describe (raising ConnectorError for an unknown
    object). Raises ConnectorError whose `field` is "export.<setting>" for a setting at
    fault, or the output column name for a column at fault: the first of export_problems.
    """
    problems = export_problems(params, columns, describe_of)
    if problems:
        raise problems[0]


def export_problems(
    params: ExportParams, columns: Sequence[str], describe_of: Callable[[str], dict]
) -> list[ConnectorError]:
    """Every problem of the settings and columns, settings first, then columns in order.
    A problem with the object or the settings stops there (the columns cannot be checked)."""
    try:
        describe = _check_settings(params, describe_of)
    except ConnectorError as error:
        return [error]
    problems = []
    name = describe.get("name") or params.object_name
    fields = _fields(describe)
    column_types = dict(params.column_types)
    set_fields: set[str] = set()
    if params.mode == "update":
        try:
            _check_key(params, name, fields, columns)
            set_fields.add(params.key)
            key_field = _field(fields, name, params.key, field_name="export.key")
            check_column_type(name, params.key, key_field, column_types.get(params.key, ""))
        except ConnectorError as error:
            problems.append(error)
    for column in columns:
        if params.mode == "update" and column == params.key:
            continue
        try:
            field = _check_column(params, column, describe, describe_of)
            set_fields.add(field["name"])
            if not RELATIONSHIP_COLUMN.fullmatch(column):
                check_column_type(name, column, field, column_types.get(column, ""))
        except ConnectorError as error:
            problems.append(error)
    inserting = params.mode in ("append", "truncate") or params.upsert
    # Required fields once every column names a field: a mistyped column is reported as such,
    # not also as the required field it was meant to be.
    if inserting and not problems:
        try:
            check_required_fields(name, fields, set_fields)
        except ConnectorError as error:
            problems.append(error)
    return problems


def _fields(describe: dict) -> dict:
    return {field["name"]: field for field in describe["fields"]}


def _check_settings(params: ExportParams, describe_of: Callable[[str], dict]) -> dict:
    """The object's describe, after checking the mode, API version and object permissions."""
    if params.mode not in MODES:
        raise ConnectorError(f"Unknown mode {params.mode!r}.", field="export.mode")
    version = api_version_number(params.api_version)
    if needs_query(params) and version < MIN_QUERY_API_VERSION:
        what = "Truncate" if params.mode == "truncate" else f"Update by {params.key}"
        raise ConnectorError(
            f"{what} runs Bulk API 2.0 query jobs, which need API version "
            f"{MIN_QUERY_API_VERSION} or later.",
            field="export.api_version",
        )
    describe = describe_of(params.object_name)
    name = describe.get("name") or params.object_name
    inserting = params.mode in ("append", "truncate") or params.upsert
    updating = params.mode == "update"

    if inserting and describe.get("createable") is False:
        raise ConnectorError(f"{name} records cannot be created.", field="export.object")
    if updating and describe.get("updateable") is False:
        raise ConnectorError(f"{name} records cannot be updated.", field="export.object")
    if params.mode == "truncate" and describe.get("deletable") is False:
        raise ConnectorError(
            f"{name} records cannot be deleted, so truncate mode cannot empty {name}.",
            field="export.object",
        )
    if needs_query(params) and describe.get("queryable") is False:
        raise ConnectorError(f"{name} records cannot be queried.", field="export.object")
    return describe


def _check_column(params: ExportParams, column: str, describe: dict, describe_of) -> dict:
    name = describe.get("name") or params.object_name
    inserting = params.mode in ("append", "truncate") or params.upsert
    updating = params.mode == "update"
    match = RELATIONSHIP_COLUMN.fullmatch(column)
    if match:
        field = _relationship_field(match, column, name, describe, describe_of)
    else:
        field = _field(_fields(describe), name, column, field_name=column)
    if inserting and not field.get("createable"):
        raise ConnectorError(
            f"{name}.{field['name']} cannot be set on new records (it is not createable).",
            field=column,
        )
    if updating and not field.get("updateable"):
        raise ConnectorError(
            f"{name}.{field['name']} cannot be changed (it is not updateable).",
            field=column,
        )
    return field


def _field(fields: dict, object_name: str, name: str, *, field_name: str) -> dict:
    if name in fields:
        return fields[name]
    hint = next(
        (f" (did you mean {known}?)" for known in fields if known.lower() == name.lower()), ""
    )
    raise ConnectorError(f"{object_name} has no field {name}{hint}.", field=field_name)


def _check_key(params: ExportParams, name: str, fields: dict, columns: Sequence[str]) -> None:
    key = params.key
    if not key:
        raise ConnectorError("Update mode needs a key field.", field="export.key")
    field = _field(fields, name, key, field_name="export.key")
    if key not in columns:
        raise ConnectorError(
            f"The key {key} must be one of the output columns.", field="export.key"
        )
    indexed = key == "Id" or bool(field.get("externalId") or field.get("idLookup"))
    if params.upsert and not indexed:
        raise ConnectorError(
            f"{name}.{key} is not an External ID field, so it cannot be the key for upsert.",
            field="export.key",
        )
    if not params.upsert and not indexed:
        raise ConnectorError(
            f"{name}.{key} is neither Id nor an External ID or idLookup field, so records "
            "cannot be found by it.",
            field="export.key",
        )
    if params.upsert and key != "Id" and not field.get("createable"):
        raise ConnectorError(
            f"{name}.{key} cannot be set on new records, so upsert cannot insert by it.",
            field="export.key",
        )
    if not params.upsert and key != "Id" and "Id" in columns:
        raise ConnectorError(
            f"Updating by {key} finds each record's Id itself: remove the Id column, or make "
            "Id the key.",
            field="Id",
        )


def _relationship_field(match, column: str, name: str, describe: dict, describe_of) -> dict:
    """The reference field behind a Rel.Field column, after checking that the parent field
    is an External ID or idLookup field of the parent object."""
    type_name, relationship, parent_field = match.groups()
    reference = next(
        (
            field
            for field in describe["fields"]
            if field.get("relationshipName") == relationship and field.get("type") == "reference"
        ),
        None,
    )
    if reference is None:
        raise ConnectorError(
            f"{name} has no field {column} (and no relationship named {relationship}).",
            field=column,
        )
    targets = reference.get("referenceTo") or []
    if type_name is not None and len(targets) == 1:
        # Salesforce fails the whole job: "type is not needed for non polymorphic foreign
        # key references".
        raise ConnectorError(
            f"{name}.{relationship} can only point to {targets[0]}: write "
            f"{relationship}.{parent_field}, without the type.",
            field=column,
        )
    if type_name is None and len(targets) > 1:
        raise ConnectorError(
            f"{name}.{relationship} can point to {', '.join(targets)}: name the type, "
            f"e.g. {targets[0]}:{relationship}.{parent_field}.",
            field=column,
        )
    target = type_name or (targets[0] if targets else "")
    if target not in targets:
        raise ConnectorError(f"{name}.{relationship} cannot point to {target}.", field=column)
    try:
        parent = describe_of(target)
    except ConnectorError as exc:
        raise ConnectorError(exc.message, field=column) from None
    parent_fields = {field["name"]: field for field in parent["fields"]}
    field = _field(parent_fields, target, parent_field, field_name=column)
    if not (field.get("externalId") or field.get("idLookup")):
        raise ConnectorError(
            f"{target}.{parent_field} is not an External ID or idLookup field, so {column} "
            "cannot find the related record.",
            field=column,
        )
    return reference
