"""Requesting and publishing runs: the one place a run is queued and its task message sent.

Used by services (manual, API and command requests), tasks (the schedule's requests) and the
runner (messages lost before a worker started the run). It imports none of them, so the
imports go one way: tasks and services -> runner -> dispatch.
"""

import logging

from celery import current_app
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.errors import ServiceError

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
) -> Run | None:
    """Queue a run of the activation and publish its task once the transaction commits.

    At most one run of an activation is queued or running at a time. A manual or API request
    while one is active raises RunConflict; a scheduled one is skipped and returns None (the
    schedule comes back at its next slot). A second request with the same idempotency key
    returns the first run, whatever its state; a second firing of the same schedule slot
    (`scheduled_for`) returns None. Scheduled runs start after the activation's delay.
    `publish=False` leaves the run for the caller to execute inline (`run_activation --wait`).
    A disabled activation may still be run by hand: `enabled` governs the schedule only.
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
            if trigger == Run.Trigger.SCHEDULE:
                logger.info(
                    "Skipped the scheduled run of activation %s: run %s is %s",
                    activation.pk,
                    active.pk,
                    active.status,
                )
                return None
            raise RunConflict(
                f"Activation {activation.name} already has a run in progress (run {active.pk}).",
                run=active,
            )
        delay_seconds = activation.delay_seconds if trigger == Run.Trigger.SCHEDULE else 0
        now = timezone.now()
        try:
            with transaction.atomic():
                run = Run.objects.create(
                    activation=activation,
                    trigger=trigger,
                    requested_by=user,
                    idempotency_key=idempotency_key,
                    scheduled_for=scheduled_for,
                    progress={
                        "due_at": (now + timezone.timedelta(seconds=delay_seconds)).isoformat()
                    },
                    log=[{"at": now.isoformat(), "message": _queued_message(trigger, user)}],
                )
        except IntegrityError:
            # The same slot or key, inserted by a concurrent request since we looked.
            if idempotency_key:
                return activation.runs.filter(idempotency_key=idempotency_key).first()
            return None
        if publish:
            transaction.on_commit(lambda: publish_run(run.pk, countdown=delay_seconds))
    return run


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
