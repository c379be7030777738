"""The activation editor's form: it reads the three panels and builds the canonical payload.

Scalar settings are ordinary Django form fields. The output mapping's rows are repeated inputs
in page order (`column_source`/`column_output`; per string column `string_key` and, under
that key, `output`, `part_type`, `part_value`, `part_format`), so reordering rows in the page
needs no renumbering, and a refused form is drawn again exactly as it was typed.
"""

import re
import zoneinfo
from functools import cache

from django import forms

from common.forms import ServiceErrorsMixin
from common.validation import InvalidInput
from connectors.models import Connection

from .guards import DEFAULT_MAX_SHRINK_PERCENT
from .mapping import validate as validate_mapping
from .models import Activation

PART_TYPES = [
    ("string", "String"),
    ("timestamp", "Timestamp"),
    ("segment_id", "Segment Id"),
    ("segment_name", "Segment Name"),
    ("audience_id", "Audience Id"),
]
EMAIL_SEPARATORS = re.compile(r"[\s,;]+")


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    names = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})
    return [(name, name.replace("_", " ")) for name in names]


class ActivationForm(ServiceErrorsMixin, forms.Form):
    # Details
    name = forms.CharField(max_length=200, label="Activation name")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    connection = forms.ModelChoiceField(
        queryset=Connection.objects.none(), label="Connection", empty_label="Choose a connection…"
    )
    mode = forms.ChoiceField(choices=Activation.Mode.choices, label="Mode")
    object_name = forms.CharField(
        max_length=100,
        label="Object",
        help_text="Type to search the org's objects, or their API name (Audience_Member__c).",
        widget=forms.TextInput(
            attrs={"list": "object-options", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    upsert = forms.BooleanField(required=False, label="Upsert new records?")
    key = forms.CharField(
        max_length=100,
        required=False,
        label="Key",
        help_text="The field that matches records; with upsert, an External ID field.",
    )
    hard_delete = forms.BooleanField(
        required=False,
        label="Hard delete?",
        help_text="Delete existing records permanently instead of moving them to the recycle bin.",
    )
    allow_destructive_shrink = forms.BooleanField(
        required=False,
        label="Allow destructive shrinks?",
        help_text="Let truncate delete records even when the segment is empty or shrank by "
        "more than the share below since the last successful run.",
    )
    max_shrink_percent = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100,
        label="Maximum shrink (%)",
        help_text="A truncate is blocked when the segment shrank by more than this.",
    )
    concurrency_mode = forms.ChoiceField(
        choices=Activation.ConcurrencyMode.choices,
        label="Concurrency mode",
        help_text="Serial sends one job at a time; it avoids UNABLE_TO_LOCK_ROW errors.",
    )
    batch_size = forms.IntegerField(min_value=1, label="Batch size", help_text="Records per job.")
    api_version = forms.CharField(max_length=10, label="API version")
    retry_initial_delay = forms.FloatField(
        min_value=0, label="Initial retry delay (seconds)", help_text="Doubles with each retry."
    )
    retry_limit = forms.IntegerField(min_value=0, label="Retry limit")
    null_value = forms.ChoiceField(choices=Activation.NullValue.choices, label="Null values")
    sync = forms.ChoiceField(
        choices=Activation.Sync.choices,
        label="Sync",
        required=False,
        help_text="Incremental sends only rows that are new, changed or failed last time.",
    )
    on_leave = forms.ChoiceField(
        choices=Activation.OnLeave.choices,
        label="Rows that leave the segment",
        required=False,
        help_text="Incremental update mode only.",
    )
    enabled = forms.BooleanField(
        required=False,
        label="Enabled",
        help_text="The schedule runs it only while enabled; “Run now” works either way.",
    )
    # Output mapping
    export_all_columns = forms.BooleanField(required=False, label="Export All Columns")
    # Schedule and notifications
    schedule_type = forms.ChoiceField(
        choices=[
            ("none", "None"),
            ("hourly", "@hourly (:00)"),
            ("daily", "@daily (midnight)"),
            ("cron", "Custom cron…"),
        ],
        label="Schedule",
    )
    cron = forms.CharField(
        max_length=200,
        required=False,
        label="Cron expression",
        help_text="minute hour day-of-month month day-of-week, e.g. 0 9 * * mon-fri",
    )
    timezone = forms.ChoiceField(choices=time_zone_choices, label="Time zone")
    delay_seconds = forms.IntegerField(
        min_value=0,
        label="Delay execution (seconds)",
        help_text=(
            "Wait this long after the scheduled time before starting; it must be shorter than"
            " the time between two runs."
        ),
    )
    catch_up = forms.ChoiceField(
        choices=Activation.CatchUp.choices,
        required=False,  # left out: run once, the default
        label="Missed runs",
        help_text="Slots that passed while the scheduler was down.",
    )
    notify_emails = forms.CharField(
        required=False,
        label="Notification recipients",
        help_text="E-mail addresses, separated by commas.",
        widget=forms.TextInput(attrs={"inputmode": "email", "autocomplete": "off"}),
    )
    notify_on = forms.ChoiceField(choices=Activation.NotifyOn.choices, label="Send e-mail")

    field_paths = {
        "name": "name",
        "description": "description",
        "connection": "connection",
        "enabled": "enabled",
        "export.mode": "mode",
        "export.object": "object_name",
        "export.upsert": "upsert",
        "export.key": "key",
        "export.hard_delete": "hard_delete",
        "export.concurrency_mode": "concurrency_mode",
        "export.batch_size": "batch_size",
        "export.api_version": "api_version",
        "export.retry_initial_delay": "retry_initial_delay",
        "export.retry_limit": "retry_limit",
        "export.null_value": "null_value",
        "export.allow_destructive_shrink": "allow_destructive_shrink",
        "export.max_shrink_percent": "max_shrink_percent",
        "export.sync": "sync",
        "export.on_leave": "on_leave",
        "output_mapping.export_all_columns": "export_all_columns",
        "schedule.type": "schedule_type",
        "schedule.cron": "cron",
        "schedule.timezone": "timezone",
        "schedule.delay_seconds": "delay_seconds",
        "schedule.catch_up": "catch_up",
        "notifications.emails": "notify_emails",
        "notifications.on": "notify_on",
    }
    panel_fields = {
        "details": [
            "name",
            "description",
            "connection",
            "mode",
            "object_name",
            "upsert",
            "key",
            "hard_delete",
            "allow_destructive_shrink",
            "max_shrink_percent",
            "concurrency_mode",
            "batch_size",
            "api_version",
            "retry_initial_delay",
            "retry_limit",
            "null_value",
            "sync",
            "on_leave",
            "enabled",
        ],
        "mapping": ["export_all_columns"],
        "schedule": [
            "schedule_type",
            "cron",
            "timezone",
            "delay_seconds",
            "catch_up",
            "notify_emails",
            "notify_on",
        ],
    }

    def __init__(self, *args, segment, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.segment = segment
        self.fields["connection"].queryset = Connection.objects.filter(workspace=segment.workspace)
        if self.is_bound:
            self.mapping = mapping_from_post(self.data)
        else:
            self.mapping = mapping_rows(self.initial.get("output_mapping") or {})
        # Errors of the mapping as a whole (`output_mapping`, `output_mapping.columns`, ...).
        self.mapping_errors: list[str] = []

    # -- building the payload --

    def payload(self) -> dict:
        """The canonical activation payload (see activations.services) of the cleaned form."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "segment": self.segment.pk,
            "connection": data["connection"].pk,
            "enabled": data["enabled"],
            "export": {
                "mode": data["mode"],
                "object": data["object_name"],
                "upsert": data["upsert"] if data["mode"] == Activation.Mode.UPDATE else False,
                "key": data["key"] if data["mode"] == Activation.Mode.UPDATE else "",
                "hard_delete": (
                    data["hard_delete"] if data["mode"] == Activation.Mode.TRUNCATE else False
                ),
                "concurrency_mode": data["concurrency_mode"],
                "batch_size": data["batch_size"],
                "api_version": data["api_version"],
                "retry_initial_delay": data["retry_initial_delay"],
                "retry_limit": data["retry_limit"],
                "null_value": data["null_value"],
                "allow_destructive_shrink": data["allow_destructive_shrink"],
                "max_shrink_percent": (
                    DEFAULT_MAX_SHRINK_PERCENT
                    if data["max_shrink_percent"] is None
                    else data["max_shrink_percent"]
                ),
                "sync": data["sync"] or Activation.Sync.FULL,
                "on_leave": data["on_leave"] or Activation.OnLeave.IGNORE,
            },
            "output_mapping": self.output_mapping(),
            "schedule": {
                "type": data["schedule_type"],
                "cron": data["cron"] if data["schedule_type"] == "cron" else "",
                "timezone": data["timezone"],
                "delay_seconds": data["delay_seconds"],
                "catch_up": data["catch_up"] or Activation.CatchUp.RUN_ONCE,
            },
            "notifications": {
                "emails": split_emails(data["notify_emails"]),
                "on": data["notify_on"],
            },
        }

    def output_mapping(self) -> dict:
        return mapping_payload(self.mapping, export_all_columns=self.export_all_checked())

    def export_all_checked(self) -> bool:
        if self.is_bound:
            return self.data.get("export_all_columns") in ("on", "true", "1")
        return bool(self.initial.get("export_all_columns"))

    # -- showing errors --

    def show_service_errors(self, error) -> None:
        for path, messages in self.add_service_errors(error).items():
            if not attach_mapping_error(self.mapping, path, messages):
                if path.startswith("output_mapping"):
                    self.mapping_errors.extend(messages)
                else:
                    self.add_error(None, f"{path}: {' '.join(messages)}")

    def check_mapping(self) -> None:
        """Put the mapping's own errors on its rows; for a form whose other fields are
        refused before the service could check the whole payload."""
        try:
            validate_mapping(self.output_mapping(), self.segment.parent_segment.columns)
        except InvalidInput as error:
            self.show_service_errors(InvalidInput(error.prefixed("output_mapping")))

    def panel_has_errors(self) -> dict[str, bool]:
        result = {
            panel: any(name in self.errors for name in names)
            for panel, names in self.panel_fields.items()
        }
        result["mapping"] = (
            result["mapping"] or bool(self.mapping_errors) or mapping_has_errors(self.mapping)
        )
        return result


def initial_from_payload(payload: dict) -> dict:
    """ActivationForm initial values from a canonical payload (activation_payload)."""
    export = payload["export"]
    schedule = payload["schedule"]
    return {
        "name": payload["name"],
        "description": payload["description"],
        "connection": payload["connection"],
        "enabled": payload["enabled"],
        "mode": export["mode"],
        "object_name": export["object"],
        "upsert": export["upsert"],
        "key": export["key"],
        "hard_delete": export["hard_delete"],
        "concurrency_mode": export["concurrency_mode"],
        "batch_size": export["batch_size"],
        "api_version": export["api_version"],
        "retry_initial_delay": export["retry_initial_delay"],
        "retry_limit": export["retry_limit"],
        "null_value": export["null_value"],
        "allow_destructive_shrink": export["allow_destructive_shrink"],
        "max_shrink_percent": export["max_shrink_percent"],
        "sync": export["sync"],
        "on_leave": export["on_leave"],
        "export_all_columns": bool(payload["output_mapping"].get("export_all_columns")),
        "output_mapping": payload["output_mapping"],
        "schedule_type": schedule["type"],
        "cron": schedule["cron"],
        "timezone": schedule["timezone"],
        "delay_seconds": schedule["delay_seconds"],
        "catch_up": schedule["catch_up"],
        "notify_emails": ", ".join(payload["notifications"]["emails"]),
        "notify_on": payload["notifications"]["on"],
    }


def default_initial(segment) -> dict:
    """A new activation's starting values: the model defaults, no columns yet, and
    the workspace's connection when it has exactly one."""
    defaults = Activation()
    connections = list(Connection.objects.filter(workspace=segment.workspace)[:2])
    return {
        "name": "",
        "connection": connections[0].pk if len(connections) == 1 else None,
        "enabled": True,
        "mode": defaults.mode,
        "concurrency_mode": defaults.concurrency_mode,
        "batch_size": defaults.batch_size,
        "api_version": defaults.api_version,
        "retry_initial_delay": defaults.retry_initial_delay,
        "retry_limit": defaults.retry_limit,
        "null_value": defaults.null_value,
        "max_shrink_percent": defaults.max_shrink_percent,
        "sync": defaults.sync,
        "on_leave": defaults.on_leave,
        # Off: a standard object has no field named like most source columns; Auto-map or
        # the field picker name them.
        "export_all_columns": False,
        "output_mapping": {"export_all_columns": False, "columns": [], "strings": []},
        "schedule_type": "none",
        "timezone": "UTC",
        "delay_seconds": 0,
        "catch_up": Activation.CatchUp.RUN_ONCE,
        "notify_on": defaults.notify_on,
    }


def split_emails(text: str) -> list[str]:
    return [email for email in EMAIL_SEPARATORS.split(text or "") if email]


# -- the mapping rows: parsed from the page, drawn by the template, with their errors --


def mapping_from_post(data) -> dict:
    """Rows as the page sent them: {"columns": [...], "strings": [...]} with empty errors."""
    columns = [
        {"source": source, "output": output.strip(), "errors": {}}
        for source, output in zip(
            data.getlist("column_source"), data.getlist("column_output"), strict=False
        )
    ]
    strings = []
    for key in data.getlist("string_key"):
        prefix = f"string-{key}-"
        types = data.getlist(prefix + "part_type")
        # A page from before time zones sends none; pad so no part is dropped.
        timezones = data.getlist(prefix + "part_timezone") + [""] * len(types)
        parts = [
            {
                "type": part_type,
                "value": value,
                "format": part_format.strip(),
                "timezone": part_timezone.strip(),
                "errors": {},
            }
            for part_type, value, part_format, part_timezone in zip(
                types,
                data.getlist(prefix + "part_value"),
                data.getlist(prefix + "part_format"),
                timezones,
                strict=False,
            )
        ]
        strings.append(
            {
                "key": key,
                "output": data.get(prefix + "output", "").strip(),
                "parts": parts,
                "errors": {},
            }
        )
    return {"columns": columns, "strings": strings}


def mapping_rows(output_mapping: dict) -> dict:
    """Rows for the template from a stored mapping."""
    columns = [
        {"source": column.get("source", ""), "output": column.get("output", ""), "errors": {}}
        for column in output_mapping.get("columns") or []
    ]
    strings = [
        {
            "key": str(index),
            "output": string.get("output", ""),
            "errors": {},
            "parts": [
                {
                    "type": part.get("type", "string"),
                    "value": part.get("value") or "",
                    "format": part.get("format") or "",
                    "timezone": part.get("timezone") or "",
                    "errors": {},
                }
                for part in string.get("parts") or []
            ],
        }
        for index, string in enumerate(output_mapping.get("strings") or [])
    ]
    return {"columns": columns, "strings": strings}


def mapping_payload(rows: dict, *, export_all_columns: bool) -> dict:
    """The canonical output_mapping of the rows. With Export All Columns the picked columns
    are not sent (the page keeps them, so switching back loses nothing)."""
    strings = []
    for string in rows["strings"]:
        parts = []
        for part in string["parts"]:
            item = {"type": part["type"]}
            if part["type"] == "string":
                item["value"] = part["value"]
            elif part["type"] == "timestamp":
                if part["format"]:
                    item["format"] = part["format"]
                if part.get("timezone"):
                    item["timezone"] = part["timezone"]
            parts.append(item)
        strings.append({"output": string["output"], "parts": parts})
    columns = (
        []
        if export_all_columns
        else [{"source": row["source"], "output": row["output"]} for row in rows["columns"]]
    )
    return {"export_all_columns": export_all_columns, "columns": columns, "strings": strings}


ROW_PATH = re.compile(r"output_mapping\.(columns|strings)\[(\d+)\](?:\.(.*))?$")
PART_PATH = re.compile(r"parts\[(\d+)\](?:\.(.*))?$")


def attach_mapping_error(rows: dict, path: str, messages: list[str]) -> bool:
    """Put a mapping error on its row (or part); False when the path names no row."""
    match = ROW_PATH.match(path)
    if not match:
        return False
    kind, index, rest = match.group(1), int(match.group(2)), match.group(3) or ""
    if index >= len(rows[kind]):
        return False
    row = rows[kind][index]
    part_match = PART_PATH.match(rest) if kind == "strings" else None
    if part_match:
        part_index = int(part_match.group(1))
        if part_index < len(row["parts"]):
            field = part_match.group(2) or "type"
            row["parts"][part_index]["errors"].setdefault(field, []).extend(messages)
            return True
        rest = "parts"
    field = rest or ("output" if kind == "strings" else "source")
    row["errors"].setdefault(field, []).extend(messages)
    return True


def mapping_has_errors(rows: dict) -> bool:
    for row in rows["columns"]:
        if row["errors"]:
            return True
    for string in rows["strings"]:
        if string["errors"] or any(part["errors"] for part in string["parts"]):
            return True
    return False
