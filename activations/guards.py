"""Guardrails for destructive work: a run that deletes records (truncate, hard delete, or an
incremental delete of the rows that left the segment) is blocked before anything is deleted
when its segment is empty or has shrunk by more than the activation allows since the last
successful run. A segment that suddenly comes back empty is far more often a broken import
or a wrong rule than a wish to wipe the object."""

from .models import Activation, Run

# The share (in percent) a segment may shrink by between two runs before a destructive run
# is blocked; each activation sets its own (export.max_shrink_percent).
DEFAULT_MAX_SHRINK_PERCENT = 50
ALLOW_SETTING = "export.allow_destructive_shrink"


class DestructiveRunBlocked(Exception):
    """A destructive run was stopped before it deleted anything; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def last_successful_size(activation: Activation) -> int | None:
    """The segment's size at the last successful (or partially failed) run, or None. An
    incremental run reads only what it sends (`rows_read`, leavers included, `rows_deleted`)
    and counts the rest as `rows_unchanged`."""
    run = (
        Run.objects.filter(
            activation=activation,
            status__in=(Run.Status.SUCCEEDED, Run.Status.PARTIALLY_FAILED),
        )
        .exclude(trigger=Run.Trigger.TEST)
        .order_by("-finished_at", "-pk")
        .values_list("rows_read", "rows_unchanged", "rows_deleted")
        .first()
    )
    if run is None:
        return None
    rows_read, rows_unchanged, rows_deleted = run
    return max(0, rows_read - rows_deleted) + rows_unchanged


def check_shrink(activation: Activation, *, size: int, what: str) -> None:
    """Raise DestructiveRunBlocked when `what` (the deletion about to happen, e.g. "truncate
    would delete every Contact record") must not run with a segment of `size` rows; the
    incremental delete on leave calls this too."""
    if activation.allow_destructive_shrink:
        return
    allow = f"If this is intended, allow it in the activation's export settings ({ALLOW_SETTING})."
    if size == 0:
        raise DestructiveRunBlocked(
            f"Blocked before anything was deleted: the segment {activation.segment.name} is "
            f"empty, and {what}. {allow}"
        )
    previous = last_successful_size(activation)
    if not previous or size >= previous:
        return
    shrink = (previous - size) * 100 / previous
    allowed = activation.max_shrink_percent
    if shrink > allowed:
        raise DestructiveRunBlocked(
            f"Blocked before anything was deleted: the segment {activation.segment.name} has "
            f"{size:,} rows, {shrink:.0f}% fewer than the {previous:,} of the last successful "
            f"run, more than the {allowed}% this activation allows (export.max_shrink_percent), "
            f"and {what}. {allow}"
        )


def check_destructive_run(activation: Activation, *, size: int) -> None:
    """The guard for the deletions a run would make: truncate deletes every record first; an
    incremental sync with on_leave "delete" deletes the records of the rows that left."""
    if activation.mode == Activation.Mode.TRUNCATE:
        verb = "hard-delete" if activation.hard_delete else "delete"
        check_shrink(
            activation,
            size=size,
            what=f"truncate mode would {verb} every {activation.object_name} record",
        )
    elif (
        activation.sync == Activation.Sync.INCREMENTAL
        and activation.on_leave == Activation.OnLeave.DELETE
    ):
        check_shrink(
            activation,
            size=size,
            what=(
                f'export.on_leave "delete" would delete the {activation.object_name} records '
                "of every row that left it"
            ),
        )
