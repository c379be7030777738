"""What the org holds, for the mapping editor: its objects (describe global) and one object's
fields from its describe, with the flags and types the editor shows."""

from connectors.base import SOURCE_TYPES, ConnectorError, DestinationField, DestinationObject

from .auth import SalesforceSession
from .http import RetryPolicy, error_message

# Salesforce field types that take any rendered cell as text.
TEXT_TYPES = {
    "string",
    "textarea",
    "email",
    "phone",
    "url",
    "picklist",
    "multipicklist",
    "combobox",
    "encryptedstring",
    "id",
    "reference",
    "anyType",
}
# The source column types each other field type reads without a conversion error.
ACCEPTS = {
    "boolean": ("boolean",),
    "int": ("integer",),
    "long": ("integer",),
    "double": ("integer", "number"),
    "currency": ("integer", "number"),
    "percent": ("integer", "number"),
    "date": ("date",),
    "datetime": ("timestamp", "date"),
    "time": (),
    "base64": (),
    "address": (),
    "location": (),
}


def list_objects(
    session: SalesforceSession, *, api_version: str, retry: RetryPolicy
) -> list[DestinationObject]:
    """GET /sobjects/ (describe global): the objects that can be created or updated, by
    label."""
    response = session.request(
        "GET",
        f"/services/data/v{api_version}/sobjects/",
        retry=retry,
        headers={"Accept": "application/json"},
    )
    if response.status_code != 200:
        raise ConnectorError(f"Salesforce refused to list its objects: {error_message(response)}")
    try:
        items = response.json().get("sobjects")
    except (ValueError, AttributeError):
        items = None
    if not isinstance(items, list):
        raise ConnectorError("Salesforce sent an unreadable list of objects.")
    objects = [
        DestinationObject(
            name=item["name"],
            label=item.get("label") or item["name"],
            custom=bool(item.get("custom")),
            createable=bool(item.get("createable")),
            updateable=bool(item.get("updateable")),
        )
        for item in items
        if isinstance(item, dict)
        and item.get("name")
        and (item.get("createable") or item.get("updateable"))
    ]
    return sorted(objects, key=lambda item: (item.label.lower(), item.name))


def is_required(field: dict) -> bool:
    """Required on insert: not nillable, createable and not defaulted (booleans never are)."""
    return bool(
        field.get("createable")
        and field.get("nillable") is False
        and not field.get("defaultedOnCreate")
        and field.get("type") != "boolean"
    )


def destination_fields(describe: dict) -> list[DestinationField]:
    """The writable fields of a describe, required ones first, then by label."""
    fields = [
        DestinationField(
            name=field["name"],
            label=field.get("label") or field["name"],
            type=field.get("type", ""),
            required=is_required(field),
            external_id=bool(field.get("externalId")),
            id_lookup=bool(field.get("idLookup")),
            createable=bool(field.get("createable")),
            updateable=bool(field.get("updateable")),
            relationship_name=field.get("relationshipName") or "",
            reference_to=tuple(field.get("referenceTo") or ()),
            accepts=SOURCE_TYPES
            if field.get("type") in TEXT_TYPES
            else ACCEPTS.get(field.get("type"), ()),
        )
        for field in describe["fields"]
        # Id is never created but finds records; other fields nobody can write are noise.
        if field.get("createable") or field.get("updateable") or field.get("name") == "Id"
    ]
    return sorted(fields, key=lambda item: (not item.required, item.label.lower()))
