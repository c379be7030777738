"""Requesting and publishing runs: the one place a run is queued and its task message sent.

Used by services (manual, API and command requests), tasks (the schedule's requests) and the
runner (messages lost before a worker started the run). It imports none of them, so the
imports go one way: tasks and services -> runner -> dispatch.
"""

import logging

from celery import current_app
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from common.errors import ServiceError

from . import notifications
from .models import Activation, Run

logger = logging.getLogger(__name__)

# The task that executes a run (activations/tasks.py, registered when the app is ready).
RUN_TASK = "activations.run_activation"


class RunConflict(ServiceError):
    """A run was requested while another run of the same activation is queued or running."""

    status_code = 409

    def __init__(self, message: str, *, run: Run) -> None:
        super().__init__(message)
        self.run = run


def request_run(
    *,
    activation: Activation,
    trigger: str,
    user=None,
    idempotency_key: str = "",
    scheduled_for=None,
    publish: bool = True,
    row_limit: int | None = None,
) -> Run | None:
    """Queue a run of the activation and publish its task once the transaction commits.

    At most one run of an activation is queued or running at a time (a partial unique index
    holds it in the database too). A manual or API request while one is active raises
    RunConflict; a scheduled one returns a run with status "skipped" that records the slot
    and the reason (the schedule comes back at its next slot). A second request with the same
    idempotency key returns the first run, whatever its state; a second firing of the same
    schedule slot (`scheduled_for`) returns None. Scheduled runs start after the activation's delay.
    `publish=False` leaves the run for the caller to execute inline (`run_activation --wait`).
    A disabled activation may still be run by hand: `enabled` governs the schedule only.
    `row_limit` sends only the segment's first rows (a test run, trigger "test").
    """
    with transaction.atomic():
        # The row lock serialises requests for one activation on PostgreSQL; on SQLite the
        # IMMEDIATE transaction mode already serialises all writers.
        Activation.objects.select_for_update().filter(pk=activation.pk).first()
        if idempotency_key:
            existing = activation.runs.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        active = activation.runs.filter(status__in=Run.ACTIVE_STATUSES).first()
        if active is not None:
            return _refuse_second_run(activation, active, trigger, scheduled_for)
        delay_seconds = activation.delay_seconds if trigger == Run.Trigger.SCHEDULE else 0
        now = timezone.now()
        progress = {"due_at": (now + timezone.timedelta(seconds=delay_seconds)).isoformat()}
        if row_limit is not None:
            progress["row_limit"] = row_limit
        # Under the activation's row lock, so two requests cannot take the same number.
        last_number = activation.runs.aggregate(last=Max("number"))["last"] or 0
        try:
            with transaction.atomic():
                run = Run.objects.create(
                    activation=activation,
                    number=last_number + 1,
                    trigger=trigger,
                    requested_by=user,
                    idempotency_key=idempotency_key,
                    scheduled_for=scheduled_for,
                    progress=progress,
                    log=[{"at": now.isoformat(), "message": _queued_message(trigger, user)}],
                )
        except IntegrityError:
            # The same slot or key, or another active run (one_active_run_per_activation),
            # inserted by a concurrent writer since we looked.
            if idempotency_key:
                existing = activation.runs.filter(idempotency_key=idempotency_key).first()
                if existing is not None:
                    return existing
            if (
                scheduled_for is not None
                and activation.runs.filter(scheduled_for=scheduled_for).exists()
            ):
                return None
            active = activation.runs.filter(status__in=Run.ACTIVE_STATUSES).first()
            if active is None:
                raise
            return _refuse_second_run(activation, active, trigger, scheduled_for)
        if publish:
            transaction.on_commit(lambda: publish_run(run.pk, countdown=delay_seconds))
    return run


def _refuse_second_run(activation: Activation, active: Run, trigger: str, scheduled_for):
    """A run requested while `active` is queued or running: RunConflict for a person, and
    for the schedule a skipped run recording its slot and why (None if that slot has a run
    already). The skipped run is mailed like a failure."""
    if trigger != Run.Trigger.SCHEDULE:
        raise RunConflict(
            f"Activation {activation.name} already has a run in progress (run {active.pk}).",
            run=active,
        )
    now = timezone.now()
    reason = (
        f"Skipped: run {active.pk} was still {active.get_status_display().lower()} when this "
        "slot was due."
    )
    logger.info(
        "Scheduled run of activation %s skipped: run %s is %s",
        activation.pk,
        active.pk,
        active.status,
    )
    try:
        with transaction.atomic():
            skipped = Run.objects.create(
                activation=activation,
                number=(activation.runs.aggregate(last=Max("number"))["last"] or 0) + 1,
                trigger=trigger,
                status=Run.Status.SKIPPED,
                scheduled_for=scheduled_for,
                finished_at=now,
                error=reason,
                log=[{"at": now.isoformat(), "message": reason}],
            )
    except IntegrityError:
        return None  # a second firing of a slot that has its run (or its skip) already
    transaction.on_commit(lambda: notifications.notify_run_finished(skipped))
    return skipped


def _queued_message(trigger: str, user) -> str:
    if trigger == Run.Trigger.SCHEDULE:
        return "Queued by the schedule."
    who = f" by {user.get_username()}" if user is not None else ""
    return f"Queued{who} ({Run.Trigger(trigger).label.lower()} run)."


def publish_run(run_id: int, *, countdown: int = 0) -> None:
    """Send the task message that executes a queued run."""
    # Looked up by name: tasks imports this module, so this one cannot import tasks.
    run_activation = current_app.tasks[RUN_TASK]
    if countdown:
        run_activation.apply_async(args=[run_id], countdown=countdown)
    else:
        run_activation.delay(run_id)
