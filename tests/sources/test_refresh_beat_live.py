"""A real `celery beat` and `celery worker` over Redis refresh a source-backed parent segment
on its schedule, from a real PostgreSQL source (see tests/activations/test_celery_beat_live.py
for the processes)."""

import os
import time
import uuid

import pytest

from segments import services
from segments.models import Refresh
from sources.models import Source
from tests.activations.test_celery_beat_live import (  # noqa: F401 (broker: a fixture)
    CeleryProcesses,
    broker,
    shared_database_url,
)
from tests.factories import make_workspace, rows_of

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def processes(transactional_db, request, tmp_path, source_settings):
    broker_url = request.getfixturevalue("broker")  # the activation suite's Redis database
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": shared_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "SOURCE_ALLOWED_HOSTS": "127.0.0.1:5432",
        "VAR_DIR": str(tmp_path / "var"),
        "EMAIL_HOST": "",
        "PYTHONUNBUFFERED": "1",
    }
    started = CeleryProcesses(environment, tmp_path)
    yield started
    started.stop()


def test_beat_refreshes_a_parent_segment_on_its_schedule(processes, pg_source, tmp_path):
    url, connection = pg_source
    connection.execute("CREATE TABLE people (id integer PRIMARY KEY, email text)")
    connection.execute(
        "INSERT INTO people SELECT n, 'p' || n || '@example.com' FROM generate_series(1, 5) n"
    )
    workspace = make_workspace()
    source = Source.objects.create(workspace=workspace, name="Db", url=url, kind="postgresql")
    parent = services.create_parent_segment(
        workspace=workspace,
        data={
            "name": "People",
            "key_column": "id",
            "source": {"source": source.pk, "table": "public.people"},
            "refresh": {"mode": "replace", "schedule": {"type": "cron", "cron": "* * * * *"}},
        },
    )

    processes.start(
        "worker",
        "--loglevel=INFO",
        "--concurrency=1",
        f"--hostname=refresh-{uuid.uuid4().hex[:8]}@%h",
        "--without-mingle",
        "--without-gossip",
    )
    processes.start("beat", "--loglevel=INFO", f"--pidfile={tmp_path / 'beat.pid'}")

    deadline = time.monotonic() + 150
    refresh = None
    while time.monotonic() < deadline:
        processes.check_alive()
        refresh = parent.refreshes.filter(status__in=["succeeded", "failed"]).first()
        if refresh is not None:
            break
        time.sleep(1)
    else:
        pytest.fail(f"no scheduled refresh finished in time\n{processes.logs()}")

    assert refresh.trigger == Refresh.Trigger.SCHEDULE
    assert refresh.status == Refresh.Status.SUCCEEDED, refresh.error
    assert refresh.scheduled_for is not None
    assert refresh.rows_imported == 5
    parent.refresh_from_db()
    assert parent.row_count == 5
    assert rows_of(parent)["3"] == {"id": 3, "email": "p3@example.com"}
    assert sorted(rows_of(parent)) == ["1", "2", "3", "4", "5"]
    services.delete(parent)  # a transactional test: its snapshot table too
