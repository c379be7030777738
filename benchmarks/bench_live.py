"""Benchmark of a live parent segment (segments/live.py) against the same segment on an imported
copy: the rows read in the PostgreSQL source at each use versus read from our profile store.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_live.py [--rows N] [--database-url URL]
        [--source-url URL] [--json PATH]

The source is bench_refresh.py's: a PostgreSQL database (`--source-url`, default
postgres://postgres@127.0.0.1:5432/refresh_bench_source, created if missing) with a typed
`customers` table of N generated rows. The imported parent is a refresh of that table into
the service's database (`--database-url`; PostgreSQL to compare with COPY on both sides). For a
whole-table segment and a 30% segment, each median of three, live time / imported time:
- size: `audience.size` (the live one also checks the key is unique in the source);
- read + render + encode as a run reads: `streaming.lines` (COPY in the source for live,
  COPY on our store for imported);
- read + render + encode through Python: `audience.iter_rows` → `runner.render` →
  `csvio.encode_row` (incremental runs and dry runs read this way).
Both sides must give the same bytes (checked). Figures printed, then as JSON (--json).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_refresh import DEFAULT_SOURCE, load_source  # noqa: E402
from bench_sqlpipe import (  # noqa: E402
    SEGMENTS,
    median_time,
    python_path,
    streamed_lines,
    upsert_activation,
    write_results,
)
from customers import COLUMNS, CONTACT_COLUMNS  # noqa: E402
from database import describe_machine, max_rss_mib, set_up  # noqa: E402

# No String Builder column: the two activations' rows are byte for byte the same.
MAPPING = {"export_all_columns": False, "columns": CONTACT_COLUMNS, "strings": []}


def make_parents(workspace, source) -> dict:
    from segments import refresh, services

    parents = {}
    for storage in ("imported", "live"):
        parents[storage] = services.create_parent_segment(
            workspace=workspace,
            data={
                "name": f"Customers ({storage})",
                "key_column": "customer_id",
                "columns": COLUMNS,
                "source": {"source": source.pk, "table": "public.customers", "storage": storage},
            },
        )
    started = time.perf_counter()
    done = refresh.refresh_now(parents["imported"])
    if done.status != "succeeded":
        sys.exit(f"refresh failed: {done.error}")
    print(f"set-up: the imported copy refreshed in {time.perf_counter() - started:.1f} s")
    return parents


def make_activation(workspace, connection_, parent, label: str):
    from segments.models import Segment

    segment = Segment.objects.create(
        workspace=workspace,
        parent_segment=parent,
        name=f"{label} ({parent.storage})"[:60],
        rules=SEGMENTS[label],
    )
    return upsert_activation(segment, connection_, name=f"Send {segment.name}", mapping=MAPPING)


def measure(activation, timestamp) -> dict:
    from segments import audience

    size_seconds, size = median_time(lambda: audience.size(activation.segment))
    lines_seconds, lines_bytes = median_time(lambda: streamed_lines(activation, timestamp))
    python_seconds, python_bytes = median_time(lambda: python_path(activation, timestamp))
    if lines_bytes != python_bytes:
        sys.exit(
            f"{activation.name}: lines give {lines_bytes} bytes, the Python path {python_bytes}"
        )
    return {
        "rows": size,
        "bytes": lines_bytes,
        "size_seconds": round(size_seconds, 3),
        "lines_seconds": round(lines_seconds, 3),
        "python_path_seconds": round(python_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--source-url", default=DEFAULT_SOURCE)
    parser.add_argument("--json", default="", help="write the figures here (default: print)")
    arguments = parser.parse_args()

    # The source is on this machine: a loopback address the service refuses unless listed.
    os.environ["SOURCE_ALLOWED_HOSTS"] = "127.0.0.1:5432,localhost:5432"
    workdir = Path(tempfile.mkdtemp(prefix="bench_live_"))
    set_up(arguments.database_url, workdir=workdir)
    from django.utils import timezone

    from activations.models import Activation
    from connectors.models import Connection
    from segments import services
    from segments.models import ParentSegment
    from sources.models import Source
    from workspaces.models import Workspace

    load_source(arguments.source_url, arguments.rows, workdir)
    machine = describe_machine()
    print(f"{machine}\nsource: {arguments.rows:,} rows in {arguments.source_url}")
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine,
        "command": " ".join(["benchmarks/bench_live.py", *sys.argv[1:]]),
        "segments": [],
    }
    workspace = Workspace.objects.create(name="Live benchmark")
    url = arguments.source_url.replace("postgres://", "postgresql://", 1)
    try:
        source = Source.objects.create(
            workspace=workspace, name="Bench", url=url, kind="postgresql"
        )
        parents = make_parents(workspace, source)
        connection_ = Connection.objects.create(
            workspace=workspace, name="Unused", login_url="https://login.salesforce.com"
        )
        timestamp = timezone.now()
        print(
            f"{'segment':<36} {'rows':>10} {'size: live / imported':>26} "
            f"{'lines: live / imported':>27} {'Python path: live / imported':>31}"
        )
        for label in SEGMENTS:
            figures = {
                storage: measure(make_activation(workspace, connection_, parent, label), timestamp)
                for storage, parent in parents.items()
            }
            live, imported = figures["live"], figures["imported"]
            if live["bytes"] != imported["bytes"]:
                sys.exit(f"{label}: live gives {live['bytes']} bytes, imported {imported['bytes']}")
            ratios = {
                name: round(live[name] / imported[name], 2)
                for name in ("size_seconds", "lines_seconds", "python_path_seconds")
            }
            print(
                f"{label:<36} {live['rows']:>10,} "
                f"{live['size_seconds']:>7.2f}s /{imported['size_seconds']:>6.2f}s "
                f"({ratios['size_seconds']:>4.2f}x) "
                f"{live['lines_seconds']:>7.2f}s /{imported['lines_seconds']:>6.2f}s "
                f"({ratios['lines_seconds']:>4.2f}x) "
                f"{live['python_path_seconds']:>8.2f}s /{imported['python_path_seconds']:>6.2f}s "
                f"({ratios['python_path_seconds']:>4.2f}x)",
                flush=True,
            )
            results["segments"].append(
                {"segment": label, "live": live, "imported": imported, "ratios": ratios}
            )
        results["peak_rss_mib"] = round(max_rss_mib())
    finally:
        Activation.objects.filter(workspace=workspace).delete()
        Connection.objects.filter(workspace=workspace).delete()
        for parent in ParentSegment.objects.filter(workspace=workspace):
            services.delete(parent)  # its profiles, or its snapshot table
        Workspace.objects.filter(pk=workspace.pk).delete()
        shutil.rmtree(workdir)
    write_results(results, arguments.json)


if __name__ == "__main__":
    main()
