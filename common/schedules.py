"""Our cron dialect: parsing with per-field errors, next run times, descriptions, crontab rows.

Pure: takes plain values, reads and writes nothing.

The dialect is classic five-field cron (minute, hour, day of month, month, day of week with
Sunday=0 or 7; names `jan`..`dec` and `sun`..`sat`; `*`, values, ranges, lists, steps and lists
mixing them) with the two rules of the seed (SPEC "Schedule") that differ from classic cron:

1. When both day of month and day of week are restricted (written as anything but a plain `*`),
   the one that runs more often is followed and the other is ignored: `0 0 1 * 1` runs every
   Monday. "More often" means more matching days over a whole 400-year Gregorian cycle (after
   which weekdays and leap years repeat exactly), counting only the chosen months. On an exact
   tie the day of week is followed, as in the seed's own example.
2. In the day of month, the step of `*/n` counts multiples of n: `*/5` is 5, 10, …, 30 (the
   seed's "every 5 days starting on the 5th"), as if the star ran from 0. A range with a step
   (`1-20/5`) says where it starts and keeps the classic meaning (1, 6, 11, 16). Steps in the
   other fields are classic: minute `*/15` is 0, 15, 30, 45; month `*/2` is 1, 3, …, 11.

Time zones and daylight saving: slots are wall-clock times in the schedule's time zone, and
one policy decides when each runs, both for the times we show (next_runs) and for the slot a
beat firing fills (latest_run), because beat fires at exactly those times (activations/beat.py):
- every wall-clock slot runs exactly once;
- a slot in a repeated hour (clocks go back) runs at its first occurrence only;
- a slot in a gap (clocks go forward) runs once, moved forward by the gap's length: with a
  one-hour gap at 02:00, 02:00 and 02:30 run at 03:00 and 03:30; with Lord Howe's 30-minute gap,
  02:29 runs at 02:59 and the real 02:30 to 02:35 still run. No real wall time is lost. A moved
  slot that lands on the time of another slot runs together with it, as one run.
"""

from __future__ import annotations

import bisect
import calendar
import functools
import heapq
import itertools
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from common.validation import ErrorCollector, InvalidInput

HOURLY = "0 * * * *"
DAILY = "0 0 * * *"
# Expressions behind the schedule types; "none" has none and "cron" is the user's own.
TYPE_EXPRESSIONS = {"hourly": HOURLY, "daily": DAILY}
SCHEDULE_TYPES = ("none", "hourly", "daily", "cron")

MONTH_NAMES = {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name}
DAY_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
DAY_LABELS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
MONTH_LABELS = list(calendar.month_name)  # index 1..12

# The longest wait between two runs of a valid expression is 8 years (Feb 29 across a century
# that is not a leap year, 2096 -> 2104); searching a little longer than that always finishes.
SEARCH_DAYS = 366 * 9
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


FIELDS = (
    Field("minute", 0, 59),
    Field("hour", 0, 23),
    Field("day_of_month", 1, 31),
    Field("month", 1, 12, MONTH_NAMES),
    # 7 is accepted as Sunday and folded to 0.
    Field("day_of_week", 0, 7, DAY_NAMES),
)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed expression as explicit sets of matching values.

    `day_rule` says which day field decides whether a date runs: "every_day" (neither day field
    restricted), "day_of_month" or "day_of_week" (the one followed under rule 1).
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 = Sunday .. 6 = Saturday
    day_of_month_restricted: bool
    day_of_week_restricted: bool
    day_rule: str

    @functools.cached_property
    def _sorted_hours(self) -> tuple[int, ...]:
        return tuple(sorted(self.hours))

    @functools.cached_property
    def _sorted_minutes(self) -> tuple[int, ...]:
        return tuple(sorted(self.minutes))

    def first_time_from(self, hour: int, minute: int) -> tuple[int, int] | None:
        """The first (hour, minute) of a running day at or after hour:minute, or None."""
        hours, minutes = self._sorted_hours, self._sorted_minutes
        index = bisect.bisect_left(hours, hour)
        if index < len(hours) and hours[index] == hour:
            minute_index = bisect.bisect_left(minutes, minute)
            if minute_index < len(minutes):
                return hour, minutes[minute_index]
            index += 1
        return (hours[index], minutes[0]) if index < len(hours) else None

    def last_time_until(self, hour: int, minute: int) -> tuple[int, int] | None:
        """The last (hour, minute) of a running day at or before hour:minute, or None."""
        hours, minutes = self._sorted_hours, self._sorted_minutes
        index = bisect.bisect_right(hours, hour) - 1
        if index >= 0 and hours[index] == hour:
            minute_index = bisect.bisect_right(minutes, minute) - 1
            if minute_index >= 0:
                return hour, minutes[minute_index]
            index -= 1
        return (hours[index], minutes[-1]) if index >= 0 else None

    def matches_date(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        if self.day_rule == "day_of_month":
            return day.day in self.days_of_month
        if self.day_rule == "day_of_week":
            return day.isoweekday() % 7 in self.days_of_week
        return True


def parse(expression: str) -> CronSchedule:
    """Parse a five-field cron expression of our dialect.

    Raises InvalidInput with paths named after the fields ("minute", "hour", "day_of_month",
    "month", "day_of_week"), or the empty path for the shape of the whole expression; callers
    prefix them ("schedule.cron").
    """
    parts = expression.split()
    if len(parts) != len(FIELDS):
        raise InvalidInput({"": [f"expected 5 fields separated by spaces, got {len(parts)}"]})
    errors = ErrorCollector()
    values: dict[str, frozenset[int]] = {}
    for field, text in zip(FIELDS, parts, strict=True):
        try:
            values[field.name] = frozenset(_parse_field(field, text))
        except ValueError as exc:
            errors.add(field.name, str(exc))
    errors.raise_if_any()

    day_of_month_restricted = parts[2] != "*"
    day_of_week_restricted = parts[4] != "*"
    months = values["month"]
    days_of_month = values["day_of_month"]
    days_of_week = values["day_of_week"]
    if day_of_month_restricted and day_of_week_restricted:
        by_month, by_week = _days_in_cycle(months, days_of_month, days_of_week)
        day_rule = "day_of_month" if by_month > by_week else "day_of_week"
    elif day_of_month_restricted:
        day_rule = "day_of_month"
    elif day_of_week_restricted:
        day_rule = "day_of_week"
    else:
        day_rule = "every_day"
    if day_rule == "day_of_month" and _days_in_cycle(months, days_of_month, frozenset())[0] == 0:
        raise InvalidInput({"day_of_month": ["matches no day of the chosen months"]})
    return CronSchedule(
        minutes=values["minute"],
        hours=values["hour"],
        days_of_month=days_of_month,
        months=months,
        days_of_week=days_of_week,
        day_of_month_restricted=day_of_month_restricted,
        day_of_week_restricted=day_of_week_restricted,
        day_rule=day_rule,
    )


def _parse_field(field: Field, text: str) -> set[int]:
    items = text.split(",")
    result: set[int] = set()
    for item in items:
        if item == "":
            raise ValueError(f"empty item in list '{text}'")
        if item == "*" and len(items) > 1:
            raise ValueError("'*' cannot be part of a list")
        result |= _parse_item(field, item)
    if field.name == "day_of_week" and 7 in result:
        result = (result - {7}) | {0}
    return result


def _parse_item(field: Field, item: str) -> set[int]:
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not _is_number(step_text):
            raise ValueError(f"step in '{item}' must be a whole number{_digits_hint(step_text)}")
        step = int(step_text)
        if step < 1:
            raise ValueError(f"step in '{item}' must be at least 1")
        if step > field.high:
            # The same rule in every field: a step past the field's largest value is a typo.
            raise ValueError(f"step in '{item}' must be at most {field.high}")
    if base == "*":
        if field.name == "day_of_month":
            # Rule 2: multiples of the step, as if the star ran from 0.
            return set(range(step, field.high + 1, step))
        high = 6 if field.name == "day_of_week" else field.high
        return set(range(field.low, high + 1, step))
    if "-" in base:
        first_text, _, last_text = base.partition("-")
        first, last = _parse_value(field, first_text), _parse_value(field, last_text)
        if first > last:
            raise ValueError(f"range '{base}' goes backwards; write it from low to high")
        return set(range(first, last + 1, step))
    if slash:
        raise ValueError(
            f"a step needs '*' or a range before '/' (like */5 or 0-30/5), got '{item}'"
        )
    return {_parse_value(field, base)}


def _digits_hint(text: str) -> str:
    return "" if text.isascii() else " (use the digits 0-9)"


def _is_number(text: str) -> bool:
    # str.isdigit() also accepts "²" and other scripts' digits, which cron does not.
    return text.isascii() and text.isdigit()


def _parse_value(field: Field, text: str) -> int:
    if _is_number(text):
        number = int(text)
        if not field.low <= number <= field.high:
            raise ValueError(f"{number} is out of range {field.low}-{field.high}")
        return number
    if field.names and text.isalpha():
        number = field.names.get(text.lower())
        if number is None:
            raise ValueError(f"unknown name '{text}' (expected one of {', '.join(field.names)})")
        return number
    if text == "":
        raise ValueError("a range needs a value on both sides of '-'")
    raise ValueError(f"'{text}' is not a number{_digits_hint(text)}")


@functools.lru_cache(maxsize=512)
def _days_in_cycle(
    months: frozenset[int], days_of_month: frozenset[int], days_of_week: frozenset[int]
) -> tuple[int, int]:
    """Days matched by the day of month and by the day of week over a 400-year cycle."""
    by_month = by_week = 0
    sorted_days = sorted(days_of_month)
    for year in range(2000, 2400):
        for month in months:
            first_weekday, length = calendar.monthrange(year, month)  # Monday = 0
            by_month += sum(1 for day in sorted_days if day <= length)
            first_cron_weekday = (first_weekday + 1) % 7  # Sunday = 0
            for weekday in days_of_week:
                # Four of each weekday, plus one for the weekdays of the days past the 28th.
                by_week += 4 + ((weekday - first_cron_weekday) % 7 < length - 28)
    return by_month, by_week


def expression_for(schedule_type: str, cron: str) -> str | None:
    """The cron expression a schedule type runs on, or None for no schedule."""
    if schedule_type == "cron":
        return cron
    return TYPE_EXPRESSIONS.get(schedule_type)


def validate_timezone(tz_name: str) -> None:
    """Raise InvalidInput (empty path; callers prefix "schedule.timezone") for an unknown zone."""
    if tz_name not in _available_timezones():
        raise InvalidInput({"": [f"unknown time zone '{tz_name}' (use a name like Europe/Berlin)"]})


@functools.cache
def _available_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate(schedule_type: str, cron: str, tz_name: str) -> None:
    """Validate a whole schedule; paths are relative to it: "type", "cron", "cron.minute",
    "timezone" (callers prefix "schedule")."""
    errors: dict[str, list[str]] = {}
    if schedule_type not in SCHEDULE_TYPES:
        errors["type"] = [f"must be one of {', '.join(SCHEDULE_TYPES)}"]
    elif schedule_type == "cron":
        if not cron.strip():
            errors["cron"] = ["is required for a custom cron schedule"]
        else:
            try:
                parse(cron)
            except InvalidInput as exc:
                errors.update(exc.prefixed("cron"))
    try:
        validate_timezone(tz_name)
    except InvalidInput as exc:
        errors.update(exc.prefixed("timezone"))
    if errors:
        raise InvalidInput(errors)


def next_runs(
    schedule_type: str,
    cron: str,
    tz_name: str,
    *,
    count: int = 5,
    after: datetime | None = None,
) -> list[datetime]:
    """The next `count` run times after `after` (default now), as aware datetimes in tz_name.

    A run at or before `after` is not included (beat, having run at `after`, would not run it
    again). No schedule gives []. The delay of execution is not included.
    Raises InvalidInput for an invalid expression or time zone.
    """
    expression = expression_for(schedule_type, cron)
    if expression is None:
        return []
    validate_timezone(tz_name)
    schedule = parse(expression)
    runs = iter_runs(schedule, zoneinfo.ZoneInfo(tz_name), after or datetime.now(UTC))
    return list(itertools.islice(runs, max(count, 0)))


def run_time(slot: datetime, tz: tzinfo) -> datetime:
    """The real time a wall-clock slot (naive) runs at, under the daylight-saving policy:
    a slot in a repeated hour runs at its first occurrence, a slot in a gap runs later by the
    gap's length (02:30 in a one-hour gap runs at 03:30)."""
    # PEP 495: fold=0 picks the first occurrence of a repeated time and, for a time in a gap,
    # the offset from before the change, so the round trip through UTC moves it forward by the
    # gap's length.
    return slot.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz)


def iter_runs(schedule: CronSchedule, tz: tzinfo, after: datetime) -> Iterator[datetime]:
    """Run times of a parsed schedule strictly after `after`, in `tz`, in time order, for as
    long as asked.

    Wall-clock slots are taken in order and each is given its run_time(). Only slots moved out
    of a gap come out of order (02:30 moved to 03:30 runs after the real 03:00), so they wait
    until the walk reaches their time. Two slots that run at the same moment (a moved slot
    landing on a real one) are one run.
    """
    after_utc = after.astimezone(UTC)
    shift = _nearby_shift(tz, after_utc)
    # Slots up to `shift` before `after` may have been moved past it by a gap.
    wall = after_utc.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) - shift
    moved: list[tuple[datetime, datetime]] = []  # a heap of (UTC time, run time)
    last: datetime | None = None
    while True:
        slot = _next_wall_slot(schedule, wall)
        wall = slot + MINUTE
        run = run_time(slot, tz)
        run_utc = run.astimezone(UTC)
        if run.replace(tzinfo=None) != slot:
            heapq.heappush(moved, (run_utc, run))
            continue
        ready = []
        while moved and moved[0][0] <= run_utc:
            ready.append(heapq.heappop(moved))
        for moment_utc, moment in [*ready, (run_utc, run)]:
            if moment_utc > after_utc and moment_utc != last:
                last = moment_utc
                yield moment


def latest_run(schedule_type: str, cron: str, tz_name: str, *, at: datetime) -> datetime | None:
    """The latest run time at or before `at`, in tz_name, found without walking through the
    slots in between (a schedule that last ran months ago costs no more than an hourly one).

    `at` is beat's time when it fired: the slot of a firing is latest_run(at=that time). None
    for no schedule or no run in the last 9 years.
    """
    expression = expression_for(schedule_type, cron)
    if expression is None:
        return None
    return latest_run_of(parse(expression), zoneinfo.ZoneInfo(tz_name), at)


def latest_run_of(schedule: CronSchedule, tz: tzinfo, at: datetime) -> datetime | None:
    """latest_run() for a parsed schedule."""
    at_utc = at.astimezone(UTC)
    shift = _nearby_shift(tz, at_utc)
    # A slot up to `shift` after `at`'s wall time may run before `at` (the first pass of a
    # repeated hour); walk back from there, and stop once no earlier slot can run later
    # than the best found (a slot runs at most `shift` after its wall time).
    wall = at_utc.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) + shift
    best: datetime | None = None
    while True:
        slot = _previous_wall_slot(schedule, wall)
        if slot is None:
            return best
        if best is not None and slot + shift < best.replace(tzinfo=None):
            return best
        wall = slot - MINUTE
        run = run_time(slot, tz)
        if run.astimezone(UTC) <= at_utc and (best is None or run.astimezone(UTC) > best):
            best = run


def _nearby_shift(tz: tzinfo, moment: datetime) -> timedelta:
    """How far the zone's offset moves within a day and a bit on either side of `moment`
    (zero almost always): the distance a gap can move a slot, or a repeated hour reorder it."""
    offsets = [
        (moment + timedelta(hours=hours)).astimezone(tz).utcoffset() for hours in (-26, 0, 26)
    ]
    return abs(offsets[1] - offsets[0]) + abs(offsets[2] - offsets[1])


def _next_wall_slot(schedule: CronSchedule, wall: datetime) -> datetime:
    """The first matching wall-clock minute at or after `wall` (naive)."""
    day = wall.date()
    earliest = (wall.hour, wall.minute)
    for _ in range(SEARCH_DAYS):
        if day.month not in schedule.months:
            # Jump to the first day of the next month.
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
            earliest = (0, 0)
            continue
        if schedule.matches_date(day):
            time_of_day = schedule.first_time_from(*earliest)
            if time_of_day is not None:
                return datetime.combine(day, time(*time_of_day))
        day += timedelta(days=1)
        earliest = (0, 0)
    raise RuntimeError(f"no run within {SEARCH_DAYS} days of {wall}")  # parse() prevents it


def _previous_wall_slot(schedule: CronSchedule, wall: datetime) -> datetime | None:
    """The last matching wall-clock minute at or before `wall` (naive), None in 9 years."""
    day = wall.date()
    latest = (wall.hour, wall.minute)
    for _ in range(SEARCH_DAYS):
        if day.year == 1 and day.month == 1 and day.day == 1:
            return None
        if day.month not in schedule.months:
            # Jump to the last day of the previous month.
            day = day.replace(day=1) - timedelta(days=1)
            latest = (23, 59)
            continue
        if schedule.matches_date(day):
            time_of_day = schedule.last_time_until(*latest)
            if time_of_day is not None:
                return datetime.combine(day, time(*time_of_day))
        day -= timedelta(days=1)
        latest = (23, 59)
    return None


def shortest_interval(schedule: CronSchedule) -> timedelta:
    """The shortest wall-clock time between two consecutive slots (a gap in daylight saving
    can bring two runs closer; that rare hour is not counted)."""
    times = sorted(hour * 60 + minute for hour in schedule.hours for minute in schedule.minutes)
    shortest = min((b - a for a, b in itertools.pairwise(times)), default=None)
    # From the last slot of a day to the first of the next day that runs.
    day_gap = _shortest_day_gap(schedule)
    overnight = day_gap * 1440 - (times[-1] - times[0])
    return timedelta(minutes=overnight if shortest is None else min(shortest, overnight))


def format_in_zone(moment: datetime, tz_name: str, *, seconds: bool = True) -> str:
    """`moment` as the schedule's zone reads it, with its UTC offset:
    "2025-03-10 18:00:05 JST (UTC+09:00)"."""
    local = moment.astimezone(zoneinfo.ZoneInfo(tz_name))
    offset = local.strftime("%z")  # +0900
    clock = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{clock} {local.tzname()} (UTC{offset[:3]}:{offset[3:]})"


def describe_interval(interval: timedelta) -> str:
    """A duration in the largest whole unit: "1 minute", "90 minutes", "7 days"."""
    minutes = int(interval.total_seconds() // 60)
    size, unit = next(
        (size, unit)
        for size, unit in ((1440, "day"), (60, "hour"), (1, "minute"))
        if minutes % size == 0
    )
    count = minutes // size
    return f"{count} {unit}{'s' if count != 1 else ''}"


def _shortest_day_gap(schedule: CronSchedule) -> int:
    """The fewest days between two consecutive days that run. Every chosen month has at
    least 28 days, so it holds every gap of a week: only a day-of-month rule needs a walk,
    over 8 years (month lengths repeat with the leap years; February 29th shows twice)."""
    if schedule.day_rule == "every_day":
        return 1
    if schedule.day_rule == "day_of_week":
        days = sorted(schedule.days_of_week)
        return min((b - a) % 7 or 7 for a, b in zip(days, [*days[1:], days[0]], strict=True))
    days = sorted(schedule.days_of_month)
    # A lower bound: within a month, the closest two days; across the end of a month (28
    # days at least), from the last day to the first.
    floor = max(1, min([b - a for a, b in itertools.pairwise(days)] + [28 - days[-1] + days[0]]))
    previous: date | None = None
    shortest = None
    day = date(2000, 1, 1)
    while day < date(2008, 1, 1):
        day = _next_wall_slot(schedule, datetime.combine(day, time())).date()
        if previous is not None:
            gap = (day - previous).days
            shortest = gap if shortest is None else min(shortest, gap)
            if shortest <= floor:
                break
        previous = day
        day += timedelta(days=1)
    return shortest or 1


def to_crontab_fields(schedule: CronSchedule) -> dict[str, str]:
    """The fields of a django-celery-beat CrontabSchedule that fires exactly this schedule.

    Every field is an explicit comma list, or "*" when it matches everything, and the ignored
    day field is "*": celery ANDs day of month with day of week and counts `*/n` from 1, so
    handing it our text would change the meaning.
    """
    full_days = frozenset(range(1, 32))
    return {
        "minute": _crontab_list(schedule.minutes, frozenset(range(60))),
        "hour": _crontab_list(schedule.hours, frozenset(range(24))),
        "day_of_month": (
            _crontab_list(schedule.days_of_month, full_days)
            if schedule.day_rule == "day_of_month"
            else "*"
        ),
        "month_of_year": _crontab_list(schedule.months, frozenset(range(1, 13))),
        "day_of_week": (
            _crontab_list(schedule.days_of_week, frozenset(range(7)))
            if schedule.day_rule == "day_of_week"
            else "*"
        ),
    }


def _crontab_list(values: frozenset[int], full: frozenset[int]) -> str:
    return "*" if values == full else ",".join(str(value) for value in sorted(values))


# Descriptions ---------------------------------------------------------------------------------


def describe(schedule_type: str, cron: str) -> str:
    """A one-sentence English description of what the schedule runs, such as
    "At 00:00 on days 5, 10, 15, 20, 25 and 30 of the month". Raises InvalidInput."""
    expression = expression_for(schedule_type, cron)
    if expression is None:
        return "Not scheduled"
    schedule = parse(expression)
    sentence, at_times_of_day = _describe_times(schedule)
    days = _describe_days(schedule)
    if days:
        sentence += f" on {days}"
    elif at_times_of_day:
        sentence += " every day"
    if schedule.months != frozenset(range(1, 13)):
        sentence += f", in {_join(schedule.months, MONTH_LABELS)}"
    if schedule.day_of_month_restricted and schedule.day_of_week_restricted:
        ignored, followed = ("month", "week")
        if schedule.day_rule == "day_of_month":
            ignored, followed = followed, ignored
        by_month, by_week = _days_in_cycle(
            schedule.months, schedule.days_of_month, schedule.days_of_week
        )
        if by_month == by_week:
            reason = "both run as often, and a tie goes to the day of week"
        else:
            reason = f"the day of {followed} runs more often"
        sentence += f" (the day of {ignored} is ignored: {reason})"
    return sentence


def _describe_days(schedule: CronSchedule) -> str:
    """The days phrase ("days 5 and 10 of the month", "Monday to Friday"), "" for every day."""
    if schedule.day_rule == "day_of_month" and len(schedule.days_of_month) < 31:
        days = schedule.days_of_month
        return f"day{'s' if len(days) > 1 else ''} {_join(days)} of the month"
    if schedule.day_rule == "day_of_week" and len(schedule.days_of_week) < 7:
        return _join(schedule.days_of_week, DAY_LABELS, wrap=7)
    return ""


def _describe_times(schedule: CronSchedule) -> tuple[str, bool]:
    """The times phrase, and whether it names times of day (which then need "every day")."""
    minutes, hours = schedule.minutes, schedule.hours
    all_minutes, all_hours = len(minutes) == 60, len(hours) == 24
    minute_noun = "minutes" if len(minutes) > 1 else "minute"
    if all_minutes and all_hours:
        return "Every minute", False
    if all_minutes:
        return f"Every minute during hour{'s' if len(hours) > 1 else ''} {_join(hours)}", False
    if all_hours:
        step = _step_from_zero(minutes, 60)
        if step:
            return f"Every {step} minutes", False
        if len(minutes) == 1:
            return f"Every hour at :{min(minutes):02d}", False
        return f"At minutes {_join(minutes)} of every hour", False
    if len(minutes) * len(hours) <= 6:
        times = sorted(f"{hour:02d}:{minute:02d}" for hour in hours for minute in minutes)
        return f"At {_join_words(times)}", True
    step = _step_from_zero(hours, 24)
    if step:
        return f"At {minute_noun} {_join(minutes)} past every {_ordinal(step)} hour", False
    return f"At {minute_noun} {_join(minutes)} past hours {_join(hours)}", False


def _step_from_zero(values: frozenset[int], size: int) -> int | None:
    """n when the values are exactly 0, n, 2n, … below size (n >= 2), else None."""
    ordered = sorted(values)
    if len(ordered) < 3 or ordered[0] != 0:
        return None
    step = ordered[1]
    return step if ordered == list(range(0, size, step)) else None


def _ordinal(number: int) -> str:
    suffix = "th"
    if not 10 <= number % 100 <= 20:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _join(values: frozenset[int], labels: list[str] | None = None, wrap: int = 0) -> str:
    """Values as words, runs of three or more as "a to b": "1 to 10 and 15"."""
    ordered = sorted(values)
    if wrap and 0 in values and wrap - 1 in values:
        # Weekdays: Sunday follows Saturday ("Saturday and Sunday", "Friday to Sunday").
        ordered = sorted((values - {0}) | {wrap})
    runs: list[list[int]] = []
    for value in ordered:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])

    def label(value: int) -> str:
        if labels is None:
            return str(value)
        return labels[value % wrap] if wrap else labels[value]

    words: list[str] = []
    for run in runs:
        if len(run) >= 3:
            words.append(f"{label(run[0])} to {label(run[-1])}")
        else:
            words.extend(label(value) for value in run)
    return _join_words(words)


def _join_words(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} and {words[-1]}"
