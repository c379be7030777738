"""The destination's objects and fields for the mapping editor, cached per connection.

Describe calls cost API requests and a second or so each, and an org's schema rarely
changes while someone edits a mapping, so answers are kept in Django's cache for
CATALOG_CACHE_SECONDS; the editor's refresh button asks again. The key carries the
connection's `updated_at`, so editing the connection (another org) starts afresh.
"""

import dataclasses
import re

from django.core.cache import cache

from .base import ConnectorError
from .models import Connection
from .services import without_secrets

CATALOG_CACHE_SECONDS = 6 * 60 * 60
API_VERSION = re.compile(r"[0-9]{2,3}\.0")


class CatalogError(Exception):
    """The destination could not answer; `message` is safe to show."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _plain(pairs) -> dict:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in pairs}


def _key(connection: Connection, *parts: str) -> str:
    stamp = connection.updated_at.timestamp() if connection.updated_at else 0
    return ":".join(["catalog", str(connection.pk), str(stamp), *parts])


def _cached(key: str, refresh: bool, fetch, connection: Connection) -> list[dict]:
    if not refresh:
        found = cache.get(key)
        if found is not None:
            return found
    try:
        # Lists rather than tuples: the same shape the JSON answers and the cache hold.
        items = [dataclasses.asdict(item, dict_factory=_plain) for item in fetch()]
    except ConnectorError as error:
        raise CatalogError(without_secrets(connection, error.message), field=error.field) from None
    cache.set(key, items, CATALOG_CACHE_SECONDS)
    return items


def objects(connection: Connection, *, refresh: bool = False) -> list[dict]:
    """The objects rows can be written to: [{name, label, custom, createable, updateable}]."""
    return _cached(
        _key(connection, "objects"), refresh, connection.connector.list_objects, connection
    )


def fields(
    connection: Connection, object_name: str, *, api_version: str = "59.0", refresh: bool = False
) -> list[dict]:
    """One object's fields: [{name, label, type, required, external_id, id_lookup, createable,
    updateable, relationship_name, reference_to, accepts}], required ones first."""
    if not isinstance(api_version, str) or not API_VERSION.fullmatch(api_version):
        raise CatalogError(
            f"The API version must look like 59.0, not {api_version!r}.",
            field="export.api_version",
        )
    return _cached(
        _key(connection, "fields", api_version, object_name.lower()),
        refresh,
        lambda: connection.connector.describe_fields(object_name, api_version=api_version),
        connection,
    )
