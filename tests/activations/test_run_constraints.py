"""One queued or running run per activation, held by the database; CrontabSchedule rows
reused even when duplicates exist."""

from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django_celery_beat.models import CrontabSchedule

from activations import beat, services
from activations.models import Run
from tests.factories import (
    make_activation,
    make_connection,
    make_parent_segment,
    make_segment,
    make_workspace,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def activation():
    workspace = make_workspace()
    return make_activation(
        segment=make_segment(parent=make_parent_segment(workspace=workspace)),
        connection=make_connection(workspace=workspace),
        schedule_type="cron",
        cron="30 6 * * 1",
        timezone="Asia/Tokyo",
    )


@pytest.mark.parametrize("second_status", [Run.Status.QUEUED, Run.Status.RUNNING])
def test_the_database_refuses_a_second_active_run(activation, second_status):
    Run.objects.create(activation=activation, status=Run.Status.RUNNING)

    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(activation=activation, status=second_status)

    assert activation.runs.count() == 1


def test_finished_and_skipped_runs_do_not_count_as_active(activation):
    for status in (Run.Status.SUCCEEDED, Run.Status.FAILED, Run.Status.SKIPPED):
        Run.objects.create(activation=activation, status=status)
    Run.objects.create(activation=activation, status=Run.Status.QUEUED)
    # Another activation has its own active run.
    other = make_activation(segment=activation.segment, connection=activation.connection)
    Run.objects.create(activation=other, status=Run.Status.QUEUED)

    assert Run.objects.filter(status__in=Run.ACTIVE_STATUSES).count() == 2


def test_an_active_run_written_past_the_service_is_still_a_run_conflict(activation):
    active = Run.objects.create(activation=activation, status=Run.Status.QUEUED)

    with pytest.raises(services.RunConflict) as raised:
        services.request_run(activation=activation, trigger=Run.Trigger.MANUAL)

    assert raised.value.run == active
    # Turning the active run back into a queued one on the side is refused by the index.
    done = Run.objects.create(activation=activation, status=Run.Status.SUCCEEDED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.filter(pk=done.pk).update(status=Run.Status.RUNNING)


def test_a_save_reuses_the_oldest_of_duplicate_crontabs(activation):
    fields = {
        "minute": "30",
        "hour": "6",
        "day_of_month": "*",
        "month_of_year": "*",
        "day_of_week": "1",
        "timezone": ZoneInfo("Asia/Tokyo"),
    }
    # Two identical rows, as the admin or two concurrent first saves leave them.
    first = CrontabSchedule.objects.create(**fields)
    CrontabSchedule.objects.create(**fields)

    task = beat.sync_periodic_task(activation)
    assert task.crontab_id == first.pk
    activation.name = "Renamed"
    assert beat.sync_periodic_task(activation).crontab_id == first.pk
    assert CrontabSchedule.objects.count() == 2
