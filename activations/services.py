"""Activation services: validate and save activations, request and cancel runs, preview rows."""

import copy
import logging
import math
import re

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.utils import timezone

from common import schedules
from common.ids import parse_id
from common.validation import ErrorCollector, InvalidInput
from connectors.models import Connection
from segments.models import Segment

from . import beat, mapping, runner, streaming
from .dispatch import RunConflict, request_run  # noqa: F401  (part of the services' API)
from .models import Activation, Run

logger = logging.getLogger(__name__)

# Salesforce API names: a letter, then letters, digits and single underscores, with `__`
# only before a suffix or after a namespace (`ns__Audience_Member__c`).
API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:__?[A-Za-z0-9]+)*")
API_VERSION = re.compile(r"[0-9]{2,3}\.[0-9]")
# Salesforce system fields, never External IDs, so never an upsert key (the seed names Id,
# CreatedDate, LastModifiedDate and CreatedById); compared in lower case, as Salesforce does.
SYSTEM_FIELDS = {
    "id",
    "createddate",
    "createdbyid",
    "lastmodifieddate",
    "lastmodifiedbyid",
    "systemmodstamp",
    "isdeleted",
}
# Bulk API 2.0 (the /jobs/ingest resource) exists from this version on.
MINIMUM_API_VERSION = 41.0
# One upload chunk is one Bulk API job; 100,000 rows of a wide object stay well under the
# 100 MB of raw CSV a job may hold, and the connector also cuts chunks by size.
MAXIMUM_BATCH_SIZE = 100_000
MAXIMUM_RETRY_INITIAL_DELAY = 300
MAXIMUM_RETRY_LIMIT = 10
MAXIMUM_DELAY_SECONDS = 86_400
MAXIMUM_NOTIFY_EMAILS = 50
# Classic cron's @-shortcuts, accepted as a cron expression.
CRON_SHORTCUT_TYPES = {
    "@hourly": Activation.ScheduleType.HOURLY,
    "@daily": Activation.ScheduleType.DAILY,
    "@midnight": Activation.ScheduleType.DAILY,
}
CRON_SHORTCUTS = {
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

# Read-only keys of activation_payload(); a client may send a payload back unchanged.
SCHEDULE_READ_ONLY_KEYS = {"next_runs", "description"}
TOP_LEVEL_READ_ONLY_KEYS = {
    "id",
    "workspace",
    "created_at",
    "updated_at",
    "consecutive_failures",
    "disabled_reason",
}


# --- Validation -------------------------------------------------------------------------


def validate_activation(data: dict, *, workspace, instance: Activation | None = None) -> dict:
    """Turn a canonical activation payload into Activation field values, or raise InvalidInput.

    `data` has the REST API's shape (see activation_payload). For a new activation, missing
    keys take the model defaults; for an `instance`, missing keys (top-level, or inside
    `export`, `schedule` and `notifications`) keep the stored values, except that a setting
    the new export mode or schedule type does not use is reset when the caller did not send
    it (switching to append mode drops the stored update key). `output_mapping` is replaced
    whole. Errors are keyed by paths such as `export.key`, `output_mapping.columns[2].output`
    and `schedule.cron`. Keys the shape does not know are errors; read-only keys are ignored.
    """
    errors = ErrorCollector()
    if not isinstance(data, dict):
        raise InvalidInput({"": ["Expected an object."]})
    # The stored payload has every key the shape knows, so its keys are the known keys.
    stored = stored_payload(instance or Activation())
    for key in data:
        if key not in stored and key not in TOP_LEVEL_READ_ONLY_KEYS:
            errors.add(str(key), "Unknown field.")

    merged = {**stored, **{key: data[key] for key in stored.keys() & data.keys()}}
    # Sections are merged key by key over the stored ones; output_mapping is replaced whole.
    malformed = set()
    for section in ("export", "schedule", "notifications"):
        given = data.get(section)
        if section not in data:
            continue
        known = set(stored[section])
        if section == "schedule":
            known |= SCHEDULE_READ_ONLY_KEYS
        if not isinstance(given, dict):
            errors.add(section, "Expected an object.")
            merged[section] = stored[section]
            malformed.add(section)
            continue
        for key in given:
            if key not in known:
                errors.add(f"{section}.{key}", "Unknown field.")
        merged[section] = {**stored[section], **{k: v for k, v in given.items() if k in known}}
    sent_export = data.get("export") if isinstance(data.get("export"), dict) else {}

    values: dict = {}
    values["name"] = _text(errors, "name", merged["name"], required=True, max_length=200)
    values["description"] = _text(errors, "description", merged["description"])
    values["enabled"] = _boolean(errors, "enabled", merged["enabled"])
    values["refresh_before_run"] = _boolean(
        errors, "refresh_before_run", merged["refresh_before_run"]
    )
    segment = _owned(errors, "segment", merged["segment"], Segment, workspace)
    connection = _owned(errors, "connection", merged["connection"], Connection, workspace)
    values["segment"] = segment
    values["connection"] = connection
    if connection is not None and connection.kind != "salesforce":
        errors.add("connection", "Choose a Salesforce connection.")

    if "export" in malformed:
        # Its settings cannot be judged; "Expected an object" says all there is to say.
        export_errors = ErrorCollector()
        values.update(_validate_export(export_errors, merged["export"], {}))
    else:
        values.update(_validate_export(errors, merged["export"], sent_export))
    output_names = _validate_mapping(errors, merged["output_mapping"], segment)
    values["output_mapping"] = mapping_payload(merged["output_mapping"])
    if (
        output_names is not None
        and values.get("mode") == Activation.Mode.UPDATE
        and values.get("key")
        and values["key"] not in output_names
    ):
        errors.add(
            "export.key",
            f"The key {values['key']} must be one of the output columns "
            f"({', '.join(output_names) or 'none'}).",
        )
    sent_schedule = data.get("schedule") if isinstance(data.get("schedule"), dict) else {}
    values.update(_validate_schedule(errors, merged["schedule"], sent_schedule))
    values.update(_validate_notifications(errors, merged["notifications"]))
    errors.raise_if_any()
    return values


def _text(errors, path, value, *, required=False, max_length=None) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(path, "Expected a string.")
        return ""
    value = value.strip()
    if required and not value:
        errors.add(path, "This field is required.")
    if max_length is not None and len(value) > max_length:
        errors.add(path, f"Use at most {max_length} characters.")
    return value


def _boolean(errors, path, value) -> bool:
    if not isinstance(value, bool):
        errors.add(path, "Expected true or false.")
        return False
    return value


def _number(errors, path, value, *, minimum, maximum, integer) -> float | int:
    valid_types = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, valid_types) or value != value:
        errors.add(path, "Expected a whole number." if integer else "Expected a number.")
        return minimum
    if not minimum <= value <= maximum:
        errors.add(path, f"Must be between {minimum} and {maximum:,}.")
    return value


def _choice(errors, path, value, choices) -> str:
    allowed = choices.values
    if value not in allowed:
        errors.add(path, f"Must be one of: {', '.join(allowed)}.")
        return allowed[0]
    return value


def _owned(errors, path, value, model, workspace):
    """The `model` row named by an id (or given as an instance) in the workspace."""
    if value is None or value == "":
        errors.add(path, "This field is required.")
        return None
    if isinstance(value, model):
        if value.pk is not None and value.workspace_id == workspace.pk:
            return value
        value = value.pk
    else:
        value = parse_id(value)
    if value is None:
        errors.add(path, "Expected the id of a " + model._meta.verbose_name + ".")
        return None
    found = model.objects.filter(workspace=workspace, pk=value).first()
    if found is None:
        errors.add(path, f"There is no {model._meta.verbose_name} {value} in this workspace.")
    return found


def _api_name(errors, path, value, *, what) -> str:
    value = _text(errors, path, value, required=True, max_length=100)
    if value and not API_NAME.fullmatch(value):
        errors.add(
            path,
            f"{value!r} is not a Salesforce {what} API name "
            "(letters, digits and underscores, starting with a letter; custom ones end in __c).",
        )
    return value


def _validate_export(errors, export: dict, sent: dict) -> dict:
    mode = export.get("mode")
    if mode not in Activation.Mode.values:
        errors.add("export.mode", f"Must be one of: {', '.join(Activation.Mode.values)}.")
        # Which settings fit cannot be said without a mode; judge them as in update mode,
        # which allows them all.
        mode = Activation.Mode.UPDATE if export.get("key") else Activation.Mode.APPEND
    # A setting the new mode does not use is dropped when the caller did not send it.
    if mode != Activation.Mode.UPDATE:
        for key, default in (("upsert", False), ("key", "")):
            if key not in sent:
                export[key] = default
    if mode != Activation.Mode.TRUNCATE and "hard_delete" not in sent:
        export["hard_delete"] = False
    if (
        mode != Activation.Mode.UPDATE or export.get("sync") != Activation.Sync.INCREMENTAL
    ) and "on_leave" not in sent:
        export["on_leave"] = Activation.OnLeave.IGNORE

    values = {
        "mode": export.get("mode") if "export.mode" in errors.errors else mode,
        "object_name": _api_name(errors, "export.object", export.get("object"), what="object"),
        "upsert": _boolean(errors, "export.upsert", export.get("upsert")),
        "hard_delete": _boolean(errors, "export.hard_delete", export.get("hard_delete")),
        "concurrency_mode": _choice(
            errors,
            "export.concurrency_mode",
            export.get("concurrency_mode"),
            Activation.ConcurrencyMode,
        ),
        "batch_size": _number(
            errors,
            "export.batch_size",
            export.get("batch_size"),
            minimum=1,
            maximum=MAXIMUM_BATCH_SIZE,
            integer=True,
        ),
        "retry_initial_delay": _number(
            errors,
            "export.retry_initial_delay",
            export.get("retry_initial_delay"),
            minimum=0,
            maximum=MAXIMUM_RETRY_INITIAL_DELAY,
            integer=False,
        ),
        "retry_limit": _number(
            errors,
            "export.retry_limit",
            export.get("retry_limit"),
            minimum=0,
            maximum=MAXIMUM_RETRY_LIMIT,
            integer=True,
        ),
        "null_value": _choice(
            errors, "export.null_value", export.get("null_value"), Activation.NullValue
        ),
        "allow_destructive_shrink": _boolean(
            errors, "export.allow_destructive_shrink", export.get("allow_destructive_shrink")
        ),
        "max_shrink_percent": _number(
            errors,
            "export.max_shrink_percent",
            export.get("max_shrink_percent"),
            minimum=0,
            maximum=100,
            integer=True,
        ),
        "sync": _choice(errors, "export.sync", export.get("sync"), Activation.Sync),
        "on_leave": _choice(errors, "export.on_leave", export.get("on_leave"), Activation.OnLeave),
    }

    key = export.get("key")
    if key is None or key == "":
        values["key"] = ""
        if mode == Activation.Mode.UPDATE:
            errors.add("export.key", "Update mode needs a key field to match records by.")
    elif mode != Activation.Mode.UPDATE:
        values["key"] = ""
        errors.add("export.key", "A key is used only in update mode.")
    else:
        values["key"] = _api_name(errors, "export.key", key, what="field")
        if values["upsert"] and values["key"].lower() in SYSTEM_FIELDS:
            errors.add(
                "export.key",
                f"Upsert needs an External ID field as its key (a custom field such as "
                f"Customer_Key__c); {values['key']} is a system field. To update by Id "
                "without inserting, turn upsert off.",
            )
    if values["upsert"] and mode != Activation.Mode.UPDATE:
        errors.add("export.upsert", "Upsert is available only in update mode.")
    if values["hard_delete"] and mode != Activation.Mode.TRUNCATE:
        errors.add("export.hard_delete", "Hard delete is available only in truncate mode.")
    _check_on_leave(errors, values, mode)

    api_version = _api_version_text(export.get("api_version"))
    if not isinstance(api_version, str) or not API_VERSION.fullmatch(api_version):
        errors.add("export.api_version", "Enter an API version such as 59.0.")
        values["api_version"] = ""
    else:
        values["api_version"] = api_version
        if float(api_version) < MINIMUM_API_VERSION:
            errors.add(
                "export.api_version",
                f"Bulk API 2.0 needs API version {MINIMUM_API_VERSION} or later.",
            )
    return values


def _check_on_leave(errors, values: dict, mode: str) -> None:
    """Rows leaving the segment can be deleted only by a key that identifies one record (Id,
    or the External ID of an upsert), and cleared only by a key (update mode)."""
    on_leave = values["on_leave"]
    if on_leave == Activation.OnLeave.IGNORE or "export.on_leave" in errors.errors:
        return
    if values["sync"] != Activation.Sync.INCREMENTAL:
        errors.add(
            "export.on_leave",
            f'"{on_leave}" needs incremental sync (export.sync "incremental"): only an '
            "incremental run knows which rows left the segment.",
        )
    elif mode != Activation.Mode.UPDATE:
        errors.add(
            "export.on_leave",
            f'"{on_leave}" needs update mode: a row that left the segment is found in '
            "Salesforce by its key.",
        )
    elif (
        on_leave == Activation.OnLeave.DELETE
        and not values["upsert"]
        and values["key"].lower() != "id"
    ):
        errors.add(
            "export.on_leave",
            f'"delete" needs a key that identifies one record: Id, or an External ID with '
            f"upsert on; {values['key'] or 'the key'} may match several records.",
        )


def _api_version_text(value):
    """An API version as Salesforce writes it ("59.0"), from the forms people send: a JSON
    number (59, 59.0), "59" or "v59.0". Anything else is returned unchanged, to be refused."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.1f}" if math.isfinite(value) else value
    if isinstance(value, str):
        text = value.strip().removeprefix("v").removeprefix("V")
        return f"{text}.0" if text.isdigit() else text
    return value


def _validate_mapping(errors, output_mapping, segment) -> list[str] | None:
    """The output column names, or None when the mapping could not be checked."""
    if not isinstance(output_mapping, dict):
        errors.add("output_mapping", "Expected an object.")
        return None
    if segment is None:
        return None
    columns = segment.parent_segment.columns
    try:
        mapping.validate(output_mapping, columns)
    except InvalidInput as invalid:
        for path, messages in invalid.prefixed("output_mapping").items():
            for message in messages:
                errors.add(path, message)
        return None
    return mapping.output_columns(output_mapping, columns)


def _validate_schedule(errors, schedule: dict, sent: dict) -> dict:
    values = {}
    for key, path in (
        ("type", "schedule.type"),
        ("cron", "schedule.cron"),
        ("timezone", "schedule.timezone"),
    ):
        value = schedule.get(key)
        if value is None and key == "cron":
            value = ""
        if not isinstance(value, str):
            errors.add(path, "Expected a string.")
            value = ""
        values[key] = value.strip()
    if values["type"].lower() in {"none", *CRON_SHORTCUT_TYPES}:
        # The seed's drop-down spells the types "None", "@hourly" and "@daily".
        values["type"] = CRON_SHORTCUT_TYPES.get(values["type"].lower(), "none")
    if "type" not in sent and isinstance(sent.get("cron"), str):
        # A cron expression sent without a type asks for a cron schedule.
        values["type"] = Activation.ScheduleType.CRON
    if values["type"] == Activation.ScheduleType.CRON and sent.get("cron") == "":
        # The seed's cron value "": a job with no scheduled run time. (A cron schedule sent
        # with no cron at all is still refused on schedule.cron.)
        values["type"] = Activation.ScheduleType.NONE
    if values["type"] == Activation.ScheduleType.CRON and values["cron"].startswith("@"):
        # Classic cron's shortcuts: @hourly and @daily are our schedule types of those
        # names; the others are the five-field expressions they stand for.
        shortcut = values["cron"].lower()
        if shortcut in CRON_SHORTCUT_TYPES:
            values["type"] = CRON_SHORTCUT_TYPES[shortcut]
        elif shortcut in CRON_SHORTCUTS:
            values["cron"] = CRON_SHORTCUTS[shortcut]
    if values["type"] != Activation.ScheduleType.CRON:
        # The cron text of another type is not kept, so it cannot come back unnoticed.
        values["cron"] = ""
    try:
        schedules.validate(values["type"], values["cron"], values["timezone"])
    except InvalidInput as invalid:
        for path, messages in invalid.prefixed("schedule").items():
            # A cron field's error ("schedule.cron.hour") is reported on schedule.cron, the
            # field the client sent, naming the cron field in the message.
            if path.startswith("schedule.cron."):
                field = path.removeprefix("schedule.cron.").replace("_", " ")
                messages = [f"{field}: {message}" for message in messages]
                path = "schedule.cron"
            for message in messages:
                errors.add(path, message)
    delay_seconds = _number(
        errors,
        "schedule.delay_seconds",
        schedule.get("delay_seconds"),
        minimum=0,
        maximum=MAXIMUM_DELAY_SECONDS,
        integer=True,
    )
    _check_delay_fits(errors, values["type"], values["cron"], delay_seconds)
    catch_up = _choice(errors, "schedule.catch_up", schedule.get("catch_up"), Activation.CatchUp)
    return {
        "schedule_type": values["type"],
        "cron": values["cron"],
        "timezone": values["timezone"],
        "delay_seconds": delay_seconds,
        "catch_up": catch_up,
    }


def _check_delay_fits(errors, schedule_type: str, cron: str, delay_seconds) -> None:
    """A delay as long as the time between two slots would make every next slot find the
    previous run still waiting, and be skipped: refuse it."""
    expression = schedules.expression_for(schedule_type, cron)
    if expression is None or not delay_seconds:
        return
    try:
        shortest = schedules.shortest_interval(schedules.parse(expression))
    except InvalidInput:
        return  # the expression's own error is reported on schedule.cron
    if delay_seconds >= shortest.total_seconds():
        errors.add(
            "schedule.delay_seconds",
            f"The delay ({delay_seconds} s) must be shorter than the shortest time between "
            f"two runs of this schedule ({schedules.describe_interval(shortest)}): the next "
            "run would be due while the delayed one still waits, and would be skipped.",
        )


def _validate_notifications(errors, notifications: dict) -> dict:
    emails = notifications.get("emails")
    if emails is None:
        emails = []
    cleaned: list[str] = []
    if not isinstance(emails, list):
        errors.add("notifications.emails", "Expected a list of e-mail addresses.")
    elif len(emails) > MAXIMUM_NOTIFY_EMAILS:
        errors.add("notifications.emails", f"Use at most {MAXIMUM_NOTIFY_EMAILS} addresses.")
    else:
        validator = EmailValidator()
        for index, email in enumerate(emails):
            path = f"notifications.emails[{index}]"
            if not isinstance(email, str):
                errors.add(path, "Expected an e-mail address.")
                continue
            email = email.strip()
            try:
                validator(email)
            except ValidationError:
                errors.add(path, f"{email!r} is not a valid e-mail address.")
                continue
            if email not in cleaned:
                cleaned.append(email)
    notify_on = _choice(errors, "notifications.on", notifications.get("on"), Activation.NotifyOn)
    return {"notify_emails": cleaned, "notify_on": notify_on}


# --- Activations ------------------------------------------------------------------------


def stored_payload(activation: Activation) -> dict:
    """The canonical payload of what is stored, without read-only parts."""
    return {
        "name": activation.name,
        "description": activation.description,
        "segment": activation.segment_id,
        "connection": activation.connection_id,
        "enabled": activation.enabled,
        "refresh_before_run": activation.refresh_before_run,
        "export": {
            "mode": activation.mode,
            "object": activation.object_name,
            "upsert": activation.upsert,
            "key": activation.key,
            "hard_delete": activation.hard_delete,
            "concurrency_mode": activation.concurrency_mode,
            "batch_size": activation.batch_size,
            "api_version": activation.api_version,
            "retry_initial_delay": activation.retry_initial_delay,
            "retry_limit": activation.retry_limit,
            "null_value": activation.null_value,
            "allow_destructive_shrink": activation.allow_destructive_shrink,
            "max_shrink_percent": activation.max_shrink_percent,
            "sync": activation.sync,
            "on_leave": activation.on_leave,
        },
        "output_mapping": mapping_payload(activation.output_mapping),
        "schedule": {
            "type": activation.schedule_type,
            "cron": activation.cron,
            "timezone": activation.timezone,
            "delay_seconds": activation.delay_seconds,
            "catch_up": activation.catch_up,
        },
        "notifications": {"emails": list(activation.notify_emails), "on": activation.notify_on},
    }


def mapping_payload(output_mapping) -> dict:
    """An output mapping in its full shape: `export_all_columns`, `columns` and `strings`
    always present, and each added column with its `output` (the source name when it was
    left out), so readers need not know the defaults. Anything unexpected (a mapping stored
    before a validation rule existed) is copied as it is."""
    output_mapping = copy.deepcopy(output_mapping)
    if not isinstance(output_mapping, dict):
        return output_mapping
    output_mapping.setdefault("export_all_columns", False)
    output_mapping.setdefault("columns", [])
    output_mapping.setdefault("strings", [])
    if isinstance(output_mapping["columns"], list):
        for column in output_mapping["columns"]:
            if isinstance(column, dict) and column.get("output") is None and "source" in column:
                column["output"] = column["source"]
    return output_mapping


def activation_payload(activation: Activation) -> dict:
    """The canonical payload (the REST API's JSON shape) with `id`, `workspace`, and the
    read-only `schedule.next_runs` (the next five run times as ISO 8601 strings with their
    offset, in the schedule's time zone, delay not included; empty when the activation is
    disabled or has no schedule) and `schedule.description`."""
    payload = stored_payload(activation)
    payload = {"id": activation.pk, "workspace": activation.workspace_id, **payload}
    schedule = payload["schedule"]
    if activation.enabled and activation.schedule_type != Activation.ScheduleType.NONE:
        runs = schedules.next_runs(
            activation.schedule_type, activation.cron, activation.timezone, count=5
        )
        schedule["next_runs"] = [moment.isoformat() for moment in runs]
    else:
        schedule["next_runs"] = []
    schedule["description"] = schedules.describe(activation.schedule_type, activation.cron)
    return payload


def create_activation(*, workspace, data: dict) -> Activation:
    """Validate `data` (the canonical payload), save the activation and its beat rows."""
    values = validate_activation(data, workspace=workspace)
    with transaction.atomic():
        activation = Activation.objects.create(workspace=workspace, **values)
        beat.sync_periodic_task(activation)
    return activation


def update_activation(activation: Activation, *, data: dict) -> Activation:
    """Validate `data` over the stored activation (see validate_activation for what missing
    keys mean), save it and bring its beat rows in step."""
    values = validate_activation(data, workspace=activation.workspace, instance=activation)
    with transaction.atomic():
        if values["enabled"] and not activation.enabled:
            # Enabled again by hand: an automatic disable's reason and count are history.
            activation.disabled_reason = ""
            activation.consecutive_failures = 0
        for name, value in values.items():
            setattr(activation, name, value)
        activation.save()
        beat.sync_periodic_task(activation)
    return activation


def delete_activation(activation: Activation) -> None:
    """Delete the activation, its runs and its beat rows."""
    with transaction.atomic():
        beat.remove_periodic_task(activation)
        activation.delete()


def set_enabled(activation: Activation, enabled: bool) -> Activation:
    """Enable or disable scheduled running. Enabling forgets an automatic disable's reason
    and failure count, so the schedule gets a fresh start."""
    with transaction.atomic():
        activation.enabled = enabled
        fields = ["enabled", "updated_at"]
        if enabled:
            activation.disabled_reason = ""
            activation.consecutive_failures = 0
            fields += ["disabled_reason", "consecutive_failures"]
        activation.save(update_fields=fields)
        beat.sync_periodic_task(activation)
    return activation


# --- Runs -------------------------------------------------------------------------------


def cancel_run(run: Run, *, user=None) -> Run:
    """Cancel a run: a queued run is cancelled at once; a running run is asked to stop, and
    the runner stops before its next batch (aborting the Salesforce job in flight); a running
    run whose worker died (runner.worker_is_dead) is cancelled at once and its open jobs
    aborted. A finished run is left as it is."""
    now = timezone.now()
    who = f" by {user.get_username()}" if user is not None else ""
    dead_jobs: list[str] = []
    with transaction.atomic():
        current = Run.objects.select_for_update().get(pk=run.pk)
        if current.status == Run.Status.QUEUED:
            current.status = Run.Status.CANCELLED
            current.finished_at = now
            current.error = f"Cancelled{who} before it started."
            current.log = [*current.log, {"at": now.isoformat(), "message": current.error}]
            current.save(update_fields=["status", "finished_at", "error", "log"])
        elif current.status == Run.Status.RUNNING and runner.worker_is_dead(current, now=now):
            # Nobody would see the cancel request: cancel at once, then stop its jobs.
            since = current.heartbeat_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            current.status = Run.Status.CANCELLED
            current.finished_at = now
            current.error = (
                f"Cancelled{who}; its worker had stopped (no heartbeat since {since}), so "
                "the Salesforce jobs it left open were aborted."
            )
            current.progress = {**current.progress, "cancel": True, "notified": True}
            current.log = [*current.log, {"at": now.isoformat(), "message": current.error}]
            current.save(update_fields=["status", "finished_at", "error", "progress", "log"])
            dead_jobs = list(current.salesforce_job_ids)
        elif current.status == Run.Status.RUNNING and not current.progress.get("cancel"):
            current.progress = {**current.progress, "cancel": True}
            message = f"Cancellation requested{who}."
            current.log = [*current.log, {"at": now.isoformat(), "message": message}]
            current.save(update_fields=["progress", "log"])
    if dead_jobs:
        _abort_jobs(run, dead_jobs)
    run.refresh_from_db()
    return run


def _abort_jobs(run: Run, job_ids: list[str]) -> None:
    """Abort the jobs a dead worker left open; best effort (the run is cancelled anyway)."""
    activation = run.activation
    connector = activation.connection.connector
    try:
        aborted = connector.abort_jobs(runner.export_params(activation), job_ids)
    except Exception:
        logger.exception("Could not abort the jobs of run %s", run.pk)
        return
    finally:
        connector.close()
    if aborted:
        runner.append_log(run.pk, f"Aborted the open Salesforce jobs {', '.join(aborted)}.")


# --- Preview and destination check ------------------------------------------------------


def preview(activation: Activation, *, limit: int = 10) -> tuple[list[str], list[list[str]]]:
    """The output columns and the first `limit` rows exactly as a run would send them now.
    Raises InvalidInput (paths under `output_mapping`) if the mapping no longer fits the
    parent segment's columns."""
    columns = runner.output_columns(activation)
    # The run's own SELECT, with a LIMIT.
    cells = streaming.cells(activation, timestamp=timezone.now(), limit=max(0, limit))
    return columns, [list(row) for row in cells]


def check_destination(activation: Activation) -> None:
    """Check the export settings and output columns against the Salesforce object's
    describe, before any row moves. Raises InvalidInput for a mapping that no longer fits
    the parent segment, and ConnectorError (whose `field` names the culprit) otherwise."""
    columns = runner.output_columns(activation)
    activation.connection.connector.validate_export(runner.export_params(activation), columns)
