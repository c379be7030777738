"""Where a parent segment's rows come from: validation of its `source`, `storage`,
`refresh` and `notify_emails` settings, and the columns inferred from the source."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from common import schedules
from common.validation import ErrorCollector, InvalidInput
from sources import browse
from sources.models import Source
from sources.sql import check_select

from . import loading
from .models import ParentSegment, Storage

MAX_EMAILS = 20


def checked_backing_fields(
    data: dict, *, workspace, current: ParentSegment | None
) -> tuple[dict, list[dict] | None]:
    """(model fields, the source's columns when the caller sent none) for the keys of `data`
    about the rows' origin; InvalidInput keyed `source.table`, `refresh.schedule.cron`…"""
    errors = ErrorCollector()
    fields: dict = {}
    inferred = None
    if "source" in data:
        fields.update(_checked_source(data["source"], workspace, errors))
        if fields.get("source") is not None and "columns" not in data and not errors.errors:
            relation = browse.Relation(fields["source_table"], fields["source_query"])
            try:
                inferred = browse.relation_columns(fields["source"], relation)
            except InvalidInput as invalid:
                for path, messages in invalid.prefixed("source").items():
                    for message in messages:
                        errors.add(path, message)
            except browse.SourceError as error:
                errors.add("source", f"cannot read the source: {error}")
    if isinstance(data.get("source"), dict) and "storage" in data["source"]:
        _checked_storage(data["source"]["storage"], "source.storage", fields, errors)
    if "storage" in data:
        _checked_storage(data["storage"], "storage", fields, errors)
    if "refresh" in data:
        fields.update(_checked_refresh(data["refresh"], errors, current))
    _check_live(fields, current, errors)
    if "notify_emails" in data:
        fields["notify_emails"] = _checked_emails(data["notify_emails"], errors)
    errors.raise_if_any()
    return fields, inferred


def _checked_storage(value, path: str, fields: dict, errors: ErrorCollector) -> None:
    if value not in Storage.values:
        errors.add(path, f"must be one of: {', '.join(Storage.values)}")
    else:
        fields["storage"] = value


def _check_live(fields: dict, current: ParentSegment | None, errors) -> None:
    """A live parent reads its source at each use: it needs one, and it is never refreshed."""

    def now(name, default):
        return fields.get(name, getattr(current, name) if current is not None else default)

    if now("storage", Storage.IMPORTED) != Storage.LIVE:
        return
    if now("source", None) is None and not errors.errors:
        errors.add(
            "source.storage", '"live" needs a source: {"source": <id>, "table" | "query": …}'
        )
    if now("refresh_schedule_type", "none") != "none":
        errors.add(
            "refresh.schedule.type",
            "a live parent segment is read in its source at each use and never refreshed: "
            'use "none"',
        )


def _checked_source(value, workspace, errors: ErrorCollector) -> dict:
    if value is None:
        return {"source": None, "source_table": "", "source_query": ""}
    if not isinstance(value, dict):
        errors.add(
            "source",
            'must be {"source": <id>, "table": "schema.table"} or '
            '{"source": <id>, "query": "SELECT …"}',
        )
        return {}
    for key in sorted(set(value) - {"source", "table", "query", "storage"}, key=str):
        errors.add(f"source.{key}", f"unknown key {key!r}; use source, table, query or storage")
    source_id = value.get("source")
    source = None
    if isinstance(source_id, bool) or not isinstance(source_id, int):
        errors.add("source.source", "required: the id of a source of this workspace")
    else:
        source = Source.objects.filter(workspace=workspace, pk=source_id).first()
        if source is None:
            errors.add("source.source", f"no source {source_id} in this workspace")
    table, query = value.get("table"), value.get("query")
    if bool(table) == bool(query):
        errors.add("source", 'give exactly one of "table" ("schema.table") or "query" (a SELECT)')
        return {}
    if table is not None and (not isinstance(table, str) or len(table) > 500):
        errors.add("source.table", 'must be "schema.table" (at most 500 characters)')
        return {}
    if query and source is not None:
        try:
            query = check_select(query, source.kind, path="source.query")
        except InvalidInput as invalid:
            for path, messages in invalid.errors.items():
                for message in messages:
                    errors.add(path, message)
    return {"source": source, "source_table": (table or "").strip(), "source_query": query or ""}


def _checked_refresh(value, errors: ErrorCollector, current: ParentSegment | None) -> dict:
    if not isinstance(value, dict):
        errors.add("refresh", 'must be {"mode": "replace"|"upsert", "schedule": {…}}')
        return {}
    for key in sorted(set(value) - {"mode", "schedule", "cursor_column"}, key=str):
        errors.add(f"refresh.{key}", f"unknown key {key!r}; use mode, schedule, cursor_column")
    fields = {}
    if "cursor_column" in value:
        cursor_column = value["cursor_column"] or ""
        if not isinstance(cursor_column, str) or len(cursor_column) > 100:
            errors.add("refresh.cursor_column", "must be the name of a column (or empty)")
        else:
            fields["refresh_cursor_column"] = cursor_column
            if current is None or current.refresh_cursor_column != cursor_column:
                fields["refresh_cursor_value"] = ""  # a new cursor starts from the beginning
    mode = value.get("mode", "replace")
    if mode not in loading.MODES:
        errors.add("refresh.mode", f"must be one of: {', '.join(loading.MODES)}")
    fields["refresh_mode"] = mode
    schedule = value.get("schedule") or {"type": "none"}
    if not isinstance(schedule, dict):
        errors.add("refresh.schedule", 'must be {"type", "cron"?, "timezone"?}')
        return fields
    # next_runs and description are read-only: what a GET answered may be sent back.
    known = {"type", "cron", "timezone", "next_runs", "description"}
    for key in sorted(set(schedule) - known, key=str):
        errors.add(f"refresh.schedule.{key}", f"unknown key {key!r}; use type, cron, timezone")
    cron = schedule.get("cron") or ""
    schedule_type = schedule.get("type") or ("cron" if cron else "none")
    timezone_name = schedule.get("timezone") or "UTC"
    if not all(isinstance(v, str) for v in (schedule_type, cron, timezone_name)):
        errors.add("refresh.schedule", "type, cron and timezone are strings")
        return fields
    try:
        schedules.validate(schedule_type, cron.strip(), timezone_name)
    except InvalidInput as invalid:
        for path, messages in invalid.prefixed("refresh.schedule").items():
            for message in messages:
                errors.add(path, message)
    fields.update(
        refresh_schedule_type=schedule_type,
        refresh_cron=cron.strip() if schedule_type == "cron" else "",
        refresh_timezone=timezone_name,
    )
    return fields


def _checked_emails(value, errors: ErrorCollector) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_EMAILS:
        errors.add("notify_emails", f"must be a list of at most {MAX_EMAILS} e-mail addresses")
        return []
    emails = []
    for index, email in enumerate(value):
        try:
            validate_email(email)
        except (ValidationError, TypeError):
            errors.add(f"notify_emails[{index}]", f"{email!r} is not an e-mail address")
        else:
            emails.append(email)
    return emails


def check_cursor_column(fields: dict, columns: list[dict]) -> None:
    """The cursor column of an incremental refresh must be one of the parent's columns."""
    cursor_column = fields.get("refresh_cursor_column")
    if cursor_column and cursor_column not in {column["name"] for column in columns}:
        raise InvalidInput(
            {"refresh.cursor_column": [f"{cursor_column!r} is not one of the columns"]}
        )


def refresh_settings(parent: ParentSegment) -> dict:
    """The API/UI view of a parent's refresh settings, with the next run times."""
    next_runs = (
        schedules.next_runs(
            parent.refresh_schedule_type, parent.refresh_cron, parent.refresh_timezone
        )
        if parent.source_id
        else []
    )
    return {
        "mode": parent.refresh_mode,
        "cursor_column": parent.refresh_cursor_column,
        "schedule": {
            "type": parent.refresh_schedule_type,
            "cron": parent.refresh_cron,
            "timezone": parent.refresh_timezone,
            "next_runs": [moment.isoformat() for moment in next_runs],
            "description": schedules.describe(parent.refresh_schedule_type, parent.refresh_cron),
        },
    }
