"""The celery beat scheduler (settings.CELERY_BEAT_SCHEDULER): django-celery-beat's
DatabaseScheduler, with two changes for the PeriodicTasks of activations (activations/beat.py):

- they fire at the run times of common/schedules.py, whose daylight-saving policy differs
  from celery's crontab (every slot of a gap runs, moved forward by the gap's length), so the
  times we show are the times beat fires;
- each firing carries its slot (`scheduled_for`) and beat's time (`fired_at`), both read on
  beat's clock when the message is sent, so a worker whose clock is behind or ahead of beat's
  still fills the right slot, and knows a slot beat fired late (it was down).

Other entries (the fixed jobs of CELERY_BEAT_SCHEDULE) are left to DatabaseScheduler.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from celery.beat import BeatLazyFunc
from celery.schedules import BaseSchedule, schedstate
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry

from common import schedules
from common.validation import InvalidInput

from .beat import RUN_SCHEDULED_ACTIVATION_TASK

logger = logging.getLogger(__name__)


class SlotSchedule(BaseSchedule):
    """A celery schedule that is due at the run times of a parsed cron schedule."""

    def __init__(self, cron: schedules.CronSchedule, tz: tzinfo, nowfun=None, app=None):
        self.cron = cron
        self.tz = tz
        super().__init__(nowfun=nowfun, app=app)

    def next_run(self, after: datetime) -> datetime:
        return next(schedules.iter_runs(self.cron, self.tz, after))

    def slot_at(self, moment: datetime) -> datetime | None:
        """The slot a firing at `moment` fills: the latest run time at or before it."""
        return schedules.latest_run_of(self.cron, self.tz, moment)

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        return self.next_run(last_run_at) - self.now()

    def is_due(self, last_run_at: datetime) -> schedstate:
        # Due once, however many slots passed since the last run (beat was down): the
        # firing's slot is the latest of them, and the activation's catch-up policy decides.
        now = self.now()
        next_run = self.next_run(last_run_at)
        if next_run <= now:
            return schedstate(True, (self.next_run(now) - now).total_seconds())
        return schedstate(False, (next_run - now).total_seconds())

    def __repr__(self) -> str:
        return f"<SlotSchedule {schedules.to_crontab_fields(self.cron)} {self.tz}>"

    def __eq__(self, other) -> bool:
        if not isinstance(other, SlotSchedule):
            return NotImplemented
        return (self.cron, str(self.tz)) == (other.cron, str(other.tz))

    __hash__ = None


def slot_schedule(crontab, app=None) -> SlotSchedule:
    """The SlotSchedule of a CrontabSchedule row written by beat.py (explicit lists with the
    ignored day field "*", which our dialect reads with the same meaning)."""
    expression = " ".join(
        [
            crontab.minute,
            crontab.hour,
            crontab.day_of_month,
            crontab.month_of_year,
            crontab.day_of_week,
        ]
    )
    return SlotSchedule(schedules.parse(expression), ZoneInfo(str(crontab.timezone)), app=app)


class ActivationEntry(ModelEntry):
    """A PeriodicTask row; an activation's fires on SlotSchedule and tells its slot."""

    def __init__(self, model, app=None):
        super().__init__(model, app=app)
        if model.task == RUN_SCHEDULED_ACTIVATION_TASK and model.crontab_id is not None:
            try:
                self.schedule = slot_schedule(model.crontab, app=self.app)
            except InvalidInput:
                # A crontab row edited by hand into something our dialect refuses: celery's
                # own reading of it, rather than stopping beat.
                logger.warning(
                    "Crontab of %s is not our cron dialect; fired as celery reads it", model.name
                )
                return
            # Evaluated by beat when it sends the message (celery's BeatLazyFunc).
            self.kwargs = {
                **self.kwargs,
                "scheduled_for": BeatLazyFunc(self._slot_now),
                "fired_at": BeatLazyFunc(self._now),
            }

    def _now(self) -> str:
        return self.schedule.now().astimezone(UTC).isoformat()

    def _slot_now(self) -> str | None:
        slot = self.schedule.slot_at(self.schedule.now())
        return slot.isoformat() if slot is not None else None


class ActivationScheduler(DatabaseScheduler):
    Entry = ActivationEntry
