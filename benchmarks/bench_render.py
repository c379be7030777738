"""Benchmark of activations.mapping.render_rows and common.csvio.encode_row: rows per second.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_render.py [--rows N]

Renders N customer rows (1,000,000 by default) through a mapping with Export All Columns,
two renamed columns and a string-builder column, then encodes each rendered row as CSV; it
prints rows/s for rendering alone, encoding alone, and both together (what a run does per
row before the upload). The rows cycle through 1,000 pre-built dicts, so generating them is
not measured; nothing touches a database.
"""

import argparse
import datetime
import itertools
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activations import mapping  # noqa: E402
from benchmarks.customers import COLUMNS  # noqa: E402
from common import csvio  # noqa: E402

MAPPING = {
    "export_all_columns": True,
    "columns": [
        {"source": "customer_id", "output": "Customer_Id__c"},
        {"source": "email", "output": "Email_Address__c"},
    ],
    "strings": [
        {
            "output": "Audience_Tag__c",
            "parts": [
                {"type": "string", "value": "segment-"},
                {"type": "segment_id"},
                {"type": "string", "value": "@"},
                {"type": "timestamp"},
            ],
        }
    ],
}
CONTEXT = mapping.RenderContext(
    segment_id=42,
    segment_name="VIP customers",
    audience_id=7,
    timestamp=datetime.datetime.now(datetime.UTC),
)


def sample_rows(count: int) -> list[dict]:
    generator = random.Random(1)
    rows = []
    for number in range(count):
        rows.append(
            {
                "customer_id": f"C{number:08d}",
                "email": f"customer{number}@example.com",
                "first_name": generator.choice(["Aiko", "Ben", "Chloé", "太郎", None]),
                "last_name": generator.choice(["Sato", "Smith, Jr.", 'O"Neil', "山田"]),
                "country": generator.choice(["JP", "US", "DE", "FR"]),
                "plan": generator.choice(["free", "pro", "enterprise"]),
                "signup_date": f"20{generator.randint(10, 24)}-0{generator.randint(1, 9)}-15",
                "lifetime_value": round(generator.uniform(0, 5000), 2),
                "consent": generator.random() < 0.7,
                "age": generator.randint(18, 90) if number % 10 else None,
                "last_seen_at": "2024-05-01T09:30:00.250000Z" if number % 2 else None,
            }
        )
    return rows


def rows_per_second(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f} rows/s  ({seconds:.2f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    arguments = parser.parse_args()
    count = arguments.rows
    pool = sample_rows(1000)

    def rows():
        return itertools.islice(itertools.cycle(pool), count)

    mapping.validate(MAPPING, COLUMNS)
    header = mapping.output_columns(MAPPING, COLUMNS)
    print(f"{count:,} rows, {len(header)} output columns")

    started = time.perf_counter()
    for _ in mapping.render_rows(MAPPING, columns=COLUMNS, rows=rows(), context=CONTEXT):
        pass
    print("render          ", rows_per_second(count, time.perf_counter() - started))

    rendered = next(mapping.render_rows(MAPPING, columns=COLUMNS, rows=pool, context=CONTEXT))
    started = time.perf_counter()
    encode_row = csvio.encode_row
    for _ in range(count):
        encode_row(rendered)
    print("encode          ", rows_per_second(count, time.perf_counter() - started))

    started = time.perf_counter()
    size = 0
    for cells in mapping.render_rows(
        MAPPING, columns=COLUMNS, rows=rows(), context=CONTEXT, null_value="clear"
    ):
        size += len(encode_row(cells))
    elapsed = time.perf_counter() - started
    print("render + encode ", rows_per_second(count, elapsed), f"{size / 1e6:,.0f} MB of CSV")


if __name__ == "__main__":
    main()
