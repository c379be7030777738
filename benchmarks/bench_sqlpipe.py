"""Benchmark of the SQL pipeline (issue 13): a segment's rows rendered where they live.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_sqlpipe.py [--rows N] [--run-rows N] [--database-url URL]
        [--poll SECONDS] [--json PATH] [--skip-run] [--python-path]
        [--profile]

Imports N customers, then prints side by side, each as our time divided by a reference's time
measured in the same process just before (median of three):

- read + render + encode of a whole-table segment and of a 30% segment: the run's path
  (`activations.streaming.lines`; then with the key cell a run snapshots, cut off again and
  the lines cut into job chunks as a run does) and, with --python-path, the Python path runs
  used before (`audience.iter_rows` → `mapping.render_rows` → `csvio.encode_row`), against
  the floor: on PostgreSQL `COPY (SELECT <the same mapped columns> … WHERE <the rules>) TO
  STDOUT WITH CSV`; on SQLite `csv.writer` over the ready tuples (fetched beforehand).
- a whole upsert run (`runner.execute_run`) of --run-rows rows against the Salesforce emulator
  in its own process, against simple-salesforce's `bulk2` upsert of the same rows as a ready
  CSV file, same emulator, same batch size, the same fixed poll interval (--poll).
- peak RSS of this process (the run's, the emulator being apart).

Everything measured goes to --json (default: printed at the end) beside the printed table.
"""

import argparse
import cProfile
import csv
import io
import itertools
import json
import os
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_run import MAPPING, EmulatorProcess  # noqa: E402
from customers import EVERYONE, load_parent  # noqa: E402
from database import REPOSITORY, describe_machine, max_rss_mib, set_up  # noqa: E402

sys.path.insert(0, str(REPOSITORY))
from tests.salesforce_emulator.state import (  # noqa: E402
    DEFAULT_PASSWORD,
    DEFAULT_SECURITY_TOKEN,
    DEFAULT_USERNAME,
)

SEGMENTS = {
    "whole table": {"type": "and", "conditions": []},
    "30% (lifetime value 1000-2499.99)": {
        "type": "and",
        "conditions": [
            {"column": "lifetime_value", "operator": "between", "value": [1000, 2499.99]}
        ],
    },
}


def median_time(function, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


class NullFile:
    """A file that keeps nothing: csv.writer's floor is the encoding alone."""

    write = staticmethod(len)


def python_path(activation, timestamp) -> int:
    """What runs did before they read through the SQL path (--python-path)."""
    from activations import mapping
    from common.csvio import encode_row
    from segments import audience

    segment = activation.segment
    context = mapping.RenderContext(
        segment_id=segment.pk,
        segment_name=segment.name,
        audience_id=segment.parent_segment_id,
        timestamp=timestamp,
        timezone=activation.timezone or "UTC",
    )
    rows = mapping.render_rows(
        activation.output_mapping,
        columns=segment.parent_segment.columns,
        rows=audience.iter_rows(segment),
        context=context,
        null_value=activation.null_value,
    )
    return sum(len(encode_row(row)) for row in rows)


def streamed_lines(activation, timestamp) -> int:
    from activations import streaming

    return sum(map(len, streaming.lines(activation, timestamp=timestamp)))


def streamed_chunks(activation, timestamp) -> int:
    """A run's reading side without the database writes and the uploads: the lines as a run
    snapshots them (with a key field in append mode), joined into one text per chunk of
    10,000, read back as the chunk's upload lines (`steps.chunk_lines`) and cut into job
    files (spooled) as `run_step` does, each closed."""
    from types import SimpleNamespace

    from activations import runner, steps, streaming
    from connectors.salesforce.chunks import split_lines
    from connectors.salesforce.writer import MAX_JOB_BYTES

    columns = runner.output_columns(activation)
    key_cell = streaming.key_index(activation, activation.segment.parent_segment.columns)
    lines = streaming.lines(activation, timestamp=timestamp, with_key=key_cell is None)
    total = 0
    while batch := list(itertools.islice(lines, 10_000)):
        stored = SimpleNamespace(rows={"csv": b"".join(batch).decode(), "key_cell": key_cell})
        for chunk in split_lines(
            steps.chunk_lines(stored), columns, batch_size=10_000, max_bytes=MAX_JOB_BYTES
        ):
            total += chunk.row_count
            chunk.close()
    return total


def copy_floor(activation) -> int:
    """COPY of the same mapped columns (plain ->> extraction) under the same WHERE."""
    from django.db import connection

    from segments import sqlexec
    from segments.sql import PROFILE_TABLE

    columns = [column["source"] for column in activation.output_mapping["columns"]]
    rows = sqlexec.segment_rows(activation.segment)
    statement = rows.select(*(PROFILE_TABLE.c.attributes.op("->>")(name) for name in columns))
    text, params = sqlexec.compile_statement(statement)
    raw = connection.get_new_connection(connection.get_connection_params())
    try:
        raw.autocommit = True
        total = 0
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY ({text}) TO STDOUT WITH (FORMAT csv)", params) as copy,
        ):
            for line in copy:
                total += len(line)
        return total
    finally:
        raw.close()


def csv_writer_floor(tuples) -> int:
    csv.writer(NullFile(), lineterminator="\n").writerows(tuples)
    return len(tuples)


def upsert_activation(segment, connection_, *, name: str, mapping: dict = MAPPING, **export):
    """An upsert of Contacts by Customer_Key__c sending `segment` through `mapping`."""
    from activations import services

    return services.create_activation(
        workspace=segment.workspace,
        data={
            "name": name[:100],
            "segment": segment.pk,
            "connection": connection_.pk,
            "export": {
                "object": "Contact",
                "mode": "update",
                "upsert": True,
                "key": "Customer_Key__c",
                **export,
            },
            "output_mapping": mapping,
        },
    )


def render_part(workspace, parent, connection_, results: dict, *, python_too: bool) -> None:
    from django.db import connection
    from django.utils import timezone

    from activations import streaming
    from segments import audience
    from segments.models import Segment

    timestamp = timezone.now()
    print(
        f"{'segment':<36} {'rows':>10} {'floor':>8} {'python path':>18} {'streamed':>18} "
        f"{'into chunks':>18}"
    )
    for label, rules in SEGMENTS.items():
        segment = Segment.objects.create(
            workspace=workspace, parent_segment=parent, name=label[:50], rules=rules
        )
        activation = upsert_activation(segment, connection_, name=f"Render {label}")
        size = audience.size(segment)
        if connection.vendor == "postgresql":
            floor_name = "COPY (SELECT <mapped columns>) TO STDOUT"
            floor, _ = median_time(lambda activation=activation: copy_floor(activation))
        else:
            floor_name = "csv.writer over ready tuples"
            tuples = list(streaming.cells(activation, timestamp=timestamp))
            floor, _ = median_time(lambda tuples=tuples: csv_writer_floor(tuples))
            del tuples
        new, new_bytes = median_time(lambda a=activation: streamed_lines(a, timestamp))
        old, old_bytes = (
            median_time(lambda a=activation: python_path(a, timestamp))
            if python_too
            else (float("nan"), new_bytes)
        )
        chunked, _ = median_time(lambda a=activation: streamed_chunks(a, timestamp))
        # A profile of the cursor path: the SELECT's cells fetched, nothing encoded.
        fetched, _ = median_time(
            lambda a=activation: sum(1 for _ in streaming.cells(a, timestamp=timestamp))
        )
        if old_bytes != new_bytes:
            sys.exit(
                f"{label}: the streamed CSV has {new_bytes} bytes, the Python path {old_bytes}"
            )
        print(
            f"{label:<36} {size:>10,} {floor:>7.2f}s {old:>7.2f}s ({old / floor:>4.1f}x) "
            f"{new:>7.2f}s ({new / floor:>4.1f}x) {chunked:>7.2f}s ({chunked / floor:>4.1f}x) "
            f"{fetched:>7.2f}s",
            flush=True,
        )
        results["render"].append(
            {
                "segment": label,
                "rows": size,
                "floor": floor_name,
                "floor_seconds": round(floor, 3),
                "python_path_seconds": round(old, 3) if python_too else None,
                "streamed_seconds": round(new, 3),
                "streamed_into_chunks_seconds": round(chunked, 3),
                "cells_fetched_seconds": round(fetched, 3),
                "python_path_ratio": round(old / floor, 2) if python_too else None,
                "streamed_ratio": round(new / floor, 2),
                "streamed_into_chunks_ratio": round(chunked / floor, 2),
            }
        )


def run_part(workspace, parent, arguments, emulator, results: dict) -> None:
    import requests
    from simple_salesforce import Salesforce

    from activations import runner, services, streaming
    from activations.models import Activation, Run
    from connectors.models import Connection
    from connectors.salesforce import bulk
    from segments import audience
    from segments.models import Segment

    # One fixed poll interval for both clients.
    bulk.POLL_INITIAL_SECONDS = bulk.POLL_MAX_SECONDS = arguments.poll
    segment = Segment.objects.create(
        workspace=workspace, parent_segment=parent, name="Everyone", rules=EVERYONE
    )
    size = audience.size(segment)
    connection_ = Connection.objects.create(
        workspace=workspace,
        name="Emulated org",
        login_url=emulator.url,
        username=DEFAULT_USERNAME,
        password=DEFAULT_PASSWORD,
        security_token=DEFAULT_SECURITY_TOKEN,
    )

    def make_activation(name):
        return upsert_activation(segment, connection_, name=name, batch_size=10_000)

    # The ready CSV simple-salesforce uploads: the same rows, rendered once, untimed.
    activation = make_activation("Ready file")
    ready = Path(tempfile.mkdtemp(prefix="bench_sqlpipe_")) / "ready.csv"
    with open(ready, "wb") as file:
        from common.csvio import encode_row

        file.write(encode_row(runner.output_columns(activation)))
        for line in streaming.lines(activation, timestamp=time_now()):
            file.write(line)

    session = requests.Session()
    session.trust_env = False
    session.verify = emulator.ca_path
    sf = Salesforce(
        instance_url=emulator.url,
        session_id=soap_session_id(emulator.url, session),
        session=session,
    )
    seconds = {}
    # Upserts of records that exist after the first pass: run each client once to create
    # them, then time the second upsert of each (the emulator's store is the same size).
    for attempt in ("warm-up", "timed"):
        started = time.perf_counter()
        sf.bulk2.Contact.upsert(
            csv_file=str(ready),
            external_id_field="Customer_Key__c",
            batch_size=10_000,
            wait=arguments.poll,
        )
        seconds["simple-salesforce"] = time.perf_counter() - started
        run = services.request_run(
            activation=make_activation(f"Run {attempt}"),
            trigger=Run.Trigger.MANUAL,
            publish=False,
        )
        rss_before = max_rss_mib()
        profile = cProfile.Profile() if arguments.profile and attempt == "timed" else None
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        run = runner.execute_run(run.pk)
        seconds["run"] = time.perf_counter() - started
        if profile is not None:
            profile.disable()
            print_profile(run, profile)
        if run.status != Run.Status.SUCCEEDED or run.rows_succeeded != size:
            sys.exit(f"run: {run.status} {run.rows_succeeded:,} rows: {run.error}")
    ratio = seconds["run"] / seconds["simple-salesforce"]
    print(
        f"whole upsert run of {size:,} rows: ours {seconds['run']:.1f} s, simple-salesforce "
        f"bulk2 of the ready CSV {seconds['simple-salesforce']:.1f} s ({ratio:.2f}x); "
        f"poll every {arguments.poll} s; peak RSS {max_rss_mib():.0f} MiB "
        f"(+{max_rss_mib() - rss_before:.0f} MiB during the run)",
        flush=True,
    )
    results["run"] = {
        "rows": size,
        "run_seconds": round(seconds["run"], 2),
        "simple_salesforce_seconds": round(seconds["simple-salesforce"], 2),
        "ratio": round(ratio, 2),
        "poll_seconds": arguments.poll,
        "batch_size": 10_000,
    }
    Activation.objects.filter(workspace=workspace).delete()
    Connection.objects.filter(pk=connection_.pk).delete()
    shutil.rmtree(ready.parent)


def print_profile(run, profile) -> None:
    """Where the run's time went: its log lines at their offsets from the start (phases), and
    the runner thread's functions by cumulative time (job threads are not profiled)."""
    from datetime import datetime

    start = datetime.fromisoformat(run.log[0]["at"])
    for line in run.log:
        offset = (datetime.fromisoformat(line["at"]) - start).total_seconds()
        print(f"  {offset:7.2f} s  {line['message'][:100]}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
    print(out.getvalue(), flush=True)


def time_now():
    from django.utils import timezone

    return timezone.now()


SESSION_ID = re.compile(r"<sessionId>(.*?)</sessionId>")


def soap_session_id(url: str, session) -> str:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>'
        '<n1:login xmlns:n1="urn:partner.soap.sforce.com">'
        f"<n1:username>{DEFAULT_USERNAME}</n1:username>"
        f"<n1:password>{DEFAULT_PASSWORD}{DEFAULT_SECURITY_TOKEN}</n1:password></n1:login>"
        "</env:Body></env:Envelope>"
    )
    response = session.post(
        f"{url}/services/Soap/u/64.0",
        data=body.encode(),
        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"},
        timeout=30,
    )
    response.raise_for_status()
    return SESSION_ID.search(response.text).group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--run-rows", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--poll", type=float, default=0.2, help="poll interval, both clients")
    parser.add_argument("--json", default="", help="write the figures here (default: print)")
    parser.add_argument("--skip-run", action="store_true", help="only the render figures")
    parser.add_argument(
        "--profile", action="store_true", help="the timed run's phases and a cProfile"
    )
    parser.add_argument(
        "--python-path",
        action="store_true",
        help="also the Python path runs used before (iter_rows, render_rows; slow)",
    )
    arguments = parser.parse_args()

    emulator = None if arguments.skip_run else EmulatorProcess(processing_delay=0.05)
    if emulator is not None:
        os.environ["SALESFORCE_ALLOWED_HOSTS"] = emulator.host
        os.environ["REQUESTS_CA_BUNDLE"] = emulator.ca_path
        os.environ["CURL_CA_BUNDLE"] = emulator.ca_path
    workdir = Path(tempfile.mkdtemp(prefix="bench_sqlpipe_"))
    set_up(arguments.database_url, workdir=workdir, settings="tests.settings")
    from activations.models import Activation
    from connectors.models import Connection
    from workspaces.models import Workspace

    machine = describe_machine()
    print(machine)
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine,
        "command": " ".join(["benchmarks/bench_sqlpipe.py", *sys.argv[1:]]),
        "render": [],
    }
    workspace = Workspace.objects.create(name="SQL pipeline benchmark")
    try:
        parent = load_parent(workspace=workspace, rows=arguments.rows, workdir=workdir)
        connection_ = Connection.objects.create(
            workspace=workspace,
            name="Unused",
            login_url="https://login.salesforce.com",
            username="unused@example.com",
            password="",
        )
        render_part(workspace, parent, connection_, results, python_too=arguments.python_path)
        Activation.objects.filter(workspace=workspace).delete()
        connection_.delete()
        results["peak_rss_mib_after_render"] = round(max_rss_mib())
        if emulator is not None:
            run_parent = parent
            if arguments.run_rows != arguments.rows:
                run_parent = load_parent(
                    workspace=workspace,
                    rows=arguments.run_rows,
                    workdir=workdir,
                    name="Run customers",
                )
            run_part(workspace, run_parent, arguments, emulator, results)
        results["peak_rss_mib"] = round(max_rss_mib())
    finally:
        Activation.objects.filter(workspace=workspace).delete()
        Connection.objects.filter(workspace=workspace).delete()
        Workspace.objects.filter(pk=workspace.pk).delete()
        shutil.rmtree(workdir)
        if emulator is not None:
            emulator.stop()
    write_results(results, arguments.json)


def write_results(results: dict, path: str) -> None:
    """The figures as JSON, to `path` or printed."""
    text = json.dumps(results, indent=2)
    if path:
        Path(path).write_text(text + "\n")
        print(f"figures written to {path}")
    else:
        print(text)


if __name__ == "__main__":
    main()
