"""API shapes of activations and runs.

The activation serializers check the JSON shape (types, known fields) and document it; the
meaning (choices that fit the mode, columns that exist, cron, time zone) is checked by
activations.services, whose errors carry the same paths (`output_mapping.columns[2].output`).
Every input field is optional here: on create the service applies defaults and reports what
is required, on update it keeps what was not sent.
"""

from rest_framework import serializers

from activations.models import Activation, Run
from activations.services import activation_payload
from common.api.parsers import MAX_JSON_INTEGER
from common.api.serializers import StrictSerializer
from workspaces.fields import WorkspaceField

OPTIONAL = {"required": False}
TEXT = {"required": False, "allow_blank": True, "allow_null": True}


class ExportSerializer(StrictSerializer):
    mode = serializers.ChoiceField(choices=Activation.Mode.choices, **OPTIONAL)
    object = serializers.CharField(
        max_length=100, help_text="Salesforce object API name, e.g. Contact.", **OPTIONAL
    )
    upsert = serializers.BooleanField(help_text="Update mode: insert missing records.", **OPTIONAL)
    key = serializers.CharField(
        max_length=100, help_text="Update mode: the field records are matched by.", **TEXT
    )
    hard_delete = serializers.BooleanField(help_text="Truncate mode only.", **OPTIONAL)
    concurrency_mode = serializers.ChoiceField(
        choices=Activation.ConcurrencyMode.choices, **OPTIONAL
    )
    batch_size = serializers.IntegerField(min_value=1, max_value=MAX_JSON_INTEGER, **OPTIONAL)
    api_version = serializers.CharField(max_length=10, help_text="e.g. 59.0", **OPTIONAL)
    retry_initial_delay = serializers.FloatField(min_value=0, **OPTIONAL)
    retry_limit = serializers.IntegerField(min_value=0, max_value=MAX_JSON_INTEGER, **OPTIONAL)
    null_value = serializers.ChoiceField(
        choices=Activation.NullValue.choices,
        help_text='What a null becomes: "leave" (an empty cell) or "clear" (#N/A).',
        **OPTIONAL,
    )
    allow_destructive_shrink = serializers.BooleanField(
        help_text="Let a truncate (or an incremental delete) run when the segment is empty "
        "or shrank by more than max_shrink_percent since the last successful run.",
        **OPTIONAL,
    )
    max_shrink_percent = serializers.IntegerField(
        min_value=0,
        max_value=100,
        help_text="How much (in percent) the segment may shrink before a destructive run is "
        "blocked; 50 by default.",
        **OPTIONAL,
    )
    sync = serializers.ChoiceField(
        choices=Activation.Sync.choices,
        help_text='"full" sends every row; "incremental" only new, changed and failed rows.',
        **OPTIONAL,
    )
    on_leave = serializers.ChoiceField(
        choices=Activation.OnLeave.choices,
        help_text="Incremental update mode: what happens to the records of rows that left the "
        'segment: "ignore", "delete" (key Id or upsert External ID) or "clear".',
        **OPTIONAL,
    )


class MappedColumnSerializer(StrictSerializer):
    source = serializers.CharField(max_length=200, **OPTIONAL)
    output = serializers.CharField(max_length=200, **TEXT)


class StringPartSerializer(StrictSerializer):
    # A part holds the keys its type uses: `value` for a string, `format` for a timestamp.
    optional_in_response = ("value", "format")

    type = serializers.ChoiceField(
        choices=["string", "timestamp", "segment_id", "segment_name", "audience_id"], **OPTIONAL
    )
    # Kept as sent: a literal's spaces are part of the string ("CDP " + timestamp).
    value = serializers.CharField(
        max_length=1000, help_text="For a string part.", trim_whitespace=False, **TEXT
    )
    format = serializers.CharField(
        max_length=200,
        help_text="For a timestamp part (strftime); ISO 8601 when left out.",
        trim_whitespace=False,
        **TEXT,
    )


class BuiltStringSerializer(StrictSerializer):
    output = serializers.CharField(max_length=200, **TEXT)
    parts = StringPartSerializer(many=True, **OPTIONAL)


class OutputMappingSerializer(StrictSerializer):
    export_all_columns = serializers.BooleanField(**OPTIONAL)
    columns = MappedColumnSerializer(many=True, **OPTIONAL)
    strings = BuiltStringSerializer(many=True, **OPTIONAL)


class ScheduleSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=Activation.ScheduleType.choices, **OPTIONAL)
    cron = serializers.CharField(
        max_length=200, help_text='Five fields, e.g. "0 0 */5 * *".', **TEXT
    )
    timezone = serializers.CharField(max_length=64, help_text="e.g. Asia/Tokyo", **OPTIONAL)
    delay_seconds = serializers.IntegerField(
        min_value=0,
        max_value=MAX_JSON_INTEGER,
        help_text="Seconds between a slot and its run; shorter than the time between slots.",
        **OPTIONAL,
    )
    catch_up = serializers.ChoiceField(
        choices=Activation.CatchUp.choices,
        help_text="Slots missed while the scheduler was down: run the latest once, or skip.",
        **OPTIONAL,
    )
    next_runs = serializers.ListField(
        child=serializers.DateTimeField(),
        read_only=True,
        help_text="The next five run times (ISO 8601 with offset, in the time zone).",
    )
    description = serializers.CharField(read_only=True, help_text="The schedule in words.")


class NotificationsSerializer(StrictSerializer):
    emails = serializers.ListField(
        child=serializers.CharField(max_length=254), allow_null=True, **OPTIONAL
    )
    on = serializers.ChoiceField(choices=Activation.NotifyOn.choices, **OPTIONAL)


class ActivationSerializer(StrictSerializer):
    """A segment pushed to a Salesforce object through a connection, on a schedule."""

    id = serializers.IntegerField(read_only=True)
    workspace = WorkspaceField()
    name = serializers.CharField(max_length=200, **OPTIONAL)
    description = serializers.CharField(**TEXT)
    segment = serializers.IntegerField(min_value=1, max_value=MAX_JSON_INTEGER, **OPTIONAL)
    connection = serializers.IntegerField(min_value=1, max_value=MAX_JSON_INTEGER, **OPTIONAL)
    enabled = serializers.BooleanField(help_text="Whether the schedule runs it.", **OPTIONAL)
    refresh_before_run = serializers.BooleanField(
        help_text="Fresh data: refresh a source-backed parent segment before each run.",
        **OPTIONAL,
    )
    export = ExportSerializer(**OPTIONAL)
    output_mapping = OutputMappingSerializer(**OPTIONAL)
    schedule = ScheduleSerializer(**OPTIONAL)
    notifications = NotificationsSerializer(**OPTIONAL)
    consecutive_failures = serializers.IntegerField(read_only=True)
    disabled_reason = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, activation):
        datetime_field = serializers.DateTimeField()
        return {
            **activation_payload(activation),
            "consecutive_failures": activation.consecutive_failures,
            "disabled_reason": activation.disabled_reason,
            "created_at": datetime_field.to_representation(activation.created_at),
            "updated_at": datetime_field.to_representation(activation.updated_at),
        }

    def service_data(self) -> dict:
        """The validated input as the canonical payload, without read-only or unsent keys."""
        data = plain(self.validated_data)
        data.pop("workspace", None)
        return data


def plain(value):
    """Validated data as plain dicts and lists."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


class PreviewOptionsSerializer(StrictSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10)


class PreviewSerializer(serializers.Serializer):
    """The first rows exactly as a run would send them now."""

    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))


class ValidationResultSerializer(serializers.Serializer):
    """{"ok": true}, or {"ok": false} with the destination's complaint and where it points."""

    ok = serializers.BooleanField()
    error = serializers.CharField(required=False)
    field = serializers.CharField(required=False, allow_null=True)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class DryRunRowsSerializer(serializers.Serializer):
    insert = serializers.IntegerField()
    update = serializers.IntegerField()
    delete = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    invalid = serializers.IntegerField()


class DryRunSalesforceSerializer(serializers.Serializer):
    jobs = serializers.IntegerField(
        help_text="Bulk API jobs the run would create (ingest and query)."
    )
    api_calls = serializers.IntegerField(help_text="REST calls it would make, at least.")
    limits = serializers.DictField(
        help_text='What the org has left today, from /limits: {"DailyApiRequests": {"Max", '
        '"Remaining"}, ...}.'
    )


class DryRunSerializer(serializers.Serializer):
    """What a run would do now; nothing is written anywhere."""

    sync = serializers.CharField(help_text='"full" or "incremental".')
    sync_reason = serializers.CharField()
    operation = serializers.CharField()
    rows = DryRunRowsSerializer()
    salesforce = DryRunSalesforceSerializer()


class RunOptionsSerializer(StrictSerializer):
    """A run request's options; the body may be empty. `test_rows` makes it a test run
    (trigger `test`) that sends only the segment's first rows to the destination."""

    test_rows = serializers.IntegerField(required=False, min_value=1, max_value=1000)


class RunSerializer(serializers.ModelSerializer):
    """One execution of an activation."""

    workspace = serializers.IntegerField(source="activation.workspace_id", read_only=True)
    log = serializers.ListField(child=serializers.DictField(), read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "workspace",
            "activation",
            "trigger",
            "status",
            "scheduled_for",
            "queued_at",
            "started_at",
            "finished_at",
            "rows_read",
            "rows_sent",
            "rows_succeeded",
            "rows_failed",
            "rows_unchanged",
            "rows_deleted",
            "sync",
            "sync_reason",
            "salesforce_job_ids",
            "error",
            "log",
        ]
        read_only_fields = fields
