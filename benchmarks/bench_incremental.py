"""Benchmark of incremental sync: a full run, then a run after 1% of the rows changed.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_incremental.py [--rows N] [--changed-share 0.01]
        [--database-url URL] [--batch-size N] [--processing-delay SECONDS]

Imports N generated customers (1,000,000 by default) and makes a segment of all of them and
an upsert activation (External ID Customer_Key__c) with `export.sync` "incremental", against
the Salesforce emulator in this process. Then, with activations.runner.execute_run as a worker
runs it:

1. the same activation with `export.sync` "full": every row, no fingerprints (the floor);
2. the first incremental run: every row, and a fingerprint stored per accepted row;
3. after changing the last name of every 100th profile (1%): an incremental run, which must
   upload exactly those rows (counted in the emulator's uploaded CSVs) and skip the rest.

It prints each run's time, the ratio of run 3 to run 1, the rows uploaded, and the storage of
the fingerprints (PostgreSQL: the table with its indexes; SQLite: from dbstat when compiled in)
per million keys. The mapping has no timestamp string part: a part that changes every run makes
every row new every run (see docs/architecture.md).
"""

import argparse
import csv
import io
import os
import shutil
import sys
import tempfile
import time
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
    "strings": [],
}


def uploaded_rows(emulator, after_jobs: int) -> int:
    return sum(
        sum(1 for _ in csv.reader(io.StringIO(job.upload.decode()))) - 1
        for job in emulator.jobs[after_jobs:]
        if job.upload
    )


def change_every(parent, step: int) -> int:
    """Give every `step`-th profile (in key order) a new last name; returns how many."""
    from segments.models import Profile

    changed = []
    rows = Profile.objects.filter(parent_segment=parent).order_by("key").only("attributes")
    for index, profile in enumerate(rows.iterator(chunk_size=5000)):
        if index % step == 0:
            profile.attributes = {**profile.attributes, "last_name": f"Changed {index}"}
            changed.append(profile)
    Profile.objects.bulk_update(changed, ["attributes"], batch_size=2000)
    return len(changed)


def fingerprint_bytes() -> int | None:
    """Bytes the fingerprints table and its indexes take, or None if it cannot be told."""
    from django.db import DatabaseError, connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE activations_fingerprint")
            cursor.execute("SELECT pg_total_relation_size('activations_fingerprint')")
            return cursor.fetchone()[0]
        try:
            cursor.execute(
                "SELECT SUM(pgsize) FROM dbstat WHERE name = 'activations_fingerprint' "
                "OR tbl_name = 'activations_fingerprint'"
            )
        except DatabaseError:
            return None
        return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changed-share", type=float, default=0.01)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--batch-size", type=int, default=10_000, help="rows per Bulk API job")
    parser.add_argument("--processing-delay", type=float, default=0.05)
    arguments = parser.parse_args()

    from tests.salesforce_emulator import SalesforceEmulator

    emulator = SalesforceEmulator().start()
    emulator.settings.processing_delay = arguments.processing_delay
    os.environ["SALESFORCE_ALLOWED_HOSTS"] = emulator.host
    os.environ["REQUESTS_CA_BUNDLE"] = emulator.ca_path
    os.environ["CURL_CA_BUNDLE"] = emulator.ca_path

    workdir = Path(tempfile.mkdtemp(prefix="bench_incremental_"))
    set_up(arguments.database_url, workdir=workdir, settings="tests.settings")
    from activations import runner, services
    from activations.models import Activation, Fingerprint, Run
    from connectors.models import Connection
    from segments import audience
    from segments.models import Segment
    from workspaces.models import Workspace

    print(describe_machine())
    workspace = Workspace.objects.create(name="Incremental benchmark")
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
        activation = services.create_activation(
            workspace=workspace,
            data={
                "name": "Incremental benchmark",
                "segment": segment.pk,
                "connection": connection.pk,
                "export": {
                    "object": "Contact",
                    "mode": "update",
                    "upsert": True,
                    "key": "Customer_Key__c",
                    "batch_size": arguments.batch_size,
                    "sync": "full",
                },
                "output_mapping": MAPPING,
            },
        )
        print(f"segment of {size:,} rows, upsert by Customer_Key__c, parallel jobs")

        def timed_run(label: str) -> tuple[Run, float, int]:
            jobs = len(emulator.jobs)
            run = services.request_run(
                activation=activation, trigger=Run.Trigger.MANUAL, publish=False
            )
            started = time.perf_counter()
            run = runner.execute_run(run.pk)
            elapsed = time.perf_counter() - started
            uploaded = uploaded_rows(emulator, jobs)
            if run.status != Run.Status.SUCCEEDED:
                sys.exit(f"{label}: {run.status}: {run.error}")
            print(
                f"  {label}: {elapsed:.1f} s; {run.sync} ({run.sync_reason}); "
                f"uploaded {uploaded:,} rows, {run.rows_unchanged:,} unchanged; "
                f"peak RSS {max_rss_mib():.0f} MiB",
                flush=True,
            )
            return run, elapsed, uploaded

        _, full_seconds, _ = timed_run("1. full sync (the floor)")
        activation.sync = Activation.Sync.INCREMENTAL
        activation.save()
        _, first_seconds, _ = timed_run("2. first incremental run (full, storing fingerprints)")
        keys = Fingerprint.objects.filter(activation=activation).count()
        step = round(1 / arguments.changed_share)
        started = time.perf_counter()
        changed = change_every(parent, step)
        print(f"  changed {changed:,} profiles in {time.perf_counter() - started:.1f} s")
        _, incremental_seconds, uploaded = timed_run("3. incremental run")

        print(
            f"incremental run: {incremental_seconds / full_seconds:.3f} of the full sync's "
            f"time, {incremental_seconds / first_seconds:.3f} of the first incremental run's"
        )
        print(
            f"uploaded exactly the changed rows: {uploaded == changed} "
            f"({uploaded:,} uploaded, {changed:,} changed)"
        )
        stored = fingerprint_bytes()
        if stored is None:
            print(f"fingerprints: {keys:,} keys (storage not measurable on this SQLite build)")
        else:
            per_million = stored / keys * 1_000_000 if keys else 0
            print(
                f"fingerprints: {keys:,} keys in {stored / 2**20:.1f} MiB with indexes = "
                f"{per_million / 2**20:.0f} MiB per million keys ({stored / max(keys, 1):.0f} "
                "bytes per key)"
            )
        if uploaded != changed:
            sys.exit("the incremental run did not upload exactly the changed rows")
    finally:
        try:
            Activation.objects.filter(workspace=workspace).delete()
            Connection.objects.filter(workspace=workspace).delete()
            Workspace.objects.filter(pk=workspace.pk).delete()
        finally:
            shutil.rmtree(workdir)
            emulator.stop()


if __name__ == "__main__":
    main()
