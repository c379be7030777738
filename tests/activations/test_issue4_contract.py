"""Issue 4 as an operator reads it: beat rows never outlive their activation, whatever deletes it."""

import pytest
from django.db.models import ProtectedError
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from activations import beat, tasks
from activations.models import Activation, Run
from tests.factories import (
    make_activation,
    make_connection,
    make_parent_segment,
    make_segment,
    make_workspace,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def workspace():
    return make_workspace()


@pytest.fixture
def scheduled(workspace):
    """An hourly activation with its PeriodicTask."""
    segment = make_segment(parent=make_parent_segment(workspace=workspace))
    activation = make_activation(
        segment=segment,
        connection=make_connection(workspace=workspace),
        schedule_type="hourly",
        timezone="Asia/Tokyo",
    )
    beat.sync_periodic_task(activation)
    assert PeriodicTask.objects.filter(name=f"activation:{activation.pk}").count() == 1
    return activation


def test_deleting_the_segment_removes_the_activations_periodic_task(scheduled):
    scheduled.segment.delete()

    assert not Activation.objects.filter(pk=scheduled.pk).exists()
    assert PeriodicTask.objects.filter(name__startswith="activation:").count() == 0


def test_a_workspace_with_an_activation_cannot_be_deleted_so_no_task_is_orphaned(
    scheduled, workspace
):
    # Activations protect their connection, which protects its workspace.
    with pytest.raises(ProtectedError):
        workspace.delete()

    assert PeriodicTask.objects.filter(name=f"activation:{scheduled.pk}").count() == 1


def test_deleting_the_activation_model_directly_removes_its_periodic_task(scheduled):
    # The admin deletes with Model.delete(), not through the services.
    scheduled.delete()

    assert PeriodicTask.objects.filter(name__startswith="activation:").count() == 0


def test_a_firing_for_a_missing_activation_queues_nothing_and_removes_the_leftover_task():
    leftover = PeriodicTask.objects.create(
        name="activation:987654",
        task=beat.RUN_SCHEDULED_ACTIVATION_TASK,
        kwargs='{"activation_id": 987654}',
        crontab=CrontabSchedule.objects.create(minute="0", hour="*"),
    )

    tasks.run_scheduled_activation.apply(kwargs={"activation_id": 987654}).get()

    assert not PeriodicTask.objects.filter(pk=leftover.pk).exists()
    assert Run.objects.count() == 0


def test_the_connection_of_an_activation_cannot_be_deleted(scheduled):
    with pytest.raises(ProtectedError):
        scheduled.connection.delete()

    assert PeriodicTask.objects.filter(name=f"activation:{scheduled.pk}").count() == 1
