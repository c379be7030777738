"""ParentSegment, its Profile rows, and Segment."""

from django.db import models
from django.db.models.functions import Lower

from sources.models import Source
from workspaces.models import Workspace, WorkspaceQuerySet


class ColumnType(models.TextChoices):
    STRING = "string", "String"
    INTEGER = "integer", "Integer"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Boolean"
    DATE = "date", "Date"
    TIMESTAMP = "timestamp", "Timestamp"


class Storage(models.TextChoices):
    IMPORTED = "imported", "Imported (copied into the profile store)"
    LIVE = "live", "Live (read from the source at each run)"


class ParentSegment(models.Model):
    """A customer master table; its id is the "Audience ID" of the seed.

    `columns` is a list of {"name": ..., "type": ColumnType}; the key column is one of them.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="parent_segments"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    key_column = models.CharField(max_length=100)
    columns = models.JSONField(default=list)
    # Kept by the import service so listing parent segments never counts millions of rows.
    row_count = models.PositiveBigIntegerField(default=0)
    # Where the rows come from when not from a CSV upload: a source's table or query
    # (exactly one of them), copied into the profiles by a refresh (segments/refresh.py).
    source = models.ForeignKey(
        Source, on_delete=models.RESTRICT, null=True, blank=True, related_name="parent_segments"
    )
    source_table = models.CharField(max_length=500, blank=True)
    source_query = models.TextField(blank=True)
    storage = models.CharField(max_length=20, choices=Storage.choices, default=Storage.IMPORTED)
    # Set when the rows are a snapshot table rather than profiles (segments/snapshots.py):
    # {"table", "columns", "key_column", "source_types"}, the copy plan it was written with.
    snapshot = models.JSONField(null=True, blank=True, default=None, editable=False)
    refresh_mode = models.CharField(max_length=10, default="replace")
    refresh_schedule_type = models.CharField(max_length=10, default="none")
    refresh_cron = models.CharField(max_length=200, blank=True)
    refresh_timezone = models.CharField(max_length=64, default="UTC")
    # Incremental refreshes: only the rows whose cursor column is above the highest value the
    # last refresh saw (kept as text, compared by the source in the column's own type).
    refresh_cursor_column = models.CharField(max_length=100, blank=True)
    refresh_cursor_value = models.TextField(blank=True)
    refresh_periodic_task = models.ForeignKey(
        "django_celery_beat.PeriodicTask",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Who hears about a failed scheduled refresh.
    notify_emails = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "workspace", name="unique_parent_segment_name_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def column_names(self) -> list[str]:
        return [column["name"] for column in self.columns]

    def column_types(self) -> dict[str, str]:
        return {column["name"]: column["type"] for column in self.columns}


class Profile(models.Model):
    """One row of a parent segment: its key and its typed values as JSON.

    Values are stored in their JSON form: strings, numbers, booleans, and dates/timestamps
    as ISO 8601 strings (timestamps in UTC with a `Z`), so they sort as text too.
    """

    # No index of its own: the unique (parent_segment, key) index serves every lookup by
    # parent, and a second index on one repeated value slowed bulk writes (benchmarks/README.md).
    parent_segment = models.ForeignKey(
        ParentSegment, on_delete=models.CASCADE, related_name="profiles", db_index=False
    )
    key = models.CharField(max_length=255)
    attributes = models.JSONField(default=dict)

    class Meta:
        ordering = ["parent_segment", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["parent_segment", "key"], name="one_profile_per_key")
        ]

    def __str__(self) -> str:
        return self.key


class Segment(models.Model):
    """An audience: the profiles of a parent segment that match a rule tree."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="segments")
    parent_segment = models.ForeignKey(
        ParentSegment, on_delete=models.CASCADE, related_name="segments"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    folder = models.CharField(max_length=200, blank=True)
    # {"type": "and"|"or", "conditions": [...]}; see segments/rules.py.
    rules = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["folder", "name", "pk"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "workspace", name="unique_segment_name_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Refresh(models.Model):
    """One copy of a source-backed parent segment's rows into its profiles."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "By hand"
        SCHEDULE = "schedule", "Schedule"
        ACTIVATION = "activation", "Before an activation's run"

    parent_segment = models.ForeignKey(
        ParentSegment, on_delete=models.CASCADE, related_name="refreshes"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=12, choices=Trigger.choices, default=Trigger.MANUAL)
    mode = models.CharField(max_length=10, default="replace")
    rows_read = models.PositiveBigIntegerField(default=0)
    rows_imported = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    # The schedule slot a scheduled refresh belongs to (unique per parent: a slot runs once).
    scheduled_for = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["parent_segment", "scheduled_for"], name="one_refresh_per_slot"
            )
        ]

    def __str__(self) -> str:
        return f"Refresh {self.pk} of {self.parent_segment_id} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class AudienceSize(models.Model):
    """A segment's audience size at one moment: recorded daily and at each run, for the
    segment page's chart and the drift notification."""

    class Reason(models.TextChoices):
        DAILY = "daily", "Daily"
        RUN = "run", "Run"

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="sizes")
    measured_at = models.DateTimeField()
    size = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=10, choices=Reason.choices)
    # Set when the size moved from the previous record by more than AUDIENCE_DRIFT_SHARE.
    drift = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["segment", "measured_at", "pk"]
        indexes = [models.Index(fields=["segment", "measured_at"])]

    def __str__(self) -> str:
        return f"{self.segment_id}: {self.size} at {self.measured_at:%Y-%m-%d %H:%M}"
