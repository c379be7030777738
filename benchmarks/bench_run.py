"""Benchmark of a whole run: segment rows read, rendered and written to the Salesforce emulator.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_run.py [--rows N] [--database-url URL] [--batch-size N]
        [--emulator-process] [--processing-delay SECONDS] [--tracemalloc]

Imports N generated customers (100,000 by default) into a parent segment, makes a segment of
all of them (age 18 or more) and a connection to the Salesforce emulator over HTTPS, then
executes two runs with activations.runner.execute_run, as a worker does: an append run
(insert into Contact) and an upsert run (update by the External ID Customer_Key__c, every
record found). Both use an output mapping of nine renamed columns and a string-builder column.
For each run it prints rows/s end to end, the Bulk API jobs, the time spent reading and
rendering the segment's rows (the rest is CSV encoding, HTTPS and the emulator), and memory.

The emulator is part of what is measured: it parses every uploaded CSV and stores every
record in Python. By default it runs in this process (threads, sharing the interpreter with
the run); --emulator-process starts it as a separate process instead, so that this process's
CPU time and memory are the run's own and the emulator's CPU time is printed apart.
--processing-delay is the emulator's pause per job state (the tests' 0.05 s by default).
Without --database-url the database is a fresh SQLite file in a temporary directory.
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from customers import CONTACT_COLUMNS, EVERYONE, load_parent  # noqa: E402
from database import REPOSITORY, describe_machine, max_rss_mib, set_up  # noqa: E402

sys.path.insert(0, str(REPOSITORY))
from tests.salesforce_emulator.state import (  # noqa: E402
    DEFAULT_PASSWORD,
    DEFAULT_SECURITY_TOKEN,
    DEFAULT_USERNAME,
)

MAPPING = {
    "export_all_columns": False,
    "columns": CONTACT_COLUMNS,
    "strings": [
        {
            "output": "Description",
            "parts": [
                {"type": "string", "value": "Segment "},
                {"type": "segment_name"},
                {"type": "string", "value": " (audience "},
                {"type": "audience_id"},
                {"type": "string", "value": ") exported "},
                {"type": "timestamp"},
            ],
        }
    ],
}


def request_kind(method: str, path: str) -> str:
    """What one request to the emulator was, for counting them."""
    if "/Soap/" in path or "/oauth2/" in path:
        return "login"
    if "/describe" in path:
        return "describe"
    if "/jobs/" not in path:
        return "other"
    if path.rstrip("/").endswith(("Results", "unprocessedrecords", "results")):
        return "result files"
    return {"POST": "job create", "PUT": "upload", "PATCH": "close", "GET": "poll"}.get(
        method, "other"
    )


class EmulatorProcess:
    """The emulator as a child process (python -m tests.salesforce_emulator)."""

    def __init__(self, processing_delay: float) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.salesforce_emulator",
                "--port",
                "0",
                "--processing-delay",
                str(processing_delay),
            ],
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            text=True,
        )
        for line in self.process.stdout:
            if line.startswith("Salesforce emulator at "):
                self.url = line.split(" at ", 1)[1].strip()
            elif line.startswith("CA certificate: "):
                self.ca_path = line.split(": ", 1)[1].strip()
            elif line.startswith("Ctrl-C stops it."):
                break
        self.host = self.url.removeprefix("https://")

    def stop(self) -> tuple[float, float]:
        """Stop it; return its CPU seconds and peak RSS in MiB."""
        self.process.terminate()
        self.process.wait(timeout=30)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


class Stopwatch:
    """Time spent producing rows, measured around the rows the runner snapshots, in the
    runner's thread: the segment's CSV lines from one SELECT (COPY on PostgreSQL); storing
    the snapshot chunks happens between two lines and is not counted."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.last_row_at = 0.0

    def around(self, produce):
        """`produce` (runner._snapshot_lines), its rows timed."""

        def timed_rows(*args, **kwargs):
            return self.timed(produce(*args, **kwargs))

        return timed_rows

    def timed(self, rows):
        iterator = iter(rows)
        clock = time.perf_counter
        while True:
            started = clock()
            try:
                row = next(iterator)
            except StopIteration:
                self.seconds += clock() - started
                self.last_row_at = clock()
                return
            self.seconds += clock() - started
            yield row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--batch-size", type=int, default=10_000, help="rows per Bulk API job")
    parser.add_argument("--emulator-process", action="store_true")
    parser.add_argument("--processing-delay", type=float, default=0.05)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also Python's traced peak (slower)"
    )
    arguments = parser.parse_args()

    if arguments.emulator_process:
        emulator = EmulatorProcess(arguments.processing_delay)
    else:
        from tests.salesforce_emulator import SalesforceEmulator

        emulator = SalesforceEmulator().start()
        emulator.settings.processing_delay = arguments.processing_delay
    # What the pytest fixture does: allow the emulator as a login host, trust its certificate.
    os.environ["SALESFORCE_ALLOWED_HOSTS"] = emulator.host
    os.environ["REQUESTS_CA_BUNDLE"] = emulator.ca_path
    os.environ["CURL_CA_BUNDLE"] = emulator.ca_path

    workdir = Path(tempfile.mkdtemp(prefix="bench_run_"))
    set_up(arguments.database_url, workdir=workdir, settings="tests.settings")
    from activations import runner, services
    from activations.models import Activation, Run
    from connectors.models import Connection
    from segments import audience
    from segments.models import Segment
    from workspaces.models import Workspace

    print(describe_machine())
    where = "a separate process" if arguments.emulator_process else "this process (threads)"
    print(f"emulator: {emulator.url}, in {where}, {arguments.processing_delay} s per job state")
    workspace = Workspace.objects.create(name="Run benchmark")
    try:
        parent = load_parent(workspace=workspace, rows=arguments.rows, workdir=workdir)
        segment = Segment.objects.create(
            workspace=workspace, parent_segment=parent, name="Everyone", rules=EVERYONE
        )
        size = audience.size(segment)
        connection = Connection.objects.create(
            workspace=workspace,
            name="Emulated org",
            login_url=emulator.url,
            username=DEFAULT_USERNAME,
            password=DEFAULT_PASSWORD,
            security_token=DEFAULT_SECURITY_TOKEN,
        )
        exports = [
            ("append (insert)", {"mode": "append"}),
            ("upsert (update)", {"mode": "update", "upsert": True, "key": "Customer_Key__c"}),
        ]
        print(
            f"runs of {size:,} rows, {len(MAPPING['columns'])} renamed columns + 1 string "
            f"builder, batch size {arguments.batch_size:,}, parallel jobs:"
        )
        for label, export in exports:
            activation = services.create_activation(
                workspace=workspace,
                data={
                    "name": f"Benchmark {label}",
                    "segment": segment.pk,
                    "connection": connection.pk,
                    "export": {
                        "object": "Contact",
                        "batch_size": arguments.batch_size,
                        **export,
                    },
                    "output_mapping": MAPPING,
                },
            )
            run = services.request_run(
                activation=activation, trigger=Run.Trigger.MANUAL, publish=False
            )
            stopwatch = Stopwatch()
            produce = runner._snapshot_lines
            runner._snapshot_lines = stopwatch.around(produce)
            requests_before = 0 if arguments.emulator_process else len(emulator.requests_log)
            if arguments.tracemalloc:
                tracemalloc.start()
            rss_before = max_rss_mib()
            cpu_started = time.process_time()
            started = time.perf_counter()
            try:
                run = runner.execute_run(run.pk)
            finally:
                runner._snapshot_lines = produce
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            if run.status != Run.Status.SUCCEEDED or run.rows_succeeded != size:
                sys.exit(f"{label}: {run.status} {run.rows_succeeded:,} rows: {run.error}")
            print(
                f"  {label}: {size:,} rows in {elapsed:.1f} s = {size / elapsed:,.0f} rows/s; "
                f"{len(run.salesforce_job_ids)} Bulk API job(s)"
            )
            tail = elapsed - (stopwatch.last_row_at - started)
            print(
                f"    reading the rows (CSV lines from one SELECT) {stopwatch.seconds:.1f} s "
                f"({stopwatch.seconds / elapsed:.0%}); after the last row, waiting for the "
                f"last jobs {tail:.1f} s; this process's CPU {cpu:.1f} s"
            )
            if not arguments.emulator_process:
                requests = Counter(
                    request_kind(method, path)
                    for method, path in emulator.requests_log[requests_before:]
                )
                print(
                    "    requests to the emulator: "
                    + ", ".join(f"{count} {kind}" for kind, count in requests.most_common())
                )
            line = f"    peak RSS {max_rss_mib():.0f} MiB (+{max_rss_mib() - rss_before:.0f} MiB)"
            if arguments.tracemalloc:
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                line += f"; Python's traced peak {peak / 2**20:.1f} MiB"
            print(line, flush=True)
        if not arguments.emulator_process:
            stored = len(emulator.records("Contact"))
            print(f"emulator holds {stored:,} Contact records")
    finally:
        try:
            # Activations and connections protect their workspace from deletion.
            Activation.objects.filter(workspace=workspace).delete()
            Connection.objects.filter(workspace=workspace).delete()
            Workspace.objects.filter(pk=workspace.pk).delete()
        finally:
            shutil.rmtree(workdir)
            if arguments.emulator_process:
                cpu, rss = emulator.stop()
                print(f"emulator process: CPU {cpu:.1f} s, peak RSS {rss:.0f} MiB")
            else:
                emulator.stop()


if __name__ == "__main__":
    main()
