"""A real `celery beat` and `celery worker` over Redis run a scheduled activation by themselves.

The two processes use the project settings (config.settings) with the test database, a Redis
broker and the Salesforce emulator of this test session. Needs PostgreSQL (an in-memory SQLite
test database cannot be shared with other processes) and Redis at 127.0.0.1:6379.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from activations import beat
from activations.models import Activation, Run
from common import schedules
from tests.factories import (
    CONTACT_MAPPING,
    UPSERT_BY_CUSTOMER_KEY,
    make_activation,
    make_connection,
    make_parent_segment,
    make_profiles,
    make_segment,
    make_workspace,
)
from tests.redis_db import own_redis_database

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

# A Redis database of its own, emptied before and after, so no stale message is delivered.
BROKER_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
CELERY = str(Path(sys.executable).with_name("celery"))
PROJECT_DIR = Path(settings.BASE_DIR)
FINISHED = (Run.Status.SUCCEEDED, Run.Status.PARTIALLY_FAILED, Run.Status.FAILED)


def shared_database_url() -> str:
    """The test database as a DATABASE_URL other processes can use."""
    if connection.vendor != "postgresql":
        pytest.skip("needs a database other processes can open: run with DATABASE_URL=postgres://…")
    db = connection.settings_dict
    credentials = quote(db["USER"] or "")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"])
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def broker():
    with own_redis_database(BROKER_URL) as url:
        yield url


class CeleryProcesses:
    """celery subcommands started as processes, each in its own process group."""

    def __init__(self, environment: dict[str, str], log_dir: Path) -> None:
        self.environment = environment
        self.log_dir = log_dir
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    def start(self, *arguments: str) -> None:
        log_path = self.log_dir / f"{arguments[0]}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [CELERY, "-A", "config", *arguments],
                cwd=PROJECT_DIR,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a group of its own, with the pool's children
            )
        self.processes.append((process, log_path))

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for _, path in self.processes
        )

    def check_alive(self) -> None:
        for process, path in self.processes:
            if process.poll() is not None:
                pytest.fail(f"celery {path.stem} exited with {process.returncode}\n{self.logs()}")

    def __enter__(self) -> "CeleryProcesses":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def celery_processes(transactional_db, broker, salesforce_emulator, tmp_path):
    """Worker and beat processes on the test database; stopped at the end, before the test
    database is emptied."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",  # not the eager test settings
        "DATABASE_URL": shared_database_url(),
        "CELERY_BROKER_URL": broker,
        "SALESFORCE_ALLOWED_HOSTS": salesforce_emulator.host,
        "REQUESTS_CA_BUNDLE": salesforce_emulator.ca_path,
        "CURL_CA_BUNDLE": salesforce_emulator.ca_path,
        "VAR_DIR": str(tmp_path / "var"),
        "EMAIL_HOST": "",
        "PYTHONUNBUFFERED": "1",
    }
    with CeleryProcesses(environment, tmp_path) as processes:
        yield processes


def make_scheduled_activation(emulator) -> Activation:
    workspace = make_workspace()
    parent = make_parent_segment(workspace=workspace)
    make_profiles(parent, 7)
    segment = make_segment(parent=parent, name="Everyone")
    connection = make_connection(workspace=workspace, login_url=emulator.url)
    activation = make_activation(
        segment=segment,
        connection=connection,
        **UPSERT_BY_CUSTOMER_KEY,
        retry_initial_delay=0,
        output_mapping=CONTACT_MAPPING,
        schedule_type="cron",
        cron="* * * * *",
        timezone="Asia/Tokyo",
    )
    beat.sync_periodic_task(activation)
    return activation


def test_beat_and_a_worker_run_a_scheduled_activation_by_themselves(
    celery_processes, salesforce_emulator, tmp_path
):
    activation = make_scheduled_activation(salesforce_emulator)
    created_at = timezone.now()
    shown = schedules.next_runs("cron", "* * * * *", "Asia/Tokyo", count=4, after=created_at)

    celery_processes.start(
        "worker",
        "--loglevel=INFO",
        "--concurrency=2",
        f"--hostname=live-{uuid.uuid4().hex[:8]}@%h",
        "--without-mingle",
        "--without-gossip",
    )
    celery_processes.start("beat", "--loglevel=INFO", f"--pidfile={tmp_path / 'beat.pid'}")

    runs: list[Run] = []
    deadline = time.monotonic() + 200
    while time.monotonic() < deadline:
        celery_processes.check_alive()
        runs = list(
            Run.objects.filter(activation=activation, status__in=FINISHED).order_by("scheduled_for")
        )
        if len(runs) >= 2:
            break
        time.sleep(1)
    else:
        pytest.fail(f"no two scheduled runs finished in time: {runs}\n{celery_processes.logs()}")

    first, second = runs[:2]
    for run in (first, second):
        assert run.trigger == Run.Trigger.SCHEDULE
        assert run.status == Run.Status.SUCCEEDED, run.error
        assert (run.rows_read, run.rows_succeeded, run.rows_failed) == (7, 7, 0)
    # The slots beat fired are run times we showed, one minute apart, the first one first.
    assert first.scheduled_for == shown[0]
    assert second.scheduled_for == shown[1]
    assert second.scheduled_for - first.scheduled_for == timedelta(minutes=1)
    # Each ran right after its slot (no delay configured), not before it.
    assert first.scheduled_for <= first.started_at < first.scheduled_for + timedelta(seconds=30)
    contacts = {
        record["Customer_Key__c"]: record for record in salesforce_emulator.records("Contact")
    }
    assert sorted(contacts) == [f"C{number:04d}" for number in range(1, 8)]
    assert contacts["C0003"]["LastName"] == "Last3"
