"""The REST API contract of issue 5, schedules.

Each test reads one sentence of the contract and drives the API as a script would."""

import datetime

import pytest

from tests.api.contract.helpers import (
    API,
    SEED_CRON_CASES,
    parse_runs,
)

# Most tests ask for the next runs on 10 January 2026 at 03:00 UTC.
JANUARY_10 = datetime.datetime(2026, 1, 10, 3, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("now", "sent", "next_runs"),
    [
        pytest.param(
            JANUARY_10,
            {"type": "cron", "cron": "0 9 * * *", "timezone": "Asia/Tokyo"},
            [f"2026-01-{day}T09:00:00+09:00" for day in range(11, 16)],
            id="five iso strings with the offset of the time zone",
        ),
        pytest.param(
            JANUARY_10,
            {"type": "hourly", "timezone": "UTC", "delay_seconds": 900},
            [f"2026-01-10T{hour:02d}:00:00+00:00" for hour in range(4, 9)],
            id="without the delay",
        ),
        pytest.param(
            # The United States move their clocks forward on 8 March 2026.
            datetime.datetime(2026, 3, 6, 12, 0, tzinfo=datetime.UTC),
            {"type": "cron", "cron": "30 1 * * *", "timezone": "America/New_York"},
            ["2026-03-07T01:30:00-05:00", "2026-03-08T01:30:00-05:00"]
            + [f"2026-03-{day:02d}T01:30:00-04:00" for day in range(9, 12)],
            id="following daylight saving time",
        ),
    ],
)
def test_next_runs_are_listed_with_the_schedule(schedule_for, time_machine, now, sent, next_runs):
    time_machine.move_to(now)

    schedule = schedule_for(sent)

    assert schedule.items() >= sent.items()
    assert schedule["next_runs"] == next_runs


def test_next_runs_is_read_only(schedule_for, time_machine):
    time_machine.move_to(JANUARY_10)

    schedule = schedule_for(
        {"type": "daily", "timezone": "UTC", "next_runs": ["2030-01-01T00:00:00+00:00"]}
    )

    assert schedule["next_runs"][0] == "2026-01-11T00:00:00+00:00"


def test_daily_runs_at_midnight_in_the_time_zone(schedule_for, time_machine):
    time_machine.move_to(JANUARY_10)

    schedule = schedule_for({"type": "daily", "timezone": "America/New_York"})

    # 03:00 UTC is 22:00 the day before in New York.
    assert schedule["next_runs"][:2] == [
        "2026-01-10T00:00:00-05:00",
        "2026-01-11T00:00:00-05:00",
    ]


def test_a_time_skipped_by_daylight_saving_runs_once_after_the_gap(schedule_for, time_machine):
    time_machine.move_to(datetime.datetime(2026, 3, 7, 12, 0, tzinfo=datetime.UTC))

    schedule = schedule_for({"type": "cron", "cron": "30 2 * * *", "timezone": "America/New_York"})

    runs = parse_runs(schedule["next_runs"])
    assert [run.date().isoformat() for run in runs] == [
        "2026-03-08",
        "2026-03-09",
        "2026-03-10",
        "2026-03-11",
        "2026-03-12",
    ]
    assert schedule["next_runs"][0] == "2026-03-08T03:30:00-04:00"
    assert schedule["next_runs"][1] == "2026-03-09T02:30:00-04:00"


def test_a_repeated_hour_in_autumn_runs_once(schedule_for, time_machine):
    # Europe/Berlin goes back from 03:00 to 02:00 on 25 October 2026.
    time_machine.move_to(datetime.datetime(2026, 10, 24, 12, 0, tzinfo=datetime.UTC))

    schedule = schedule_for({"type": "cron", "cron": "30 2 * * *", "timezone": "Europe/Berlin"})

    assert schedule["next_runs"][:3] == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
    ]


@pytest.mark.parametrize(("cron", "now", "times", "dates"), SEED_CRON_CASES)
def test_seed_cron_examples_through_the_api(schedule_for, time_machine, cron, now, times, dates):
    time_machine.move_to(datetime.datetime.fromisoformat(now.replace("Z", "+00:00")))

    schedule = schedule_for({"type": "cron", "cron": cron, "timezone": "UTC"})

    runs = parse_runs(schedule["next_runs"])
    assert len(runs) == 5
    assert all(run.utcoffset() == datetime.timedelta(0) for run in runs)
    if times is not None:
        assert [run.strftime("%H:%M") for run in runs] == times
    if dates is not None:
        assert [run.date().isoformat() for run in runs] == dates
        if cron.startswith("0 0 "):
            assert {run.strftime("%H:%M:%S") for run in runs} == {"00:00:00"}


@pytest.mark.parametrize(
    ("cron", "schedule_type"), [("@hourly", "hourly"), ("@daily", "daily"), ("@HOURLY", "hourly")]
)
def test_a_cron_shortcut_is_accepted_as_its_schedule_type(
    schedule_for, time_machine, cron, schedule_type
):
    time_machine.move_to(JANUARY_10)

    schedule = schedule_for({"type": "cron", "cron": cron, "timezone": "UTC"})

    assert schedule["type"] == schedule_type
    expected_first = (
        "2026-01-10T04:00:00+00:00" if schedule_type == "hourly" else "2026-01-11T00:00:00+00:00"
    )
    assert schedule["next_runs"][0] == expected_first


def test_a_cron_without_a_type_is_a_cron_schedule(schedule_for, time_machine):
    time_machine.move_to(JANUARY_10)

    schedule = schedule_for({"cron": "0 9 * * *", "timezone": "UTC"})

    assert schedule["type"] == "cron"
    assert schedule["cron"] == "0 9 * * *"
    assert schedule["next_runs"][0] == "2026-01-10T09:00:00+00:00"


def test_the_time_zone_defaults_to_utc(schedule_for, time_machine):
    time_machine.move_to(JANUARY_10)

    schedule = schedule_for({"type": "daily"})

    assert schedule["timezone"] == "UTC"
    assert schedule["next_runs"][0] == "2026-01-11T00:00:00+00:00"


@pytest.mark.parametrize(
    "cron",
    [
        "0 25 * * *",
        "61 * * * *",
        "0 0 32 * *",
        "0 0 * 13 *",
        "0 0 * * 8",
        "0 0 * *",
        "a b c d e",
        "0 0 * * funday",
        "0 0 31 2 *",
    ],
)
def test_a_bad_cron_is_a_400_on_schedule_cron(refused_activation, cron):
    errors = refused_activation(schedule={"type": "cron", "cron": cron, "timezone": "UTC"})

    assert list(errors) == ["schedule.cron"], errors
    assert all(isinstance(message, str) and message for message in errors["schedule.cron"])


def test_a_cron_schedule_without_cron_is_a_400_on_schedule_cron(refused_activation):
    errors = refused_activation(schedule={"type": "cron", "timezone": "UTC"})

    assert list(errors) == ["schedule.cron"]


def test_an_unknown_time_zone_is_a_400_on_schedule_timezone(refused_activation):
    errors = refused_activation(schedule={"type": "daily", "timezone": "Mars/Olympus"})

    assert list(errors) == ["schedule.timezone"]


def test_an_unknown_schedule_type_is_a_400_on_schedule_type(refused_activation):
    errors = refused_activation(schedule={"type": "weekly", "timezone": "UTC"})

    assert "schedule.type" in errors


def test_a_negative_delay_is_a_400_on_schedule_delay_seconds(refused_activation):
    errors = refused_activation(schedule={"type": "daily", "timezone": "UTC", "delay_seconds": -5})

    assert list(errors) == ["schedule.delay_seconds"]


def test_changing_the_schedule_changes_next_runs(new_activation, client, time_machine):
    time_machine.move_to(JANUARY_10)
    body = new_activation(schedule={"type": "daily", "timezone": "UTC"})

    response = client.patch(
        f"{API}/activations/{body['id']}/",
        {"schedule": {"type": "cron", "cron": "15 6 * * *", "timezone": "Asia/Tokyo"}},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["schedule"]["next_runs"][0] == "2026-01-11T06:15:00+09:00"
    none = client.patch(
        f"{API}/activations/{body['id']}/", {"schedule": {"type": "none"}}, format="json"
    )
    assert none.json()["schedule"]["next_runs"] == []


def test_a_cron_error_says_which_cron_field_is_wrong(refused_activation):
    errors = refused_activation(schedule={"type": "cron", "cron": "0 25 * * *"})

    assert errors == {"schedule.cron": ["hour: 25 is out of range 0-23"]}
