"""Our cron dialect: parsing, errors, next run times (also across DST), descriptions, crontab rows."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from common import schedules
from common.validation import InvalidInput

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def iso(runs):
    return [run.isoformat() for run in runs]


# Every example of the seed, with the run times written out. Asia/Tokyo has no DST, so these
# are about the calendar; `after` is a Tuesday, 2024-02-27 13:45:10, unless a case says else.
AFTER = datetime(2024, 2, 27, 13, 45, 10, tzinfo=TOKYO)
SEED_EXAMPLES = [
    pytest.param(
        "0 * * * *",
        AFTER,
        5,
        [
            "2024-02-27T14:00:00+09:00",
            "2024-02-27T15:00:00+09:00",
            "2024-02-27T16:00:00+09:00",
            "2024-02-27T17:00:00+09:00",
            "2024-02-27T18:00:00+09:00",
        ],
        id="once an hour",
    ),
    pytest.param(
        "0 0 * * *",
        AFTER,
        4,
        [
            "2024-02-28T00:00:00+09:00",
            "2024-02-29T00:00:00+09:00",
            "2024-03-01T00:00:00+09:00",
            "2024-03-02T00:00:00+09:00",
        ],
        id="once a day at midnight",
    ),
    pytest.param(
        "0 0 1 * *",
        AFTER,
        4,
        [
            "2024-03-01T00:00:00+09:00",
            "2024-04-01T00:00:00+09:00",
            "2024-05-01T00:00:00+09:00",
            "2024-06-01T00:00:00+09:00",
        ],
        id="once a month on the first",
    ),
    pytest.param(
        "* * * * *",
        AFTER,
        3,
        ["2024-02-27T13:46:00+09:00", "2024-02-27T13:47:00+09:00", "2024-02-27T13:48:00+09:00"],
        id="every minute",
    ),
    pytest.param(
        "0 0 1-10 * *",
        datetime(2024, 3, 8, 12, 0, tzinfo=TOKYO),
        4,
        [
            "2024-03-09T00:00:00+09:00",
            "2024-03-10T00:00:00+09:00",
            "2024-04-01T00:00:00+09:00",
            "2024-04-02T00:00:00+09:00",
        ],
        id="range: the first 10 days",
    ),
    pytest.param(
        "0 0 1,11,21 * *",
        AFTER,
        5,
        [
            "2024-03-01T00:00:00+09:00",
            "2024-03-11T00:00:00+09:00",
            "2024-03-21T00:00:00+09:00",
            "2024-04-01T00:00:00+09:00",
            "2024-04-11T00:00:00+09:00",
        ],
        id="list: 1st, 11th and 21st",
    ),
    pytest.param(
        "30 */2 1 * *",
        AFTER,
        13,
        [
            "2024-03-01T00:30:00+09:00",
            "2024-03-01T02:30:00+09:00",
            "2024-03-01T04:30:00+09:00",
            "2024-03-01T06:30:00+09:00",
            "2024-03-01T08:30:00+09:00",
            "2024-03-01T10:30:00+09:00",
            "2024-03-01T12:30:00+09:00",
            "2024-03-01T14:30:00+09:00",
            "2024-03-01T16:30:00+09:00",
            "2024-03-01T18:30:00+09:00",
            "2024-03-01T20:30:00+09:00",
            "2024-03-01T22:30:00+09:00",
            "2024-04-01T00:30:00+09:00",
        ],
        id="step: on the 1st every two hours from 00:30",
    ),
    pytest.param(
        "0 0 */5 * *",
        datetime(2024, 1, 27, 9, 0, tzinfo=TOKYO),
        7,
        [
            "2024-01-30T00:00:00+09:00",
            "2024-02-05T00:00:00+09:00",
            "2024-02-10T00:00:00+09:00",
            "2024-02-15T00:00:00+09:00",
            "2024-02-20T00:00:00+09:00",
            "2024-02-25T00:00:00+09:00",
            "2024-03-05T00:00:00+09:00",
        ],
        id="day step: multiples of 5, never the 1st",
    ),
    pytest.param(
        "0 0 5,*/10,25 * *",
        datetime(2024, 1, 27, 9, 0, tzinfo=TOKYO),
        10,
        [
            "2024-01-30T00:00:00+09:00",
            "2024-02-05T00:00:00+09:00",
            "2024-02-10T00:00:00+09:00",
            "2024-02-20T00:00:00+09:00",
            "2024-02-25T00:00:00+09:00",
            "2024-03-05T00:00:00+09:00",
            "2024-03-10T00:00:00+09:00",
            "2024-03-20T00:00:00+09:00",
            "2024-03-25T00:00:00+09:00",
            "2024-03-30T00:00:00+09:00",
        ],
        id="mixed list: 5th, 10th, 20th, 25th and 30th",
    ),
    pytest.param(
        "0 0 1 * 1",
        AFTER,
        5,
        [
            # Friday 1 March is not a run: the day of month is ignored.
            "2024-03-04T00:00:00+09:00",
            "2024-03-11T00:00:00+09:00",
            "2024-03-18T00:00:00+09:00",
            "2024-03-25T00:00:00+09:00",
            "2024-04-01T00:00:00+09:00",
        ],
        id="conflict: every Monday wins over the 1st",
    ),
    pytest.param(
        "2,*/5,8-10 * * * *",
        datetime(2024, 2, 27, 13, 0, 10, tzinfo=TOKYO),
        8,
        [
            "2024-02-27T13:02:00+09:00",
            "2024-02-27T13:05:00+09:00",
            "2024-02-27T13:08:00+09:00",
            "2024-02-27T13:09:00+09:00",
            "2024-02-27T13:10:00+09:00",
            "2024-02-27T13:15:00+09:00",
            "2024-02-27T13:20:00+09:00",
            "2024-02-27T13:25:00+09:00",
        ],
        id="mixed list in the minute field",
    ),
    pytest.param(
        "0 9 * * mon-fri",
        datetime(2024, 3, 1, 10, 0, tzinfo=TOKYO),
        3,
        ["2024-03-04T09:00:00+09:00", "2024-03-05T09:00:00+09:00", "2024-03-06T09:00:00+09:00"],
        id="day names: weekdays",
    ),
    pytest.param(
        "0 12 * JAN,jul SUN",
        datetime(2024, 1, 20, 0, 0, tzinfo=TOKYO),
        4,
        [
            "2024-01-21T12:00:00+09:00",
            "2024-01-28T12:00:00+09:00",
            "2024-07-07T12:00:00+09:00",
            "2024-07-14T12:00:00+09:00",
        ],
        id="month and day names, any case",
    ),
    pytest.param(
        "0 6 * * 7",
        AFTER,
        2,
        ["2024-03-03T06:00:00+09:00", "2024-03-10T06:00:00+09:00"],
        id="7 is Sunday",
    ),
    pytest.param(
        "0 0 29 2 *",
        datetime(2097, 1, 1, tzinfo=TOKYO),
        2,
        ["2104-02-29T00:00:00+09:00", "2108-02-29T00:00:00+09:00"],
        id="29 February skips 2100, not a leap year",
    ),
]


@pytest.mark.parametrize(("expression", "after", "count", "expected"), SEED_EXAMPLES)
def test_next_runs_of_cron_examples(expression, after, count, expected):
    runs = schedules.next_runs("cron", expression, "Asia/Tokyo", count=count, after=after)
    assert iso(runs) == expected
    assert all(run.tzinfo == TOKYO for run in runs)


def test_next_runs_of_hourly_are_every_hour_at_minute_zero():
    runs = schedules.next_runs("hourly", "", "Asia/Tokyo", count=3, after=AFTER)
    assert iso(runs) == [
        "2024-02-27T14:00:00+09:00",
        "2024-02-27T15:00:00+09:00",
        "2024-02-27T16:00:00+09:00",
    ]


def test_next_runs_of_daily_are_midnight_in_the_time_zone():
    runs = schedules.next_runs("daily", "", "Asia/Tokyo", count=2, after=AFTER)
    assert iso(runs) == ["2024-02-28T00:00:00+09:00", "2024-02-29T00:00:00+09:00"]


def test_next_runs_ignore_the_cron_text_of_hourly_and_daily():
    runs = schedules.next_runs("daily", "not cron at all", "UTC", count=1, after=AFTER)
    assert iso(runs) == ["2024-02-28T00:00:00+00:00"]


def test_no_schedule_has_no_runs():
    # The seed's "" example: a job with no scheduled run time.
    assert schedules.next_runs("none", "", "UTC", after=AFTER) == []
    assert schedules.next_runs("none", "0 * * * *", "UTC", after=AFTER) == []


def test_next_runs_default_to_five_from_now():
    before = datetime.now(UTC)
    runs = schedules.next_runs("cron", "* * * * *", "Europe/Berlin")
    assert len(runs) == 5
    assert before < runs[0] <= before + timedelta(minutes=1)
    assert runs[0].second == runs[0].microsecond == 0
    gaps = [later - earlier for earlier, later in zip(runs, runs[1:], strict=False)]
    assert gaps == [timedelta(minutes=1)] * 4


def test_a_run_in_the_same_minute_as_after_is_not_repeated():
    after = datetime(2024, 2, 27, 14, 0, 0, tzinfo=TOKYO)
    runs = schedules.next_runs("hourly", "", "Asia/Tokyo", count=1, after=after)
    assert iso(runs) == ["2024-02-27T15:00:00+09:00"]


def test_next_runs_are_in_the_schedule_zone_whatever_the_zone_of_after():
    after = datetime(2024, 2, 27, 0, 30, tzinfo=UTC)  # 09:30 in Tokyo
    runs = schedules.next_runs("cron", "0 10 * * *", "Asia/Tokyo", count=1, after=after)
    assert iso(runs) == ["2024-02-27T10:00:00+09:00"]


def test_count_zero_gives_no_runs():
    assert schedules.next_runs("hourly", "", "UTC", count=0, after=AFTER) == []


# Daylight saving time. America/New_York: 2024-03-10 02:00 EST -> 03:00 EDT and
# 2024-11-03 02:00 EDT -> 01:00 EST. Europe/Berlin: 2024-03-31 02:00 -> 03:00 and
# 2024-10-27 03:00 -> 02:00.
DST_CASES = [
    pytest.param(
        "hourly",
        "",
        "America/New_York",
        datetime(2024, 3, 10, 0, 30, tzinfo=NEW_YORK),
        5,
        [
            "2024-03-10T01:00:00-05:00",
            # 02:00 does not exist: moved to 03:00, which is a slot anyway: one run.
            "2024-03-10T03:00:00-04:00",
            "2024-03-10T04:00:00-04:00",
            "2024-03-10T05:00:00-04:00",
            "2024-03-10T06:00:00-04:00",
        ],
        id="new york spring: hourly has one run less",
    ),
    pytest.param(
        "cron",
        "30 2 * * *",
        "America/New_York",
        datetime(2024, 3, 9, 12, 0, tzinfo=NEW_YORK),
        3,
        ["2024-03-10T03:30:00-04:00", "2024-03-11T02:30:00-04:00", "2024-03-12T02:30:00-04:00"],
        id="new york spring: a time in the gap moves forward an hour",
    ),
    pytest.param(
        "cron",
        "30 1 * * *",
        "America/New_York",
        datetime(2024, 11, 2, 12, 0, tzinfo=NEW_YORK),
        3,
        ["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00", "2024-11-05T01:30:00-05:00"],
        id="new york autumn: a repeated time runs once, at its first occurrence",
    ),
    pytest.param(
        "hourly",
        "",
        "America/New_York",
        datetime(2024, 11, 3, 0, 30, tzinfo=NEW_YORK),
        4,
        [
            "2024-11-03T01:00:00-04:00",
            # The repeated 01:00 (EST) is not run again: two real hours to 02:00.
            "2024-11-03T02:00:00-05:00",
            "2024-11-03T03:00:00-05:00",
            "2024-11-03T04:00:00-05:00",
        ],
        id="new york autumn: hourly skips the repeated hour",
    ),
    pytest.param(
        "cron",
        "30 1 * * *",
        "America/New_York",
        datetime(2024, 11, 3, 1, 10, tzinfo=NEW_YORK, fold=1),
        2,
        # 01:30 ran at its first occurrence (EDT), before `after`: it does not run again.
        ["2024-11-04T01:30:00-05:00", "2024-11-05T01:30:00-05:00"],
        id="new york autumn: from inside the repeated hour, 01:30 has already run",
    ),
    pytest.param(
        "cron",
        "0,30 2 * * *",
        "Europe/Berlin",
        datetime(2024, 3, 30, 12, 0, tzinfo=BERLIN),
        3,
        # Each slot in the gap runs once, moved forward by the gap's hour.
        ["2024-03-31T03:00:00+02:00", "2024-03-31T03:30:00+02:00", "2024-04-01T02:00:00+02:00"],
        id="berlin spring: each slot in the gap runs once, an hour later",
    ),
    pytest.param(
        "daily",
        "",
        "Europe/Berlin",
        datetime(2024, 10, 26, 12, 0, tzinfo=BERLIN),
        3,
        ["2024-10-27T00:00:00+02:00", "2024-10-28T00:00:00+01:00", "2024-10-29T00:00:00+01:00"],
        id="berlin autumn: midnight stays midnight",
    ),
    pytest.param(
        "cron",
        "30 2 * * *",
        "Europe/Berlin",
        datetime(2024, 10, 26, 12, 0, tzinfo=BERLIN),
        2,
        ["2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"],
        id="berlin autumn: the repeated 02:30 runs once",
    ),
]


@pytest.mark.parametrize(
    ("schedule_type", "cron", "tz_name", "after", "count", "expected"), DST_CASES
)
def test_next_runs_across_daylight_saving_changes(
    schedule_type, cron, tz_name, after, count, expected
):
    runs = schedules.next_runs(schedule_type, cron, tz_name, count=count, after=after)
    assert iso(runs) == expected


# Parsing -------------------------------------------------------------------------------------


def test_parse_gives_explicit_sets():
    schedule = schedules.parse("0,30 9-17/4 */10 jan-mar mon,wed,7")
    assert schedule.minutes == {0, 30}
    assert schedule.hours == {9, 13, 17}
    assert schedule.days_of_month == {10, 20, 30}
    assert schedule.months == {1, 2, 3}
    assert schedule.days_of_week == {0, 1, 3}
    assert schedule.day_of_month_restricted is True
    assert schedule.day_of_week_restricted is True
    # 3 days a month against 3 weekdays (about 13 days) a month: the day of week wins.
    assert schedule.day_rule == "day_of_week"


@pytest.mark.parametrize(
    ("field_text", "expected"),
    [
        ("*/15", {0, 15, 30, 45}),
        ("*/25", {0, 25, 50}),
        ("10-20/5", {10, 15, 20}),
        ("2,*/20,8-10", {0, 2, 8, 9, 10, 20, 40}),
        ("59", {59}),
        ("*/59", {0, 59}),
    ],
)
def test_minute_steps_are_classic(field_text, expected):
    assert schedules.parse(f"{field_text} * * * *").minutes == expected


def test_hour_step_is_classic():
    assert schedules.parse("0 */2 * * *").hours == set(range(0, 24, 2))
    assert schedules.parse("0 */5 * * *").hours == {0, 5, 10, 15, 20}


def test_month_step_is_classic_and_starts_in_january():
    assert schedules.parse("0 0 1 */2 *").months == {1, 3, 5, 7, 9, 11}


def test_day_of_week_step_counts_from_sunday():
    assert schedules.parse("0 0 * * */2").days_of_week == {0, 2, 4, 6}


@pytest.mark.parametrize(
    ("field_text", "expected"),
    [
        ("*/5", {5, 10, 15, 20, 25, 30}),
        ("*/10", {10, 20, 30}),
        ("*/7", {7, 14, 21, 28}),
        ("*/31", {31}),
        ("*/1", set(range(1, 32))),
        ("5,*/10,25", {5, 10, 20, 25, 30}),
        # A range with a step keeps its classic meaning: it says where to start.
        ("1-20/5", {1, 6, 11, 16}),
    ],
)
def test_day_of_month_star_step_means_multiples(field_text, expected):
    assert schedules.parse(f"0 0 {field_text} * *").days_of_month == expected


def test_day_of_week_seven_and_zero_are_both_sunday():
    assert schedules.parse("0 0 * * 7").days_of_week == {0}
    assert schedules.parse("0 0 * * 5-7").days_of_week == {5, 6, 0}
    assert schedules.parse("0 0 * * 0-7").days_of_week == set(range(7))


def test_names_are_case_insensitive():
    schedule = schedules.parse("0 0 * Nov-DEC Sun-tue")
    assert schedule.months == {11, 12}
    assert schedule.days_of_week == {0, 1, 2}


def test_extra_spaces_between_fields_are_accepted():
    assert schedules.parse("  0   0 *  * 1 ").days_of_week == {1}


# Rule 1: when both day fields are restricted, the one with more days in the cycle wins.
@pytest.mark.parametrize(
    ("expression", "day_rule"),
    [
        ("0 0 1 * 1", "day_of_week"),  # 12 days a year against 52
        ("0 0 1-7 * 5", "day_of_month"),  # 84 against 52
        ("0 0 1-4 * 5", "day_of_week"),  # 48 against 52
        ("0 0 1-5 * 1,3", "day_of_week"),  # 60 against 104
        ("0 0 */1 * 0-6", "day_of_week"),  # every day both ways: a tie goes to day of week
        ("0 0 1-31 * 1", "day_of_month"),  # every day beats Mondays (classic cron agrees)
        ("0 0 * * 1", "day_of_week"),  # only day of week restricted
        ("0 0 15 * *", "day_of_month"),  # only day of month restricted
        ("0 0 * * *", "every_day"),
        ("0 0 30 feb mon", "day_of_week"),  # the 30th never comes in February
        ("0 0 29 feb mon", "day_of_week"),
    ],
)
def test_the_more_frequent_day_field_is_followed(expression, day_rule):
    assert schedules.parse(expression).day_rule == day_rule


def test_a_tie_between_day_fields_goes_to_day_of_week():
    # Both fields written out in full match every day of the cycle: an exact tie.
    months = frozenset(range(1, 13))
    by_month, by_week = schedules._days_in_cycle(
        months, frozenset(range(1, 32)), frozenset(range(7))
    )
    assert by_month == by_week == 146097  # every day of the 400-year cycle
    assert schedules.parse("0 0 1-31 * 0-6").day_rule == "day_of_week"


def test_days_in_cycle_counts_leap_days_and_weekdays():
    february = frozenset({2})
    by_month, by_week = schedules._days_in_cycle(february, frozenset({29}), frozenset({1, 6}))
    assert by_month == 97  # leap years in a 400-year cycle
    # The same count, one date at a time.
    days = [date(year, 2, 1) + timedelta(days=n) for year in range(2000, 2400) for n in range(29)]
    february_days = [day for day in days if day.month == 2]
    assert len(february_days) == 400 * 28 + 97
    assert by_week == sum(1 for day in february_days if day.isoweekday() in (1, 6))


# Errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "errors"),
    [
        ("* * * *", {"": ["expected 5 fields separated by spaces, got 4"]}),
        ("* * * * * *", {"": ["expected 5 fields separated by spaces, got 6"]}),
        ("", {"": ["expected 5 fields separated by spaces, got 0"]}),
        ("61 * * * *", {"minute": ["61 is out of range 0-59"]}),
        ("* 24 * * *", {"hour": ["24 is out of range 0-23"]}),
        ("* * 0 * *", {"day_of_month": ["0 is out of range 1-31"]}),
        ("* * 32 * *", {"day_of_month": ["32 is out of range 1-31"]}),
        ("* * * 13 *", {"month": ["13 is out of range 1-12"]}),
        ("* * * * 8", {"day_of_week": ["8 is out of range 0-7"]}),
        (
            "* * * * sund",
            {
                "day_of_week": [
                    "unknown name 'sund' (expected one of sun, mon, tue, wed, thu, fri, sat)"
                ]
            },
        ),
        (
            "* * * janu *",
            {
                "month": [
                    "unknown name 'janu' (expected one of jan, feb, mar, apr, may, jun, jul, aug,"
                    " sep, oct, nov, dec)"
                ]
            },
        ),
        ("mon * * * *", {"minute": ["'mon' is not a number"]}),
        (
            "* * * mon *",
            {
                "month": [
                    "unknown name 'mon' (expected one of jan, feb, mar, apr, may, jun, jul, aug, sep, oct, nov, dec)"
                ]
            },
        ),
        ("*/0 * * * *", {"minute": ["step in '*/0' must be at least 1"]}),
        ("*/x * * * *", {"minute": ["step in '*/x' must be a whole number"]}),
        ("*/ * * * *", {"minute": ["step in '*/' must be a whole number"]}),
        (
            "5/3 * * * *",
            {"minute": ["a step needs '*' or a range before '/' (like */5 or 0-30/5), got '5/3'"]},
        ),
        ("* 5-2 * * *", {"hour": ["range '5-2' goes backwards; write it from low to high"]}),
        (
            "* * * * fri-mon",
            {"day_of_week": ["range 'fri-mon' goes backwards; write it from low to high"]},
        ),
        ("1,* * * * *", {"minute": ["'*' cannot be part of a list"]}),
        ("1,,2 * * * *", {"minute": ["empty item in list '1,,2'"]}),
        ("1, * * * *", {"minute": ["empty item in list '1,'"]}),
        ("-1 * * * *", {"minute": ["a range needs a value on both sides of '-'"]}),
        ("1-2-3 * * * *", {"minute": ["'2-3' is not a number"]}),
        ("0 0 */40 * *", {"day_of_month": ["step in '*/40' must be at most 31"]}),
        ("0 0 31 feb *", {"day_of_month": ["matches no day of the chosen months"]}),
        ("0 0 30,31 2 *", {"day_of_month": ["matches no day of the chosen months"]}),
        (
            "60 24 * 0 9",
            {
                "minute": ["60 is out of range 0-59"],
                "hour": ["24 is out of range 0-23"],
                "month": ["0 is out of range 1-12"],
                "day_of_week": ["9 is out of range 0-7"],
            },
        ),
    ],
)
def test_parse_rejects_bad_expressions_with_field_errors(expression, errors):
    with pytest.raises(InvalidInput) as caught:
        schedules.parse(expression)
    assert caught.value.errors == errors


def test_parse_errors_are_prefixed_by_the_caller():
    with pytest.raises(InvalidInput) as caught:
        schedules.parse("61 * * *  *  *")
    assert caught.value.prefixed("schedule.cron") == {
        "schedule.cron": ["expected 5 fields separated by spaces, got 6"]
    }
    with pytest.raises(InvalidInput) as caught:
        schedules.parse("61 * * * *")
    assert caught.value.prefixed("schedule.cron") == {
        "schedule.cron.minute": ["61 is out of range 0-59"]
    }
    assert str(caught.value) == "minute: 61 is out of range 0-59"


def test_next_runs_reject_a_bad_expression_and_a_bad_time_zone():
    with pytest.raises(InvalidInput) as caught:
        schedules.next_runs("cron", "0 0 * *", "UTC")
    assert caught.value.errors == {"": ["expected 5 fields separated by spaces, got 4"]}
    with pytest.raises(InvalidInput) as caught:
        schedules.next_runs("cron", "0 0 * * *", "Mars/Olympus_Mons")
    assert caught.value.errors == {
        "": ["unknown time zone 'Mars/Olympus_Mons' (use a name like Europe/Berlin)"]
    }


def test_validate_timezone_accepts_iana_names_only():
    schedules.validate_timezone("Asia/Tokyo")
    schedules.validate_timezone("UTC")
    for bad in ["asia/tokyo", "", "EST5EDT ", "+09:00"]:
        with pytest.raises(InvalidInput):
            schedules.validate_timezone(bad)


def test_validate_names_every_problem_relative_to_the_schedule():
    with pytest.raises(InvalidInput) as caught:
        schedules.validate("cron", "0 0 1 13 *", "Nowhere/Town")
    assert caught.value.prefixed("schedule") == {
        "schedule.cron.month": ["13 is out of range 1-12"],
        "schedule.timezone": ["unknown time zone 'Nowhere/Town' (use a name like Europe/Berlin)"],
    }


def test_validate_requires_a_cron_for_the_cron_type_only():
    with pytest.raises(InvalidInput) as caught:
        schedules.validate("cron", "  ", "UTC")
    assert caught.value.errors == {"cron": ["is required for a custom cron schedule"]}
    schedules.validate("none", "", "UTC")
    schedules.validate("hourly", "", "UTC")
    schedules.validate("daily", "", "Europe/Berlin")
    schedules.validate("cron", "*/5 * * * *", "Asia/Tokyo")


def test_validate_rejects_an_unknown_type():
    with pytest.raises(InvalidInput) as caught:
        schedules.validate("weekly", "", "UTC")
    assert caught.value.errors == {"type": ["must be one of none, hourly, daily, cron"]}


# Descriptions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule_type", "cron", "description"),
    [
        ("none", "", "Not scheduled"),
        ("hourly", "", "Every hour at :00"),
        ("daily", "", "At 00:00 every day"),
        ("cron", "0 * * * *", "Every hour at :00"),
        ("cron", "0 0 * * *", "At 00:00 every day"),
        ("cron", "0 0 1 * *", "At 00:00 on day 1 of the month"),
        ("cron", "* * * * *", "Every minute"),
        ("cron", "0 0 1-10 * *", "At 00:00 on days 1 to 10 of the month"),
        ("cron", "0 0 1,11,21 * *", "At 00:00 on days 1, 11 and 21 of the month"),
        ("cron", "30 */2 1 * *", "At minute 30 past every 2nd hour on day 1 of the month"),
        ("cron", "0 0 */5 * *", "At 00:00 on days 5, 10, 15, 20, 25 and 30 of the month"),
        ("cron", "0 0 5,*/10,25 * *", "At 00:00 on days 5, 10, 20, 25 and 30 of the month"),
        (
            "cron",
            "0 0 1 * 1",
            "At 00:00 on Monday (the day of month is ignored: the day of week runs more often)",
        ),
        (
            "cron",
            "0 0 1-7 * fri",
            "At 00:00 on days 1 to 7 of the month"
            " (the day of week is ignored: the day of month runs more often)",
        ),
        (
            "cron",
            "2,*/5,8-10 * * * *",
            "At minutes 0, 2, 5, 8 to 10, 15, 20, 25, 30, 35, 40, 45, 50 and 55 of every hour",
        ),
        ("cron", "*/15 * * * *", "Every 15 minutes"),
        ("cron", "0,30 * * * *", "At minutes 0 and 30 of every hour"),
        ("cron", "* 9-17 * * *", "Every minute during hours 9 to 17"),
        ("cron", "0 9 * * mon-fri", "At 09:00 on Monday to Friday"),
        ("cron", "0 9 * * sat,sun", "At 09:00 on Saturday and Sunday"),
        ("cron", "0 9 * * 0,3", "At 09:00 on Sunday and Wednesday"),
        ("cron", "0 9,17 * * *", "At 09:00 and 17:00 every day"),
        ("cron", "15 8 * jan,jul *", "At 08:15 every day, in January and July"),
        ("cron", "0 0 1 1-3 *", "At 00:00 on day 1 of the month, in January to March"),
        ("cron", "5 1,3,7,9,13,21,23 * * *", "At minute 5 past hours 1, 3, 7, 9, 13, 21 and 23"),
        ("cron", "0 0 * * 0-6", "At 00:00 every day"),
    ],
)
def test_describe_says_what_runs(schedule_type, cron, description):
    assert schedules.describe(schedule_type, cron) == description


def test_describe_rejects_a_bad_expression():
    with pytest.raises(InvalidInput):
        schedules.describe("cron", "0 0 32 * *")


# Crontab rows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "fields"),
    [
        ("0 * * * *", ("0", "*", "*", "*", "*")),
        ("0 0 * * *", ("0", "0", "*", "*", "*")),
        ("* * * * *", ("*", "*", "*", "*", "*")),
        ("0 0 */5 * *", ("0", "0", "5,10,15,20,25,30", "*", "*")),
        ("0 0 5,*/10,25 * *", ("0", "0", "5,10,20,25,30", "*", "*")),
        # The ignored day field becomes "*": celery would AND them.
        ("0 0 1 * 1", ("0", "0", "*", "*", "1")),
        ("0 0 1-7 * 5", ("0", "0", "1,2,3,4,5,6,7", "*", "*")),
        ("30 */2 1 * *", ("30", "0,2,4,6,8,10,12,14,16,18,20,22", "1", "*", "*")),
        (
            "*/15 9-17 * jan-mar sun,7,sat",
            ("0,15,30,45", "9,10,11,12,13,14,15,16,17", "*", "1,2,3", "0,6"),
        ),
        ("0-59 0-23 1-31 1-12 0-6", ("*", "*", "*", "*", "*")),
    ],
)
def test_crontab_fields_are_explicit_lists(expression, fields):
    result = schedules.to_crontab_fields(schedules.parse(expression))
    assert result == dict(
        zip(["minute", "hour", "day_of_month", "month_of_year", "day_of_week"], fields, strict=True)
    )


# The slot a firing belongs to -------------------------------------------------------------------


def test_latest_run_is_the_slot_at_or_before_the_time():
    at = datetime(2024, 2, 27, 14, 0, 0, 300_000, tzinfo=TOKYO)
    assert schedules.latest_run("hourly", "", "Asia/Tokyo", at=at).isoformat() == (
        "2024-02-27T14:00:00+09:00"
    )
    late = datetime(2024, 2, 27, 14, 40, tzinfo=TOKYO)
    assert schedules.latest_run("hourly", "", "Asia/Tokyo", at=late).isoformat() == (
        "2024-02-27T14:00:00+09:00"
    )


def test_latest_run_is_exact_to_the_second():
    # The time given is beat's, which never fires before a slot: no tolerance is added, so a
    # late firing of an every-minute schedule is not taken for the next minute.
    just_before = datetime(2024, 2, 27, 13, 59, 59, 999_000, tzinfo=TOKYO)
    assert schedules.latest_run("hourly", "", "Asia/Tokyo", at=just_before).isoformat() == (
        "2024-02-27T13:00:00+09:00"
    )
    late = datetime(2024, 2, 27, 14, 0, 58, tzinfo=TOKYO)
    assert schedules.latest_run("cron", "* * * * *", "Asia/Tokyo", at=late).isoformat() == (
        "2024-02-27T14:00:00+09:00"
    )


def test_latest_run_finds_a_moved_slot_in_a_dst_gap():
    at = datetime(2024, 3, 10, 3, 30, 0, 200_000, tzinfo=NEW_YORK)
    slot = schedules.latest_run("cron", "30 2 * * *", "America/New_York", at=at)
    assert slot.isoformat() == "2024-03-10T03:30:00-04:00"


def test_latest_run_reaches_back_years_for_rare_schedules():
    at = datetime(2103, 6, 1, tzinfo=UTC)
    slot = schedules.latest_run("cron", "0 0 29 2 *", "UTC", at=at)
    assert slot.isoformat() == "2096-02-29T00:00:00+00:00"


def test_latest_run_of_no_schedule_is_none():
    assert schedules.latest_run("none", "", "UTC", at=AFTER) is None


def test_latest_run_is_found_without_walking_the_slots_in_between():
    # In December the last run of "every minute of February" is ten months back; the walk
    # minute by minute took seconds. The search is by days and months now.
    at = datetime(2025, 12, 20, 10, 0, tzinfo=UTC)
    slot = schedules.latest_run("cron", "* * * 2 *", "Europe/London", at=at)
    assert slot.isoformat() == "2025-02-28T23:59:00+00:00"
    runs = schedules.next_runs("cron", "* * * 2 *", "Europe/London", count=2, after=at)
    assert iso(runs) == ["2026-02-01T00:00:00+00:00", "2026-02-01T00:01:00+00:00"]


# The daylight-saving policy: every slot once; repeated hour at the first pass; a gap moves
# each of its slots forward by the gap's length, and no real wall time is lost.

LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def test_lord_howe_half_hour_gap_loses_no_wall_time():
    # 2025-10-05 02:00 -> 02:30 (+10:30 -> +11:00). 02:29 is in the gap and runs 30 minutes
    # later; the real 02:30 to 02:35 run at their own times.
    runs = schedules.next_runs(
        "cron",
        "29-35 2 * * *",
        "Australia/Lord_Howe",
        count=8,
        after=datetime(2025, 10, 4, tzinfo=UTC),
    )
    assert iso(runs) == [
        "2025-10-05T02:30:00+11:00",
        "2025-10-05T02:31:00+11:00",
        "2025-10-05T02:32:00+11:00",
        "2025-10-05T02:33:00+11:00",
        "2025-10-05T02:34:00+11:00",
        "2025-10-05T02:35:00+11:00",
        "2025-10-05T02:59:00+11:00",
        "2025-10-06T02:29:00+11:00",
    ]


def test_a_moved_slot_landing_on_another_slot_is_one_run():
    # Lord Howe: 02:00 is moved to 02:30, which is a slot of its own.
    runs = schedules.next_runs(
        "cron",
        "0,30 2 * * *",
        "Australia/Lord_Howe",
        count=2,
        after=datetime(2025, 10, 4, tzinfo=UTC),
    )
    assert iso(runs) == ["2025-10-05T02:30:00+11:00", "2025-10-06T02:00:00+11:00"]


def test_a_schedule_started_in_the_second_pass_of_a_repeated_hour_waits_for_new_slots():
    # 01:10 EST on 2025-11-02 is the second pass of 01:00-01:59: 01:15, 01:30 and 01:45 ran at
    # their first occurrence (EDT) and do not run again.
    after = datetime(2025, 11, 2, 1, 10, tzinfo=NEW_YORK, fold=1)
    runs = schedules.next_runs("cron", "*/15 * * * *", "America/New_York", count=2, after=after)
    assert iso(runs) == ["2025-11-02T02:00:00-05:00", "2025-11-02T02:15:00-05:00"]
    # The slot of a time in the second pass is the last first-pass slot.
    assert schedules.latest_run(
        "cron", "*/15 * * * *", "America/New_York", at=after
    ).isoformat() == ("2025-11-02T01:45:00-04:00")


def test_latest_run_inside_a_moved_gap():
    # New York 2025-03-09: 02:00 and 02:30 run at 03:00 and 03:30 EDT.
    at = datetime(2025, 3, 9, 3, 30, 0, 100_000, tzinfo=NEW_YORK)
    assert schedules.latest_run("cron", "0,30 2 * * *", "America/New_York", at=at).isoformat() == (
        "2025-03-09T03:30:00-04:00"
    )
    at = datetime(2025, 10, 5, 2, 59, 30, tzinfo=LORD_HOWE)
    assert schedules.latest_run(
        "cron", "29-35 2 * * *", "Australia/Lord_Howe", at=at
    ).isoformat() == ("2025-10-05T02:59:00+11:00")


# Steps and digits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "errors"),
    [
        ("*/60 * * * *", {"minute": ["step in '*/60' must be at most 59"]}),
        ("0-30/61 * * * *", {"minute": ["step in '0-30/61' must be at most 59"]}),
        ("0 */24 * * *", {"hour": ["step in '*/24' must be at most 23"]}),
        ("0 0 */32 * *", {"day_of_month": ["step in '*/32' must be at most 31"]}),
        ("0 0 1 */13 *", {"month": ["step in '*/13' must be at most 12"]}),
        ("0 0 * * */8", {"day_of_week": ["step in '*/8' must be at most 7"]}),
    ],
)
def test_a_step_larger_than_its_field_is_refused_in_every_field(expression, errors):
    with pytest.raises(InvalidInput) as caught:
        schedules.parse(expression)
    assert caught.value.errors == errors


@pytest.mark.parametrize(
    ("expression", "errors"),
    [
        ("\u00b2 * * * *", {"minute": ["'\u00b2' is not a number (use the digits 0-9)"]}),
        ("0 \u0661 * * *", {"hour": ["'\u0661' is not a number (use the digits 0-9)"]}),
        ("0 0 1-\u0663 * *", {"day_of_month": ["'\u0663' is not a number (use the digits 0-9)"]}),
        (
            "*/\u0665 * * * *",
            {"minute": ["step in '*/\u0665' must be a whole number (use the digits 0-9)"]},
        ),
    ],
)
def test_non_ascii_digits_are_refused_with_the_field_named(expression, errors):
    with pytest.raises(InvalidInput) as caught:
        schedules.parse(expression)
    assert caught.value.errors == errors


def test_a_tie_is_described_as_a_tie():
    assert schedules.describe("cron", "0 0 1-31 * 0-6") == (
        "At 00:00 every day (the day of month is ignored: both run as often, and a tie goes to"
        " the day of week)"
    )


# The shortest interval, which the delay must stay under ----------------------------------------


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [
        ("* * * * *", 1),
        ("0 * * * *", 60),
        ("0 1,3 * * *", 120),
        ("0 1,23 * * *", 120),  # 23:00 to 01:00 the next day
        ("*/15 9-17 * * 1-5", 15),
        ("0 0 * * 1", 7 * 1440),
        ("0 0 1 * *", 28 * 1440),  # February
        ("0 0 31 * *", 31 * 1440),  # 31 July to 31 August
        ("0 0 29 2 *", 1461 * 1440),
        ("0 0 1,30 * *", 1440),  # 30 April to 1 May
        ("0 0 1,16 * *", 13 * 1440),  # 16 February to 1 March
        ("0 12 */5 jan,mar *", 5 * 1440),  # 5 to 10 January
    ],
)
def test_shortest_interval_between_slots(expression, minutes):
    assert schedules.shortest_interval(schedules.parse(expression)) == timedelta(minutes=minutes)
