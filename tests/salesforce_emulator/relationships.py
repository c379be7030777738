"""Relationship columns in a job's header: `Rel.Field` and, for polymorphic lookups,
`Type:Rel.Field`, which set a lookup by a parent's External ID or idLookup field.

Bulk API 2.0 "Relationship Fields in a Header Row (2.0)": child-to-parent only, one level,
and the parent field must be indexed (an External ID field, or a standard idLookup field).
Messages marked [obs] were seen from real orgs; [inf] ones are our wording.
"""

import re
from dataclasses import dataclass

from .schema import Schema
from .store import Store
from .values import JobFailure, RowError, parse_cell

COLUMN = re.compile(r"(?:(?P<type>\w+):)?(?P<relationship>\w+)\.(?P<field>\w+)")


@dataclass(frozen=True)
class RelationshipColumn:
    """A header column that sets `reference` to the `target` record whose `parent_field`
    equals the cell."""

    name: str  # the column as uploaded, e.g. "Account.Customer_Key__c"
    reference: dict  # the lookup field set, e.g. Contact.AccountId
    target: str  # the parent object, e.g. "Account"
    parent_field: dict  # the indexed parent field, e.g. Account.Customer_Key__c


def is_relationship_column(name: str) -> bool:
    return COLUMN.fullmatch(name) is not None


def resolve(schema: Schema, object_name: str, name: str) -> RelationshipColumn:
    """The relationship a header column names; raises JobFailure (the whole job fails)."""
    match = COLUMN.fullmatch(name)
    type_name, relationship, field_name = match.group("type", "relationship", "field")
    reference = schema.relationship(object_name, relationship)
    if reference is None:
        # [obs] "InvalidBatch : Unable to find relationship: Account"
        raise JobFailure(f"InvalidBatch : Unable to find relationship: {relationship}")
    targets = reference["referenceTo"]
    if type_name is None:
        if len(targets) > 1:
            # [inf] a polymorphic lookup cannot guess which object the value belongs to.
            raise JobFailure(
                "InvalidBatch : Polymorphic foreign key reference requires an object type: "
                f"{relationship}"
            )
        target = targets[0]
    else:
        if len(targets) == 1:
            # [obs] the type prefix is refused on a lookup to a single object.
            raise JobFailure(
                "InvalidBatch : type is not needed for non polymorphic foreign key references: "
                f"{reference['relationshipName']}"
            )
        target = next((item for item in targets if item.lower() == type_name.lower()), None)
        if target is None:
            # [inf]
            raise JobFailure(
                f"InvalidBatch : Invalid object type {type_name} for relationship: {relationship}"
            )
    parent_field = schema.field(target, field_name)
    if parent_field is None:
        # [inf] follows the wording for unknown fields of the job's own object.
        raise JobFailure(f"InvalidBatch : Field name not found : {name}")
    if not (parent_field["externalId"] or parent_field["idLookup"]):
        # [inf] follows the wording for an upsert key that is not indexed.
        raise JobFailure(
            f"InvalidBatch : Field name provided, {parent_field['name']} is not an External ID "
            f"or indexed field for {target}"
        )
    return RelationshipColumn(name, reference, target, parent_field)


def parent_id(schema: Schema, store: Store, column: RelationshipColumn, text: str) -> str:
    """The id of the one live parent record whose indexed field equals `text`; raises RowError."""
    value = parse_cell(text, column.parent_field, column=0, schema=schema)
    matches = store.find(column.target, column.parent_field, value)
    if not matches:
        # [obs] e.g. "Foreign key external ID: 0116 not found for field
        # Invoice_External_Id__c in entity blng__Invoice__c" (errorCode INVALID_FIELD).
        raise RowError(
            "INVALID_FIELD",
            f"Foreign key external ID: {text} not found for field "
            f"{column.parent_field['name']} in entity {column.target}",
        )
    if len(matches) > 1:
        # [inf] the wording of an upsert key found on several records.
        raise RowError(
            "DUPLICATE_EXTERNAL_ID",
            f"{column.parent_field['label']}: more than one record found for external id "
            f"field: [{', '.join(matches)}]",
        )
    return matches[0]
