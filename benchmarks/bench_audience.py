"""Benchmark of segments.audience: size() for typical rule trees, iter_rows() rows/s and memory.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_audience.py [--rows N] [--database-url URL]
        [--chunk-size N] [--explain]

Imports N generated customers (1,000,000 by default; see customers.py for the value shares)
into one parent segment, then times `audience.size` (a database count) for a few rule trees,
best and median of three, and streams a segment of about a third of the rows through
`audience.iter_rows`: once timed (rows/s, time to the first row), once under tracemalloc
(Python's peak allocation while streaming). `--explain` prints each count's query plan.
Without --database-url it uses a fresh SQLite file in a temporary directory; a PostgreSQL
database named in the URL is created if missing, and the benchmark's workspace is deleted at
the end.
"""

import argparse
import datetime
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from customers import load_parent  # noqa: E402
from database import describe_machine, max_rss_mib, set_up  # noqa: E402


def rule_trees(today: datetime.date) -> list[tuple[str, dict]]:
    """(label, rules) pairs; the generated data gives each a known share of the rows."""
    # The generated signup dates are 2000-2024 and last-seen times January-September 2025,
    # so "within the last N days" reaches back to a fixed day whatever today is.
    since_2024 = (today - datetime.date(2024, 1, 1)).days
    since_july_2025 = (today - datetime.date(2025, 7, 1)).days
    return [
        (
            "string eq (country = JP)",
            {"type": "and", "conditions": [{"column": "country", "operator": "eq", "value": "JP"}]},
        ),
        (
            "number between (1000-2499.99)",
            {
                "type": "and",
                "conditions": [
                    {"column": "lifetime_value", "operator": "between", "value": [1000, 2499.99]}
                ],
            },
        ),
        (
            f"date within_last_days {since_2024}",
            {
                "type": "and",
                "conditions": [
                    {"column": "signup_date", "operator": "within_last_days", "value": since_2024}
                ],
            },
        ),
        (
            f"timestamp within_last_days {since_july_2025}",
            {
                "type": "and",
                "conditions": [
                    {
                        "column": "last_seen_at",
                        "operator": "within_last_days",
                        "value": since_july_2025,
                    }
                ],
            },
        ),
        (
            "string contains (email ~ 77)",
            {
                "type": "and",
                "conditions": [{"column": "email", "operator": "contains", "value": "77"}],
            },
        ),
        ("nested and/or with in-lists", STREAMED_RULES),
    ]


# The streamed segment, about a third of the rows: consenting customers in Japan, Korea or
# the US, or on a paid plan and aged 30-59, who signed up in 2003 or later.
STREAMED_RULES = {
    "type": "and",
    "conditions": [
        {"column": "consent", "operator": "eq", "value": True},
        {
            "type": "or",
            "conditions": [
                {"column": "country", "operator": "in", "value": ["JP", "KR", "US"]},
                {
                    "type": "and",
                    "conditions": [
                        {"column": "plan", "operator": "in", "value": ["pro", "enterprise"]},
                        {"column": "age", "operator": "between", "value": [30, 59]},
                    ],
                },
            ],
        },
        {"column": "signup_date", "operator": "gte", "value": "2003-01-01"},
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--chunk-size", type=int, default=2000, help="iter_rows window")
    parser.add_argument("--explain", action="store_true", help="print each count's query plan")
    arguments = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench_audience_"))
    set_up(arguments.database_url, workdir=workdir)
    from django.db import connection
    from django.utils import timezone

    from segments import audience
    from segments.models import Segment
    from workspaces.models import Workspace

    print(describe_machine())
    workspace = Workspace.objects.create(name="Audience benchmark")
    try:
        parent = load_parent(workspace=workspace, rows=arguments.rows, workdir=workdir)
        print(f"audience.size, best and median of 3 ({arguments.rows:,} profiles):")
        for label, rules in rule_trees(timezone.localdate()):
            segment = Segment.objects.create(
                workspace=workspace, parent_segment=parent, name=label, rules=rules
            )
            timings = []
            for _ in range(3):
                started = time.perf_counter()
                count = audience.size(segment)
                timings.append(time.perf_counter() - started)
            print(
                f"  {label:40} {count:>10,} rows ({count / arguments.rows:6.1%})  "
                f"{min(timings):6.3f} s  {statistics.median(timings):6.3f} s",
                flush=True,
            )
            if arguments.explain:
                # The count's plan: profiles_of without its ORDER BY, as size() runs it.
                counted = audience.profiles_of(segment).order_by()
                analyze = {"analyze": True} if connection.vendor == "postgresql" else {}
                print(counted.explain(**analyze), "\n")

        streamed = Segment.objects.get(parent_segment=parent, rules=STREAMED_RULES)
        expected = audience.size(streamed)
        print(
            f"audience.iter_rows of the nested segment ({expected:,} rows, "
            f"chunk_size {arguments.chunk_size:,}):"
        )
        rss_before = max_rss_mib()
        started = time.perf_counter()
        first_row_after = None
        count = 0
        for _ in audience.iter_rows(streamed, chunk_size=arguments.chunk_size):
            if first_row_after is None:
                first_row_after = time.perf_counter() - started
            count += 1
        elapsed = time.perf_counter() - started
        assert count == expected, (count, expected)
        print(
            f"  timed:  {count:,} rows in {elapsed:.2f} s = {count / elapsed:,.0f} rows/s "
            f"(first row after {first_row_after:.3f} s); peak RSS {max_rss_mib():.0f} MiB "
            f"(+{max_rss_mib() - rss_before:.0f} MiB)",
            flush=True,
        )
        tracemalloc.start()
        started = time.perf_counter()
        count = sum(1 for _ in audience.iter_rows(streamed, chunk_size=arguments.chunk_size))
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"  traced: {count:,} rows in {elapsed:.2f} s under tracemalloc; "
            f"Python's peak allocation {peak / 2**20:.1f} MiB"
        )
    finally:
        Workspace.objects.filter(pk=workspace.pk).delete()
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
