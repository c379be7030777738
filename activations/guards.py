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
    """The rows the last successful (or partially failed) run read, or None."""
    run = (
        Run.objects.filter(
            activation=activation,
            status__in=(Run.Status.SUCCEEDED, Run.Status.PARTIALLY_FAILED),
        )
        .order_by("-finished_at", "-pk")
        .values_list("rows_read", flat=True)
        .first()
    )
    return run


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
    """The guard for the export mode itself: truncate deletes every record first."""
    if activation.mode != Activation.Mode.TRUNCATE:
        return
    verb = "hard-delete" if activation.hard_delete else "delete"
    check_shrink(
        activation,
        size=size,
        what=f"truncate mode would {verb} every {activation.object_name} record",
    )
