"""Benchmark of a parent segment refresh from a PostgreSQL source (segments.refresh), against the
floor of copying the same rows between the two databases with COPY TO + COPY FROM.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_refresh.py [--rows N] [--database-url URL]
        [--source-url URL] [--tracemalloc]

The source is a PostgreSQL database of its own (`--source-url`, default
postgres://postgres@127.0.0.1:5432/refresh_bench_source, created if missing) holding a typed
`customers` table of N generated rows (the customers of customers.py). The service's database
is `--database-url` (default: a temporary SQLite file). Measured:
- floor: `COPY (SELECT …) TO STDOUT` from the source streamed into `COPY … FROM STDIN` of a
  table with the same columns in the service's database (PostgreSQL only): the bare transfer;
- refresh: `segments.refresh.refresh_now` (replace into an empty parent, replace over the N
  rows, then an upsert of the same N rows), which copies the source's typed rows into a
  snapshot table (COPY TO + COPY FROM), checks them in SQL and indexes the key
  (segments.loading.import_copied, segments/snapshots.py); the upsert stages the rows and
  merges them into the snapshot;
- with --checked, also the checked path the copy replaced: the rows as CSV lines
  (sources.reading.csv_lines) through segments.loading.import_profiles, over the N rows.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from customers import COLUMNS, write_csv  # noqa: E402
from database import describe_machine, ensure_postgres_database, max_rss_mib, set_up  # noqa: E402

DEFAULT_SOURCE = "postgres://postgres@127.0.0.1:5432/refresh_bench_source"
SQL_TYPES = {
    "string": "text",
    "date": "date",
    "number": "numeric(12, 2)",
    "boolean": "boolean",
    "integer": "integer",
    "timestamp": "timestamptz",
}
TABLE_COLUMNS = ", ".join(f"{c['name']} {SQL_TYPES[c['type']]}" for c in COLUMNS)


def load_source(url: str, rows: int, workdir: Path) -> None:
    import psycopg

    ensure_postgres_database(url)
    with psycopg.connect(url, autocommit=True) as connection:
        exists = connection.execute("SELECT to_regclass('public.customers')").fetchone()[0]
        if exists and connection.execute("SELECT count(*) FROM customers").fetchone()[0] == rows:
            return
        csv_path = workdir / "customers.csv"
        write_csv(csv_path, rows)
        connection.execute("DROP TABLE IF EXISTS customers")
        connection.execute(f"CREATE TABLE customers ({TABLE_COLUMNS}, PRIMARY KEY (customer_id))")
        with (
            open(csv_path, "rb") as file,
            connection.cursor() as cursor,
            cursor.copy("COPY customers FROM STDIN (FORMAT csv, HEADER true)") as copy,
        ):
            while block := file.read(1 << 20):
                copy.write(block)
        connection.execute("VACUUM ANALYZE customers")
        csv_path.unlink()


def floor(source_url: str) -> float | None:
    """Seconds to COPY the source's rows into a table of the service's PostgreSQL database."""
    import psycopg
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as target:
        target.execute("DROP TABLE IF EXISTS refresh_bench_floor")
        target.execute(f"CREATE TABLE refresh_bench_floor ({TABLE_COLUMNS})")
        started = time.perf_counter()
        with (
            psycopg.connect(source_url) as source,
            source.cursor() as reader,
            reader.copy("COPY (SELECT * FROM customers) TO STDOUT") as out,
            target.cursor.copy("COPY refresh_bench_floor FROM STDIN") as into,
        ):
            for block in out:
                into.write(block)
        elapsed = time.perf_counter() - started
        target.execute("DROP TABLE refresh_bench_floor")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--source-url", default=DEFAULT_SOURCE)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--checked", action="store_true", help="time the checked CSV path too")
    arguments = parser.parse_args()

    # The source is on this machine: a loopback address the service refuses unless listed.
    os.environ["SOURCE_ALLOWED_HOSTS"] = "127.0.0.1:5432,localhost:5432"
    workdir = Path(tempfile.mkdtemp(prefix="bench_refresh_"))
    set_up(arguments.database_url, workdir=workdir)
    from segments import services
    from sources.models import Source
    from workspaces.models import Workspace

    started = time.perf_counter()
    load_source(arguments.source_url, arguments.rows, workdir)
    print(
        f"{describe_machine()}\nsource: {arguments.rows:,} rows in {arguments.source_url} "
        f"(ready in {time.perf_counter() - started:.1f} s)"
    )
    floor_seconds = floor(arguments.source_url)
    if floor_seconds is not None:
        print(
            f"{'floor: COPY TO + COPY FROM':34} {arguments.rows:>10,} rows in "
            f"{floor_seconds:7.1f} s = {arguments.rows / floor_seconds:>9,.0f} rows/s"
        )

    workspace = Workspace.objects.create(name="Refresh benchmark")
    url = arguments.source_url.replace("postgres://", "postgresql://", 1)
    source = Source.objects.create(workspace=workspace, name="Bench", url=url, kind="postgresql")
    parent = services.create_parent_segment(
        workspace=workspace,
        data={
            "name": "Refreshed customers",
            "key_column": "customer_id",
            "source": {"source": source.pk, "table": "public.customers"},
        },
    )
    runs = [
        ("refresh into an empty parent", refresh_now),
        ("refresh over existing rows", refresh_now),
        ("upsert over the same rows", upsert_now),
    ]
    if arguments.checked:
        runs.append(("checked CSV path, over the rows", checked_path))
    try:
        for label, run in runs:
            if arguments.tracemalloc:
                tracemalloc.start()
            rss_before = max_rss_mib()
            started = time.perf_counter()
            rows = run(parent)
            elapsed = time.perf_counter() - started
            parent.refresh_from_db()
            if (rows, parent.row_count) != (arguments.rows, arguments.rows):
                sys.exit(f"{label}: {rows:,} rows imported, {parent.row_count:,} held")
            line = (
                f"{label:34} {rows:>10,} rows in {elapsed:7.1f} s = {rows / elapsed:>9,.0f} rows/s"
            )
            if floor_seconds:
                line += f"; {elapsed / floor_seconds:.1f}x the floor"
            line += f"; peak RSS {max_rss_mib():.0f} MiB (+{max_rss_mib() - rss_before:.0f} MiB)"
            if arguments.tracemalloc:
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                line += f"; traced peak {peak / 2**20:.1f} MiB"
            print(line, flush=True)
    finally:
        services.delete(parent)  # its profiles, or its snapshot table
        workspace.delete()
        shutil.rmtree(workdir)


def refresh_now(parent) -> int:
    from segments import refresh

    done = refresh.refresh_now(parent)
    if done.status != "succeeded":
        sys.exit(f"refresh failed: {done.error}")
    return done.rows_imported


def upsert_now(parent) -> int:
    """A refresh in upsert mode: the rows merged by key into those already there."""
    parent.refresh_mode = "upsert"
    parent.save(update_fields=["refresh_mode"])
    try:
        return refresh_now(parent)
    finally:
        parent.refresh_mode = "replace"
        parent.save(update_fields=["refresh_mode"])


def checked_path(parent) -> int:
    """The source's rows as CSV lines through the checked import: the path a refresh takes
    from other databases, or when a column's declared type differs from the source's."""
    from segments import loading, refresh
    from sources import reading

    relation = refresh.relation_of(parent)
    with reading.csv_lines(parent.source, relation, parent.columns) as (lines, _):
        result = loading.import_profiles(parent_segment=parent, file=lines, mode="replace")
    if not result.ok:
        sys.exit(f"import failed: {result.errors[:5]}")
    return result.rows_imported


if __name__ == "__main__":
    main()
