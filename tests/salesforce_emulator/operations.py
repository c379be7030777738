"""Applying one ingest job's rows to the store: insert, update, upsert, delete, hardDelete."""

from dataclasses import dataclass

from . import relationships
from .ids import is_well_formed, to_18
from .relationships import RelationshipColumn
from .schema import Schema
from .store import Store, fold
from .values import JobFailure, RowError, parse_cell

__all__ = ["JobFailure", "RowResult", "RowWriter"]

NOT_PERMITTED = (
    "Unable to create/update fields: {name}. Please check the security settings of this field "
    "and verify that it is read/write for your profile or permission set."
)
# What a row gets when the object itself refuses the operation (describe createable,
# updateable, deletable false). [obs] REST answers CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY
# "entity type cannot be inserted: <label>" (and "updated"); the delete wording is [inf].
ENTITY_REFUSALS = {
    "createable": ("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "entity type cannot be inserted: {}"),
    "updateable": ("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "entity type cannot be updated: {}"),
    "deletable": ("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id"),
}


@dataclass
class RowResult:
    ok: bool
    record_id: str = ""
    created: bool = False
    error: str = ""


def is_required(field: dict) -> bool:
    """Required on insert: not nillable, createable, no default (booleans never are)."""
    return (
        not field["nillable"]
        and field["createable"]
        and not field["defaultedOnCreate"]
        and field["type"] != "boolean"
    )


class RowWriter:
    """Validates a job's header once, then applies its rows one by one."""

    def __init__(self, *, schema: Schema, store: Store, job, header: list[str]) -> None:
        self.schema = schema
        self.store = store
        self.object_name = job.object
        self.operation = job.operation
        self.user_id = job.createdById
        self.header = header
        self.fields = [self.resolve_column(name) for name in header]
        self.key_index = None
        only_ids = [name.lower() for name in header] == ["id"]
        if self.operation in ("delete", "hardDelete") and not only_ids:
            raise JobFailure(f"InvalidBatch : The '{self.operation}' batch must contain only ids")
        if self.operation == "upsert":
            self.key_field = schema.field(self.object_name, job.externalIdFieldName)
            if self.key_field is None:
                raise JobFailure(f"InvalidBatch : Field name not found : {job.externalIdFieldName}")
            if not (self.key_field["externalId"] or self.key_field["idLookup"]):
                raise JobFailure(
                    f"InvalidBatch : Field name provided, {self.key_field['name']} is not an "
                    f"External ID or indexed field for {self.object_name}"
                )
            self.key_index = self.column_of(self.key_field["name"])
            if self.key_index is None:
                raise JobFailure(
                    f"InvalidBatch : External ID field not found in the header: "
                    f"{self.key_field['name']}"
                )
        self.id_index = self.column_of("Id")
        self.duplicate_keys: set = set()
        self.duplicate_ids: set = set()

    def resolve_column(self, name: str) -> dict | RelationshipColumn:
        field = self.schema.field(self.object_name, name)
        if field is None and relationships.is_relationship_column(name):
            return relationships.resolve(self.schema, self.object_name, name)
        if field is None:
            raise JobFailure(f"InvalidBatch : Field name not found : {name}")
        return field

    def column_of(self, field_name: str) -> int | None:
        for index, field in enumerate(self.fields):
            if isinstance(field, dict) and field["name"] == field_name:
                return index
        return None

    def check_entity(self, permission: str) -> None:
        """Raise the row error for an operation the object itself does not allow."""
        if not self.schema.allows(self.object_name, permission):
            code, message = ENTITY_REFUSALS[permission]
            raise RowError(code, message.format(self.schema.objects[self.object_name]["label"]))

    def prepare(self, rows: list[list[str]]) -> None:
        """Note upsert keys and record Ids that occur more than once in the job: all of
        those rows fail."""
        self.duplicate_ids = duplicate_ids(rows, self.id_index)
        if self.operation != "upsert" or self.key_field["name"] == "Id":
            return
        seen, duplicates = set(), set()
        for row in rows:
            text = cell(row, self.key_index)
            if text:
                key = fold(text, self.key_field)
                (duplicates if key in seen else seen).add(key)
        self.duplicate_keys = duplicates

    def target_id(self, row: list[str]) -> str:
        """The id a row points at when known before writing (for sf__Id and lock errors)."""
        if self.operation in ("update", "delete", "hardDelete") or (
            self.operation == "upsert" and self.key_field["name"] == "Id"
        ):
            text = cell(row, self.id_index)
            return to_18(text) if text and is_well_formed(text) else ""
        if self.operation == "upsert":
            text = cell(row, self.key_index)
            matches = self.store.find(self.object_name, self.key_field, text) if text else []
            return matches[0] if len(matches) == 1 else ""
        return ""

    def apply(self, row: list[str]) -> RowResult:
        known_id = self.target_id(row)
        try:
            self.check_duplicate_id(row)
            if self.operation == "insert":
                return RowResult(True, self.insert(row)["Id"], created=True)
            if self.operation == "update":
                return RowResult(True, self.update(self.existing_id(row), row)["Id"])
            if self.operation == "upsert":
                return self.upsert(row)
            self.check_entity("deletable")
            record_id = self.existing_id(row)
            self.store.delete(self.object_name, record_id, hard=self.operation == "hardDelete")
            return RowResult(True, record_id)
        except RowError as error:
            return RowResult(False, known_id, error=error.cell())

    def check_duplicate_id(self, row: list[str]) -> None:
        """[doc Help 000384876] Rows of one batch naming the same record fail with
        "Duplicate id specified: <id>" (inserts carry no Id, so never)."""
        if self.operation == "insert":
            return
        text = cell(row, self.id_index)
        if text and is_well_formed(text) and to_18(text) in self.duplicate_ids:
            raise RowError("DUPLICATE_VALUE", f"Duplicate id specified: {to_18(text)}", ["Id"])

    def existing_id(self, row: list[str]) -> str:
        text = cell(row, self.id_index)
        if not text:
            verb = "update" if self.operation in ("update", "upsert") else "delete"
            raise RowError("MISSING_ARGUMENT", f"Id not specified in an {verb} call")
        prefix = self.schema.key_prefix(self.object_name)
        if not is_well_formed(text) or not text.startswith(prefix):
            label = self.schema.objects[self.object_name]["label"]
            raise RowError(
                "MALFORMED_ID", f"{label} ID: id value of incorrect type: {text}", ["Id"]
            )
        record_id = to_18(text)
        if self.store.is_deleted(self.object_name, record_id):
            raise RowError("ENTITY_IS_DELETED", "entity is deleted")
        if self.store.get(self.object_name, record_id) is None:
            raise RowError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        return record_id

    def values(self, row: list[str], *, creating: bool) -> dict:
        """Field values from the row's cells: empty = not set/unchanged, #N/A = null."""
        values = {}
        for index, field in enumerate(self.fields):
            text = cell(row, index)
            if isinstance(field, RelationshipColumn):
                if text:
                    self.set_reference(values, field, text, creating=creating)
                continue
            if field["name"] == "Id":
                if creating and text and self.operation == "insert":
                    raise RowError(
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        "cannot specify Id in an insert call",
                        ["Id"],
                    )
                continue
            if text == "":
                continue
            allowed = field["createable"] if creating else field["updateable"]
            if not allowed:
                raise RowError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    NOT_PERMITTED.format(name=field["name"]),
                    [field["name"]],
                )
            if text == "#N/A":
                if not field["nillable"] and field["type"] != "boolean":
                    raise required_missing([field["name"]])
                values[field["name"]] = False if field["type"] == "boolean" else None
                continue
            values[field["name"]] = parse_cell(text, field, column=index, schema=self.schema)
        return values

    def set_reference(
        self, values: dict, column: RelationshipColumn, text: str, *, creating: bool
    ) -> None:
        """Set the lookup behind a relationship column to the parent its cell names."""
        reference = column.reference
        if not (reference["createable"] if creating else reference["updateable"]):
            raise RowError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                NOT_PERMITTED.format(name=reference["name"]),
                [reference["name"]],
            )
        if text == "#N/A":
            if not reference["nillable"]:
                raise required_missing([reference["name"]])
            values[reference["name"]] = None
            return
        values[reference["name"]] = relationships.parent_id(self.schema, self.store, column, text)

    def check_unique(self, values: dict, *, record_id: str | None) -> None:
        for field in self.schema.fields(self.object_name):
            value = values.get(field["name"])
            if field["unique"] and value is not None:
                clashes = self.store.find(self.object_name, field, value, exclude_id=record_id)
                if clashes:
                    raise RowError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {field['name']} duplicates value on record "
                        f"with id: {clashes[0]}",
                    )

    def insert(self, row: list[str], extra: dict | None = None) -> dict:
        self.check_entity("createable")
        values = self.values(row, creating=True)
        values.update(extra or {})
        # A new record belongs to whoever created it unless the row names an owner.
        if self.schema.field(self.object_name, "OwnerId") and not values.get("OwnerId"):
            values["OwnerId"] = self.user_id
        missing = [
            field["name"]
            for field in self.schema.fields(self.object_name)
            if is_required(field) and values.get(field["name"]) is None
        ]
        if missing:
            raise required_missing(missing)
        self.check_unique(values, record_id=None)
        return self.store.create(self.object_name, values)

    def update(self, record_id: str, row: list[str]) -> dict:
        self.check_entity("updateable")
        values = self.values(row, creating=False)
        self.check_unique(values, record_id=record_id)
        return self.store.update(self.object_name, record_id, values)

    def upsert(self, row: list[str]) -> RowResult:
        key = self.key_field
        text = cell(row, self.key_index)
        if key["name"] == "Id":
            if not text:
                return RowResult(True, self.insert(row)["Id"], created=True)
            return RowResult(True, self.update(self.existing_id(row), row)["Id"])
        if not text:
            raise RowError("MISSING_ARGUMENT", f"{key['name']} not specified")
        if fold(text, key) in self.duplicate_keys:
            raise RowError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {text}")
        value = parse_cell(text, key, column=self.key_index, schema=self.schema)
        matches = self.store.find(self.object_name, key, value)
        if len(matches) > 1:
            raise RowError(
                "DUPLICATE_EXTERNAL_ID",
                f"{key['label']}: more than one record found for external id field: "
                f"[{', '.join(matches)}]",
            )
        if matches:
            return RowResult(True, self.update(matches[0], row)["Id"])
        return RowResult(True, self.insert(row)["Id"], created=True)


def required_missing(names: list[str]) -> RowError:
    return RowError(
        "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(names)}]", names
    )


def duplicate_ids(rows: list[list[str]], id_index: int | None) -> set[str]:
    """The 18-character Ids that more than one row names."""
    seen: set[str] = set()
    duplicates: set[str] = set()
    for row in rows:
        text = cell(row, id_index)
        if text and is_well_formed(text):
            record_id = to_18(text)
            (duplicates if record_id in seen else seen).add(record_id)
    return duplicates


def cell(row: list[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index]
