"""Celery tasks of activations. Arguments are ids only; the work is in runner and dispatch.

The names are explicit and stable: django-celery-beat stores them in PeriodicTask.task.
"""

import logging
from datetime import datetime

from celery import shared_task
from celery.signals import worker_ready, worker_shutting_down
from django.utils import timezone

from common import schedules

from . import beat, dispatch, runner
from .models import Activation, Run

logger = logging.getLogger(__name__)


@shared_task(name="activations.run_activation", bind=True)
def run_activation(self, run_id: int) -> None:
    """Execute a queued run (a repeated message for the same run does nothing)."""
    # In a real worker a side thread keeps the heartbeat fresh while Salesforce works; an
    # eager call (tests, inline execution) runs in the caller's thread and transaction.
    runner.execute_run(
        run_id,
        background_heartbeat=not self.request.is_eager,
        worker=self.request.hostname or "",
    )


@shared_task(name="activations.run_scheduled_activation")
def run_scheduled_activation(
    activation_id: int, scheduled_for: str | None = None, fired_at: str | None = None
) -> None:
    """Fired by celery beat: queue the run of the slot that fired, after the activation's
    delay. A second firing of the same slot, a disabled or deleted activation, or a slot
    missed while beat was down under the "skip" catch-up policy, queue nothing; a run still
    active from before makes the slot a skipped run.

    `scheduled_for` (the slot) and `fired_at` are ISO times on beat's clock, added by
    activations.scheduler when beat sends the message; the worker's clock is not used. A
    message without them (sent by hand, or by a plain DatabaseScheduler) falls back to the
    worker's clock.
    """
    activation = Activation.objects.filter(pk=activation_id).first()
    if activation is None:
        # A beat row left behind (deleted outside the services): stop it firing again.
        logger.warning("Activation %s no longer exists; its schedule is removed", activation_id)
        beat.remove_orphan_periodic_task(activation_id)
        return
    if not activation.enabled:
        return
    if schedules.expression_for(activation.schedule_type, activation.cron) is None:
        # Its schedule was removed after a beat that had not reloaded yet fired it.
        logger.info("Activation %s has no schedule any more; no run queued", activation_id)
        return
    if scheduled_for:
        slot = datetime.fromisoformat(scheduled_for)
    else:
        slot = beat.scheduled_slot(activation, timezone.now())
    missed = fired_at is not None and beat.missed_while_down(slot, datetime.fromisoformat(fired_at))
    if missed and activation.catch_up == Activation.CatchUp.SKIP:
        logger.info(
            "Slot %s of activation %s was missed while beat was down; skipped (catch-up policy)",
            slot.isoformat(),
            activation_id,
        )
        return
    run = dispatch.request_run(
        activation=activation, trigger=Run.Trigger.SCHEDULE, scheduled_for=slot
    )
    if run is None:
        logger.info("No run queued for activation %s at %s", activation_id, slot)


@shared_task(name="activations.mark_stale_runs")
def mark_stale_runs() -> int:
    """Fail runs whose worker died; send again the messages of runs no worker started."""
    return runner.mark_stale_runs()


@worker_ready.connect
def mark_stale_runs_at_start(**kwargs) -> None:
    """A restarted machine's runs are found at once, not a minute later."""
    try:
        runner.mark_stale_runs()
    except Exception:
        logger.exception("Could not look for stale runs at worker start")


@worker_shutting_down.connect
def hand_over_runs_at_shutdown(sender=None, **kwargs) -> None:
    """A warm shutdown (SIGTERM) stops this worker's recorded runs between two steps; each is
    queued again for another worker instead of making the shutdown wait for its end."""
    try:
        runner.request_shutdown(str(sender or ""))
    except Exception:
        logger.exception("Could not ask this worker's runs to stop at shutdown")
