"""Benchmark of common.schedules: the slowest next_runs, latest_run and shortest_interval.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_schedules.py [--expressions N] [--seed S]

Times every computation for hand-picked hard expressions (a month far away, February 29th,
a tie of the day fields, every minute) plus N random valid expressions, in five time zones,
at moments that include daylight-saving changes, a December for February-only schedules and
a year with no February 29th near. Prints the slowest time of each computation and its ratio
to a floor measured in the same run (next_runs of `0 * * * *` in UTC); the target is under
50 ms for any valid expression. No database.
"""

import argparse
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import schedules  # noqa: E402

ZONES = ["UTC", "Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Lord_Howe"]
MOMENTS = [
    datetime(2025, 3, 9, 6, 59, 30, tzinfo=UTC),  # New York spring forward
    datetime(2025, 11, 2, 6, 10, tzinfo=UTC),  # New York, second pass of 01:00
    datetime(2025, 10, 4, 15, 45, tzinfo=UTC),  # Lord Howe's half-hour gap
    datetime(2025, 12, 20, 10, 0, tzinfo=UTC),  # far from February
    datetime(2099, 6, 1, tzinfo=UTC),  # 2100 has no February 29th
]
HARD = [
    "* * * * *",
    "* * * 2 *",
    "59 23 31 12 *",
    "0 0 29 2 *",
    "0 0 29 2 1",
    "0 0 1-31 * 0-6",
    "*/7 */5 */3 */2 */2",
    "29-35 2 * * *",
    "0,30 2 * * *",
    "0 0 31 */2 *",
]


def random_expression(rng: random.Random) -> str:
    def field(low: int, high: int) -> str:
        kind = rng.choice(["*", "value", "range", "step", "list"])
        if kind == "*":
            return "*"
        if kind == "value":
            return str(rng.randint(low, high))
        if kind == "range":
            first = rng.randint(low, high)
            return f"{first}-{rng.randint(first, high)}"
        if kind == "step":
            return f"*/{rng.randint(1, high)}"
        return ",".join(str(value) for value in sorted(rng.sample(range(low, high + 1), 3)))

    return " ".join([field(0, 59), field(0, 23), field(1, 31), field(1, 12), field(0, 6)])


def timed(function, *args, **kwargs) -> float:
    """The best of three calls, so that a pause of the shared machine is not counted."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        function(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--expressions", type=int, default=400)
    parser.add_argument("--seed", type=int, default=16)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    expressions = list(HARD)
    while len(expressions) < len(HARD) + options.expressions:
        expression = random_expression(rng)
        try:
            schedules.parse(expression)
        except schedules.InvalidInput:
            continue  # e.g. a day of month no chosen month has
        expressions.append(expression)

    floor = min(
        timed(schedules.next_runs, "hourly", "", "UTC", count=5, after=MOMENTS[0])
        for _ in range(20)
    )
    slowest = {"next_runs": (0.0, ""), "latest_run": (0.0, ""), "shortest_interval": (0.0, "")}
    for expression in expressions:
        parsed = schedules.parse(expression)
        took = timed(schedules.shortest_interval, parsed)
        slowest["shortest_interval"] = max(slowest["shortest_interval"], (took, expression))
        for zone in ZONES:
            tz = ZoneInfo(zone)
            for moment in MOMENTS:
                label = f"{expression!r} in {zone} at {moment:%Y-%m-%d %H:%M}"
                took = timed(schedules.next_runs, "cron", expression, zone, count=5, after=moment)
                slowest["next_runs"] = max(slowest["next_runs"], (took, label))
                took = timed(schedules.latest_run_of, parsed, tz, moment)
                slowest["latest_run"] = max(slowest["latest_run"], (took, label))

    print(f"{len(expressions)} expressions x {len(ZONES)} zones x {len(MOMENTS)} moments")
    print(f"floor (next_runs of hourly in UTC): {floor * 1000:.3f} ms")
    for name, (took, label) in slowest.items():
        print(f"slowest {name}: {took * 1000:.2f} ms ({took / floor:.0f}x floor), {label}")


if __name__ == "__main__":
    main()
