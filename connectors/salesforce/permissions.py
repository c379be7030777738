"""Permissions a run needs, checked before it starts: hard delete needs the user's "Bulk API
Hard Delete" permission, read from UserPermissionAccess (the current user's effective
permissions) with one REST query."""

from connectors.base import ConnectorError

from .auth import SalesforceSession
from .http import RetryPolicy, error_message

HARD_DELETE_QUERY = "SELECT PermissionsBulkApiHardDelete FROM UserPermissionAccess"


def check_hard_delete(session: SalesforceSession, *, api_version: str, retry: RetryPolicy) -> None:
    """Raise ConnectorError(field="export.hard_delete") naming the fix when the user may
    not hard delete."""
    response = session.request(
        "GET",
        f"/services/data/v{api_version}/query/",
        retry=retry,
        params={"q": HARD_DELETE_QUERY},
        headers={"Accept": "application/json"},
    )
    if response.status_code != 200:
        raise ConnectorError(
            "Could not check the Bulk API Hard Delete permission: " + error_message(response),
            retryable=True,
        )
    try:
        records = response.json().get("records") or []
    except (ValueError, AttributeError):
        records = []
    if not any(record.get("PermissionsBulkApiHardDelete") is True for record in records):
        raise ConnectorError(
            'Hard delete needs the Salesforce user to have the "Bulk API Hard Delete" '
            "permission, which it lacks: grant it through a permission set in Salesforce "
            "Setup, or turn hard delete off (deleted records then go to the Recycle Bin).",
            field="export.hard_delete",
        )
