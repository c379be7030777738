"""Refreshing a source-backed parent segment: the source's rows copied into its profiles.

From PostgreSQL into PostgreSQL the source's typed rows are copied as they are and turned
into profiles in SQL (loading.import_copied, segments/copying.py); otherwise they stream as CSV
lines (sources/reading.py) into the same checked import as an uploaded file. Both end in the
import's atomic write, so a refresh that fails, at the source or on a bad row, leaves the
previous rows exactly as they were. Each refresh is
a `Refresh` row: queued by `request_refresh`, claimed and run by `execute_refresh` in a worker
(segments.refresh_parent_segment), scheduled through beat (segments.refresh_scheduled).
"""

import logging

from celery import current_app
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from common import beat, schedules
from sources.browse import Relation, SourceError
from sources.reading import copy_rows, csv_lines, max_value, postgresql_types

from . import copying, loading
from .models import ParentSegment, Refresh

logger = logging.getLogger(__name__)

REFRESH_TASK = "segments.refresh_parent_segment"
SCHEDULED_REFRESH_TASK = "segments.refresh_scheduled"
ACTIVE = (Refresh.Status.QUEUED, Refresh.Status.RUNNING)
MAX_ERRORS_KEPT = 5


class RefreshRefused(Exception):
    """A refresh cannot be queued now; the message says why."""


def relation_of(parent: ParentSegment) -> Relation:
    return Relation(table=parent.source_table, query=parent.source_query)


def request_refresh(
    parent: ParentSegment,
    *,
    trigger: str = Refresh.Trigger.MANUAL,
    scheduled_for=None,
    publish: bool = True,
) -> Refresh:
    """Queue a refresh and publish its task after the transaction commits.

    Raises RefreshRefused for a parent without a source, or while another refresh of it is
    queued or running (a second one would only repeat the work).
    """
    if parent.source_id is None:
        raise RefreshRefused("This parent segment's rows come from CSV uploads, not a source.")
    with transaction.atomic():
        ParentSegment.objects.select_for_update().filter(pk=parent.pk).first()
        active = parent.refreshes.filter(status__in=ACTIVE).first()
        if active is not None:
            raise RefreshRefused(f"Refresh {active.pk} is already {active.status}.")
        refresh = Refresh.objects.create(
            parent_segment=parent,
            trigger=trigger,
            mode=parent.refresh_mode,
            scheduled_for=scheduled_for,
        )
        if publish:
            transaction.on_commit(lambda: _publish(refresh.pk))
    return refresh


def _publish(refresh_id: int) -> None:
    # Looked up by name: tasks imports this module, so this one cannot import tasks.
    current_app.tasks[REFRESH_TASK].delay(refresh_id)


def execute_refresh(refresh_id: int) -> Refresh | None:
    """Claim a queued refresh (a repeated message does nothing) and run it to its end."""
    claimed = Refresh.objects.filter(pk=refresh_id, status=Refresh.Status.QUEUED).update(
        status=Refresh.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    refresh = Refresh.objects.select_related("parent_segment__source").get(pk=refresh_id)
    parent = refresh.parent_segment
    try:
        rows_read, rows_imported, error = _copy_rows(parent, refresh.mode)
    except Exception as unexpected:
        logger.exception("Refresh %s failed unexpectedly", refresh_id)
        rows_read, rows_imported, error = 0, 0, f"unexpected error: {type(unexpected).__name__}"
    refresh.rows_read = rows_read
    refresh.rows_imported = rows_imported
    refresh.error = error
    refresh.status = Refresh.Status.FAILED if error else Refresh.Status.SUCCEEDED
    refresh.finished_at = timezone.now()
    refresh.save(update_fields=["rows_read", "rows_imported", "error", "status", "finished_at"])
    if error and refresh.trigger == Refresh.Trigger.SCHEDULE:
        notify_refresh_failed(refresh)
    return refresh


def _copy_rows(parent: ParentSegment, mode: str) -> tuple[int, int, str]:
    """(rows read, rows imported, error or "")."""
    if parent.source is None:
        return 0, 0, "the parent segment has no source any more"
    relation = relation_of(parent)
    cursor_column, after, high = parent.refresh_cursor_column, None, None
    try:
        if cursor_column:
            # Incremental: the rows above the last high-water mark, merged by key.
            mode = "upsert"
            high = max_value(parent.source, relation, cursor_column)
            if parent.refresh_cursor_value:
                after = (cursor_column, parent.refresh_cursor_value)
        result, rows_read = _import(parent, relation, mode, after)
    except SourceError as error:
        return 0, 0, f"reading the source failed: {error}"
    if not result.ok:
        shown = "; ".join(str(e) for e in result.errors[:MAX_ERRORS_KEPT])
        more = result.error_count - min(result.error_count, MAX_ERRORS_KEPT)
        suffix = f" (and {more} more)" if more > 0 else ""
        return rows_read, 0, f"the source's rows do not fit the columns: {shown}{suffix}"
    if cursor_column and high is not None:
        ParentSegment.objects.filter(pk=parent.pk).update(refresh_cursor_value=high)
        parent.refresh_cursor_value = high
    return rows_read, result.rows_imported, ""


def _import(parent: ParentSegment, relation: Relation, mode: str, after):
    """(the import's result, the rows read): COPY from PostgreSQL to PostgreSQL when the
    columns allow it, else the source's rows as CSV lines through the checked import."""
    plan = _copy_plan(parent, relation)
    if plan is not None:
        names = parent.column_names
        with copy_rows(parent.source, relation, names, after=after) as (blocks, counter):
            result = loading.import_copied(
                parent_segment=parent, blocks=blocks, plan=plan, mode=mode
            )
    else:
        with csv_lines(parent.source, relation, parent.columns, after=after) as (lines, counter):
            result = loading.import_profiles(parent_segment=parent, file=lines, mode=mode)
    return result, counter.rows


def _copy_plan(parent: ParentSegment, relation: Relation) -> copying.CopyPlan | None:
    """The plan of a PostgreSQL-to-PostgreSQL copy (segments/copying.py), or None for the
    checked CSV path: another database on either side, or a column whose source type does
    not match its declared type."""
    if connection.vendor != "postgresql" or parent.source.kind != "postgresql":
        return None
    types = postgresql_types(parent.source, relation, parent.column_names)
    return copying.plan(parent.columns, parent.key_column, types)


def notify_refresh_failed(refresh: Refresh) -> bool:
    """Mail the parent segment's recipients that a scheduled refresh failed (no row data)."""
    parent = refresh.parent_segment
    if not parent.notify_emails:
        return False
    url = f"{settings.SITE_URL}/parent-segments/{parent.pk}/"
    body = (
        f"The scheduled refresh of parent segment {parent.name!r} failed at "
        f"{refresh.finished_at:%Y-%m-%d %H:%M} UTC; its previous rows were kept.\n\n"
        f"Error: {refresh.error}\n\n{url}\n"
    )
    try:
        send_mail(
            f"Refresh failed: {parent.name}",
            body,
            settings.DEFAULT_FROM_EMAIL,
            list(parent.notify_emails),
        )
    except Exception:
        logger.exception("Could not mail about refresh %s", refresh.pk)
        return False
    return True


# --- schedule -------------------------------------------------------------------------------


def periodic_task_name(parent_id: int) -> str:
    return f"parent-segment-refresh:{parent_id}"


def sync_schedule(parent: ParentSegment) -> None:
    """Keep the parent's beat row in step with its refresh schedule (none: no row)."""
    task = beat.sync_task(
        name=periodic_task_name(parent.pk),
        task=SCHEDULED_REFRESH_TASK,
        kwargs={"parent_segment_id": parent.pk},
        schedule_type=parent.refresh_schedule_type if parent.source_id else "none",
        cron=parent.refresh_cron,
        timezone_name=parent.refresh_timezone,
        description=f"Scheduled refreshes of parent segment {parent.pk} ({parent.name})",
    )
    if parent.refresh_periodic_task_id != (task.pk if task else None):
        ParentSegment.objects.filter(pk=parent.pk).update(refresh_periodic_task=task)
        parent.refresh_periodic_task = task


def run_scheduled(parent_id: int) -> Refresh | None:
    """Beat fired: queue the refresh of this slot (once per slot)."""
    parent = ParentSegment.objects.filter(pk=parent_id).first()
    if parent is None:
        beat.remove_task(periodic_task_name(parent_id))
        return None
    now = timezone.now()
    slot = schedules.latest_run(
        parent.refresh_schedule_type, parent.refresh_cron, parent.refresh_timezone, at=now
    ) or now.replace(second=0, microsecond=0)
    if parent.refreshes.filter(scheduled_for=slot).exists():
        return None
    try:
        return request_refresh(parent, trigger=Refresh.Trigger.SCHEDULE, scheduled_for=slot)
    except RefreshRefused as refused:
        logger.info("No scheduled refresh of parent segment %s: %s", parent_id, refused)
        return None


def refresh_now(parent: ParentSegment, *, trigger: str = Refresh.Trigger.MANUAL) -> Refresh:
    """Refresh in this process (a command, a hook) and return the finished refresh."""
    refresh = request_refresh(parent, trigger=trigger, publish=False)
    return execute_refresh(refresh.pk)


def refresh_before_run(parent: ParentSegment) -> Refresh | None:
    """For an activation asking for fresh data: refresh its source-backed parent now, in the
    caller's process, and return the refresh (None for a CSV-backed parent)."""
    if parent.source_id is None:
        return None
    try:
        return refresh_now(parent, trigger=Refresh.Trigger.ACTIVATION)
    except RefreshRefused:
        return None


def last_finished(parent: ParentSegment) -> Refresh | None:
    return parent.refreshes.exclude(status__in=ACTIVE).order_by("-finished_at", "-pk").first()
