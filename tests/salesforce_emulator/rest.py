"""REST resources besides Bulk: versions, resources, limits, describe, and a small /query."""

import re

from . import soql
from .state import Org
from .values import format_value
from .web import ApiError, Request, Response, not_found

OLDEST_VERSION = 31.0
NEWEST_VERSION = 66.0
RELEASES = {
    59.0: "Winter '24",
    60.0: "Spring '24",
    61.0: "Summer '24",
    62.0: "Winter '25",
    63.0: "Spring '25",
    64.0: "Summer '25",
    65.0: "Winter '26",
    66.0: "Spring '26",
}


def release_label(version: float) -> str:
    # Three releases a year, Spring/Summer/Winter, counting back from Winter '24 = 59.0.
    if version in RELEASES:
        return RELEASES[version]
    offset = int(version - 59.0)
    seasons = ["Winter", "Spring", "Summer"]
    year = 24 + (offset // 3)
    return f"{seasons[offset % 3]} '{year:02d}"


def versions(org: Org, request: Request) -> Response:
    """GET /services/data/: no authentication needed."""
    items = []
    version = OLDEST_VERSION
    while version <= NEWEST_VERSION:
        items.append(
            {
                "label": release_label(version),
                "url": f"/services/data/v{version:.1f}",
                "version": f"{version:.1f}",
            }
        )
        version += 1.0
    return Response.json(items)


def resources(org: Org, request: Request, version: float) -> Response:
    base = f"/services/data/v{version:.1f}"
    names = ("jobs", "limits", "query", "queryAll", "sobjects")
    return Response.json({name: f"{base}/{name}" for name in names})


def limits(org: Org, request: Request, version: float) -> Response:
    used = org.api_requests
    daily = org.settings.daily_api_requests
    return Response.json(
        {
            "DailyApiRequests": {"Max": daily, "Remaining": max(daily - used, 0)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000 - len(org.ingest_jobs)},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - len(org.query_jobs)},
        }
    )


def global_describe(org: Org, request: Request, version: float) -> Response:
    base = f"/services/data/v{version:.1f}"
    objects = []
    for name, spec in org.schema.objects.items():
        objects.append(
            {
                "name": name,
                "label": spec["label"],
                "keyPrefix": spec["keyPrefix"],
                "custom": name.endswith("__c"),
                "createable": spec["createable"],
                "updateable": spec["updateable"],
                "deletable": spec["deletable"],
                "queryable": spec["queryable"],
                "urls": {
                    "sobject": f"{base}/sobjects/{name}",
                    "describe": f"{base}/sobjects/{name}/describe",
                },
            }
        )
    return Response.json({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects})


def describe(org: Org, request: Request, version: float, object_name: str) -> Response:
    name = org.schema.object_name(object_name)
    if name is None:
        raise not_found()
    return Response.json(org.schema.describe(name, base_path=f"/services/data/v{version:.1f}"))


def query(org: Org, request: Request, version: float) -> Response:
    """GET /query?q=...: all matching records in one page."""
    text = request.query.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    if USER_PERMISSION_ACCESS.fullmatch(text.strip()):
        return user_permission_access(org, request, version)
    counting = COUNT_QUERY.fullmatch(text.strip())
    if counting:
        # COUNT() answers with the number in totalSize and no records [SOQL reference,
        # "COUNT()"]; the rest of the query selects as usual.
        text = f"SELECT Id FROM {counting.group(1)}"  # noqa: S608 (parsed as SOQL next)
    parsed = soql.parse(text, org.schema)
    base = f"/services/data/v{version:.1f}/sobjects/{parsed.object_name}"
    with org.lock:
        records = [
            r for r in org.store.records[parsed.object_name].values() if soql.matches(parsed, r)
        ]
    if parsed.limit is not None:
        records = records[: parsed.limit]
    if counting:
        return Response.json({"totalSize": len(records), "done": True, "records": []})
    items = []
    for record in records:
        item = {"attributes": {"type": parsed.object_name, "url": f"{base}/{record['Id']}"}}
        for field in parsed.fields:
            value = record.get(field["name"])
            if field["type"] == "datetime" and value is not None:
                value = format_value(value, field).replace("Z", "+0000")
            item[field["name"]] = value
        items.append(item)
    return Response.json({"totalSize": len(items), "done": True, "records": items})


COUNT_QUERY = re.compile(r"SELECT\s+COUNT\(\s*\)\s+FROM\s+(.+)", re.IGNORECASE | re.DOTALL)


# UserPermissionAccess: the current user's effective permissions, one row [doc object
# reference]. Only the permission our connector reads is emulated.
USER_PERMISSION_ACCESS = re.compile(
    r"SELECT\s+PermissionsBulkApiHardDelete\s+FROM\s+UserPermissionAccess", re.IGNORECASE
)


def user_permission_access(org: Org, request: Request, version: float) -> Response:
    record = {
        "attributes": {
            "type": "UserPermissionAccess",
            "url": f"/services/data/v{version:.1f}/sobjects/UserPermissionAccess/000000000000000AAA",
        },
        "PermissionsBulkApiHardDelete": request.user.hard_delete_allowed,
    }
    return Response.json({"totalSize": 1, "done": True, "records": [record]})
