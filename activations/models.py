"""Activation, Run and FailedRow."""

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import OuterRef, Q, Subquery

from workspaces.models import Workspace, WorkspaceQuerySet


class ActivationQuerySet(WorkspaceQuerySet):
    def with_last_run(self) -> list["Activation"]:
        """The activations, each with `last_run` (its latest run, or None).

        Two queries, whatever the length of the run histories: only the latest runs are
        loaded. A method here, so pages of other apps list activations through the reverse
        relation (`segment.activations.with_last_run()`) without importing this app.
        """
        latest = Run.objects.filter(activation=OuterRef("pk")).order_by("-queued_at", "-pk")
        activations = list(self.annotate(last_run_pk=Subquery(latest.values("pk")[:1])))
        runs = Run.objects.in_bulk([activation.last_run_pk for activation in activations])
        for activation in activations:
            activation.last_run = runs.get(activation.last_run_pk)
        return activations


class Activation(models.Model):
    """A segment, a connection, export settings, an output mapping, a schedule and
    notifications. Its `periodic_task` is kept in step by activations/beat.py only."""

    class Mode(models.TextChoices):
        APPEND = "append", "Append (insert)"
        UPDATE = "update", "Update"
        TRUNCATE = "truncate", "Truncate and insert"

    class ConcurrencyMode(models.TextChoices):
        PARALLEL = "parallel", "Parallel"
        SERIAL = "serial", "Serial"

    class NullValue(models.TextChoices):
        # Salesforce reads an empty cell as "leave the field unchanged" and #N/A as "clear it".
        LEAVE = "leave", "Leave the field unchanged"
        CLEAR = "clear", "Clear the field (#N/A)"

    class Sync(models.TextChoices):
        FULL = "full", "Full: send every row"
        INCREMENTAL = "incremental", "Incremental: send new and changed rows"

    class OnLeave(models.TextChoices):
        # What an incremental run does with the records of rows that left the segment.
        IGNORE = "ignore", "Leave their records as they are"
        DELETE = "delete", "Delete their records"
        CLEAR = "clear", "Clear their mapped fields"

    class ScheduleType(models.TextChoices):
        NONE = "none", "None"
        HOURLY = "hourly", "@hourly"
        DAILY = "daily", "@daily"
        CRON = "cron", "Custom cron"

    class CatchUp(models.TextChoices):
        # What a slot missed while beat was down becomes when beat is back.
        RUN_ONCE = "run_once", "Run the latest missed slot once"
        SKIP = "skip", "Skip missed slots"

    class NotifyOn(models.TextChoices):
        FAILURE = "failure", "On failure"
        SUCCESS = "success", "On success"
        ALWAYS = "always", "Always"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="activations")
    segment = models.ForeignKey(
        "segments.Segment", on_delete=models.CASCADE, related_name="activations"
    )
    connection = models.ForeignKey(
        "connectors.Connection", on_delete=models.PROTECT, related_name="activations"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    # "Fresh data": refresh a source-backed parent segment before each run.
    refresh_before_run = models.BooleanField(default=False)

    # Export parameters (SPEC "Activation").
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.APPEND)
    object_name = models.CharField(max_length=100, help_text="Salesforce object API name")
    upsert = models.BooleanField(default=False)
    key = models.CharField(max_length=100, blank=True)
    hard_delete = models.BooleanField(default=False)
    concurrency_mode = models.CharField(
        max_length=10, choices=ConcurrencyMode.choices, default=ConcurrencyMode.PARALLEL
    )
    batch_size = models.PositiveIntegerField(default=10_000)
    api_version = models.CharField(max_length=10, default="59.0")
    retry_initial_delay = models.FloatField(default=1.0)
    retry_limit = models.PositiveSmallIntegerField(default=3)
    null_value = models.CharField(max_length=10, choices=NullValue.choices, default=NullValue.LEAVE)
    # Guardrails of destructive runs (activations/guards.py): blocked when the segment is
    # empty or shrank by more than max_shrink_percent since the last successful run.
    allow_destructive_shrink = models.BooleanField(default=False)
    max_shrink_percent = models.PositiveSmallIntegerField(
        default=50, validators=[MaxValueValidator(100)]
    )
    sync = models.CharField(max_length=12, choices=Sync.choices, default=Sync.FULL)
    on_leave = models.CharField(max_length=10, choices=OnLeave.choices, default=OnLeave.IGNORE)

    # {"export_all_columns": bool, "columns": [{"source", "output"}],
    #  "strings": [{"output", "parts": [{"type", "value", "format"}]}]}; see mapping.py.
    output_mapping = models.JSONField(default=dict)

    schedule_type = models.CharField(
        max_length=10, choices=ScheduleType.choices, default=ScheduleType.NONE
    )
    cron = models.CharField(max_length=200, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    delay_seconds = models.PositiveIntegerField(default=0)
    catch_up = models.CharField(max_length=10, choices=CatchUp.choices, default=CatchUp.RUN_ONCE)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activation",
    )

    notify_emails = models.JSONField(default=list, blank=True)
    notify_on = models.CharField(max_length=10, choices=NotifyOn.choices, default=NotifyOn.FAILURE)

    # Scheduled runs that failed on configuration in a row; reset by any success.
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ActivationQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    """One execution of an activation, with its progress, counts and log."""

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        SCHEDULE = "schedule", "Schedule"
        API = "api", "API"
        RETRY = "retry", "Retry of failed rows"
        # A test run from the editor: the first few rows only (Run.progress["row_limit"]).
        TEST = "test", "Test"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIALLY_FAILED = "partially_failed", "Partially failed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # A schedule slot that found the previous run still active; `error` says why.
        SKIPPED = "skipped", "Skipped"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    activation = models.ForeignKey(Activation, on_delete=models.CASCADE, related_name="runs")
    # Counts per activation (its first run is #1); 0 only for runs made outside request_run.
    number = models.PositiveIntegerField(default=0)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    # The schedule slot this run fills; unique per activation so a slot runs once.
    scheduled_for = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    requested_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Refreshed while the run works; a running run whose heartbeat is stale is dead.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.PositiveBigIntegerField(default=0)
    rows_sent = models.PositiveBigIntegerField(default=0)
    rows_succeeded = models.PositiveBigIntegerField(default=0)
    rows_failed = models.PositiveBigIntegerField(default=0)
    # Incremental runs: rows skipped because Salesforce already has them as they are, and
    # rows that left the segment whose records were deleted or cleared (also in succeeded).
    rows_unchanged = models.PositiveBigIntegerField(default=0)
    rows_deleted = models.PositiveBigIntegerField(default=0)
    # "full" | "incremental" | "retry", and why (set when the run starts).
    sync = models.CharField(max_length=12, blank=True)
    sync_reason = models.CharField(max_length=300, blank=True)
    salesforce_job_ids = models.JSONField(default=list, blank=True)
    # The output column names of this run, for the failed-rows CSV header.
    columns = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # True when `error` is a configuration problem (counts toward auto-disable).
    config_error = models.BooleanField(default=False)
    log = models.JSONField(default=list, blank=True)  # [{"at": iso, "message": str}]
    # Runner checkpoint, so a redelivered task resumes instead of redoing steps.
    progress = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-queued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["activation", "scheduled_for"],
                condition=Q(scheduled_for__isnull=False),
                name="one_run_per_schedule_slot",
            ),
            models.UniqueConstraint(
                fields=["activation", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="one_run_per_idempotency_key",
            ),
            # services.request_run checks this first and says which run is active; the index
            # makes it hold against any writer (SQLite and PostgreSQL both have partial ones).
            models.UniqueConstraint(
                fields=["activation"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_run_per_activation",
            ),
        ]
        indexes = [models.Index(fields=["activation", "status"])]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.activation_id} ({self.status})"

    @property
    def display_number(self) -> int:
        """The number users see: per activation, or the id for a run made without one."""
        return self.number or self.pk

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class FailedRow(models.Model):
    """A row the destination refused in a run, with the reason (Salesforce's sf__Error)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="failed_rows")
    values = models.JSONField(default=list)
    error = models.TextField()
    # The row's identity (its key, see activations/fingerprints.py), for "retry failed rows";
    # empty when it could not be told.
    key = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "pk"]

    def __str__(self) -> str:
        return self.error


class RunChunk(models.Model):
    """One recorded step of a resumable run (activations/steps.py): a chunk of rows as the
    run's snapshot read them, and the Salesforce job sending it, stored before its upload
    starts. `rows` holds the rows still to send (the locked ones after a lock retry), in the
    form only `steps.store_chunk` / `chunk_rows` / `chunk_lines` know. A truncate's delete
    steps (activations/prephase.py) are chunks of kind "delete" holding record Ids; they are
    all done before the first rows chunk is sent. An incremental run's rows that left the
    segment (activations/leavers.py) are chunks of kind "leave-clear" (rows clearing every
    field but the key, sent after the rows chunks) or "leave-delete" (keys whose records
    are deleted last)."""

    class Kind(models.TextChoices):
        ROWS = "rows", "Rows"
        DELETE = "delete", "Delete"
        LEAVE_CLEAR = "leave-clear", "Clear a row that left"
        LEAVE_DELETE = "leave-delete", "Delete a row that left"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="chunks")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.ROWS)
    number = models.PositiveIntegerField()
    rows = models.JSONField(default=list)
    job_id = models.CharField(max_length=18, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    done = models.BooleanField(default=False)

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "kind", "number"], name="one_chunk_number_per_run_and_kind"
            )
        ]

    def __str__(self) -> str:
        return f"Chunk {self.number} of run {self.run_id}"


class SyncState(models.Model):
    """What an incremental activation's fingerprints were taken with: a hash of the settings
    that shape the rows (mapping, object, key, mode). Another hash makes the next run full."""

    activation = models.OneToOneField(
        Activation, on_delete=models.CASCADE, primary_key=True, related_name="sync_state"
    )
    config_hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Sync state of {self.activation_id}"


class Fingerprint(models.Model):
    """The row of one key as Salesforce last accepted it: an 8-byte hash of its CSV cells.
    One small row per key, so millions of keys per activation stay cheap."""

    # No index of its own: the unique (activation, key) index serves lookups by activation.
    activation = models.ForeignKey(
        Activation, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.TextField()
    fingerprint = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["activation", "key"], name="one_fingerprint_per_key")
        ]

    def __str__(self) -> str:
        return self.key
