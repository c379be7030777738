"""Benchmark of segments.loading.import_profiles: rows per second and peak memory.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_import.py [--rows N] [--database-url URL] [--tracemalloc]

Without --database-url it uses a fresh SQLite file in a temporary directory. A PostgreSQL
database named in the URL is created if missing and migrated; the benchmark's workspace is
deleted at the end. It imports a generated N-row customers file three times: "replace" into an
empty parent, "replace" over the N rows, and "upsert" of the same N keys.
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
from database import max_rss_mib, set_up  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also report Python's traced peak allocation (slows the import about 2x)",
    )
    arguments = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench_import_"))
    set_up(arguments.database_url, workdir=workdir)
    from django.db import connection

    from segments.loading import import_profiles
    from segments.models import ParentSegment
    from workspaces.models import Workspace

    csv_path = workdir / "customers.csv"
    started = time.perf_counter()
    write_csv(csv_path, arguments.rows)
    print(
        f"database: {connection.vendor} {connection.settings_dict['NAME']}\n"
        f"file: {arguments.rows:,} rows, {csv_path.stat().st_size / 2**20:.1f} MiB "
        f"(generated in {time.perf_counter() - started:.1f} s); "
        # Other work on the machine slows the figures down; the load says how busy it was.
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )

    workspace = Workspace.objects.create(name="Import benchmark")
    parent = ParentSegment.objects.create(
        workspace=workspace,
        name="Benchmark customers",
        key_column="customer_id",
        columns=COLUMNS,
    )
    try:
        for label, mode in [
            ("replace into an empty parent", "replace"),
            ("replace over existing rows", "replace"),
            ("upsert of existing keys", "upsert"),
        ]:
            if arguments.tracemalloc:
                tracemalloc.start()
            rss_before = max_rss_mib()
            started = time.perf_counter()
            cpu_started = time.process_time()
            with open(csv_path, "rb") as file:
                result = import_profiles(parent_segment=parent, file=file, mode=mode)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            if not result.ok:
                sys.exit(f"import failed: {result.errors[:5]}")
            line = (
                f"{label:30} {result.rows_imported:>10,} rows in {elapsed:7.1f} s = "
                f"{result.rows_imported / elapsed:>8,.0f} rows/s (Python CPU {cpu:5.1f} s); "
                f"peak RSS {max_rss_mib():.0f} MiB "
                f"(+{max_rss_mib() - rss_before:.0f} MiB)"
            )
            if arguments.tracemalloc:
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                line += f"; traced peak {peak / 2**20:.1f} MiB"
            print(line, flush=True)
    finally:
        parent.profiles.all().delete()
        workspace.delete()
        # The temporary SQLite file of a million rows is a few hundred MiB.
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
