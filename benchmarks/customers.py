"""The benchmarks' customers: their typed columns, a generated CSV of N rows, a loaded parent."""

import time
from pathlib import Path

COLUMNS = [
    {"name": "customer_id", "type": "string"},
    {"name": "email", "type": "string"},
    {"name": "first_name", "type": "string"},
    {"name": "last_name", "type": "string"},
    {"name": "country", "type": "string"},
    {"name": "plan", "type": "string"},
    {"name": "signup_date", "type": "date"},
    {"name": "lifetime_value", "type": "number"},
    {"name": "consent", "type": "boolean"},
    {"name": "age", "type": "integer"},
    {"name": "last_seen_at", "type": "timestamp"},
]
# The customer columns renamed to Contact fields, as the run benchmarks send them.
CONTACT_COLUMNS = [
    {"source": "customer_id", "output": "Customer_Key__c"},
    {"source": "first_name", "output": "FirstName"},
    {"source": "last_name", "output": "LastName"},
    {"source": "email", "output": "Email"},
    {"source": "signup_date", "output": "Birthdate"},
    {"source": "lifetime_value", "output": "Lifetime_Value__c"},
    {"source": "age", "output": "Age__c"},
    {"source": "last_seen_at", "output": "Last_Seen_At__c"},
    {"source": "consent", "output": "HasOptedOutOfEmail"},
]
# A rule every customer (ages 18 and up) matches: the whole table as a segment.
EVERYONE = {"type": "and", "conditions": [{"column": "age", "operator": "gte", "value": 18}]}

COUNTRIES = ["JP", "KR", "US", "DE", "FR", "GB", "BR", "IN"]
PLANS = ["free", "basic", "pro", "enterprise"]


def write_csv(path: Path, rows: int) -> None:
    """Write an N-row customers file. Values cycle, so shares are exact: each country is 1/8
    of the rows, each plan 1/4, each signup year (2000-2024) 1/25, consent true 2/3, ages
    18-87 evenly, lifetime values 0-4999.99 evenly, last seen in 2025 months 1-9 evenly."""
    with open(path, "w", encoding="utf-8") as file:
        file.write(",".join(column["name"] for column in COLUMNS) + "\n")
        for number in range(rows):
            file.write(
                f"C{number:09d},customer{number}@example.com,Given{number % 997},"
                f"Family{number % 1009},{COUNTRIES[number % 8]},{PLANS[number % 4]},"
                f"20{number % 25:02d}-{number % 12 + 1:02d}-{number % 28 + 1:02d},"
                f"{(number * 7919) % 500000 / 100:.2f},{'true' if number % 3 else 'false'},"
                f"{18 + number % 70},2025-0{number % 9 + 1}-1{number % 10}T0{number % 10}:"
                f"{number % 60:02d}:00Z\n"
            )


def load_parent(*, workspace, rows: int, workdir: Path, name: str = "Benchmark customers"):
    """A parent segment holding `rows` generated customers, imported the way users import
    (segments.loading.import_profiles); prints how long that took."""
    from segments.loading import import_profiles
    from segments.models import ParentSegment

    parent = ParentSegment.objects.create(
        workspace=workspace,
        name=name,
        key_column="customer_id",
        columns=COLUMNS,
    )
    csv_path = workdir / "customers.csv"
    started = time.perf_counter()
    write_csv(csv_path, rows)
    with open(csv_path, "rb") as file:
        result = import_profiles(parent_segment=parent, file=file, mode="replace")
    csv_path.unlink()
    if not result.ok:
        raise SystemExit(f"import failed: {result.errors[:5]}")
    print(
        f"set-up: {rows:,} profiles generated and imported in {time.perf_counter() - started:.1f} s"
    )
    return parent
