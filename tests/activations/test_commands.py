"""Operator commands: run_activation (queue, or run inline with --wait) and list_runs."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from activations.models import Activation, Run
from tests.activations.test_runner import make_emulated_activation
from tests.factories import (
    make_activation,
)

pytestmark = pytest.mark.django_db


def run_command(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def make_plain_activation(name: str = "Push to Contacts") -> Activation:
    return make_activation(name=name)


def test_run_activation_queues_a_manual_run_for_the_workers(django_capture_on_commit_callbacks):
    activation = make_plain_activation()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        output = run_command("run_activation", str(activation.pk))

    run = Run.objects.get(activation=activation)
    assert output == f"Queued run {run.pk} of activation {activation.pk} (Push to Contacts).\n"
    assert (run.status, run.trigger) == (Run.Status.QUEUED, Run.Trigger.MANUAL)
    assert len(callbacks) == 1  # the task message, sent once the run is committed


def test_run_activation_wait_runs_it_here_and_prints_the_result(
    salesforce_emulator, django_capture_on_commit_callbacks
):
    activation = make_emulated_activation(salesforce_emulator, rows=12)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        output = run_command("run_activation", str(activation.pk), "--wait")

    run = Run.objects.get(activation=activation)
    assert callbacks == []  # nothing was sent to the workers
    assert run.status == Run.Status.SUCCEEDED
    assert output.splitlines() == [
        f"Running run {run.pk} of activation {activation.pk} (Push to Contacts)...",
        f"Run {run.pk}: Succeeded",
        "Rows read 12, sent 12, succeeded 12, failed 0",
        f"Salesforce jobs: {', '.join(run.salesforce_job_ids)}",
    ]
    assert len(salesforce_emulator.records("Contact")) == 12


def test_run_activation_wait_reports_a_failure_as_an_error(salesforce_emulator):
    activation = make_emulated_activation(
        salesforce_emulator, rows=3, connection={"password": "wrong-password"}
    )
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("run_activation", str(activation.pk), "--wait", stdout=out)

    run = Run.objects.get(activation=activation)
    assert str(raised.value) == f"Run {run.pk} ended failed."
    assert out.getvalue().splitlines()[1:] == [
        f"Run {run.pk}: Failed",
        "Rows read 0, sent 0, succeeded 0, failed 0",
        "Error: Salesforce rejected the username, password or security token "
        "(or the user is locked out).",
    ]


def test_run_activation_refuses_while_a_run_is_active():
    activation = make_plain_activation()
    active = Run.objects.create(activation=activation, status=Run.Status.RUNNING)

    with pytest.raises(CommandError) as raised:
        run_command("run_activation", str(activation.pk))

    assert str(raised.value) == (
        f"Activation Push to Contacts already has a run in progress (run {active.pk})."
    )
    assert Run.objects.filter(activation=activation).count() == 1


def test_run_activation_names_an_unknown_activation():
    with pytest.raises(CommandError) as raised:
        run_command("run_activation", "999")

    assert str(raised.value) == "There is no activation 999."


def make_history():
    contacts = make_plain_activation("Push to Contacts")
    leads = make_plain_activation("Leads nightly")
    runs = []
    for activation, status, error in [
        (contacts, Run.Status.SUCCEEDED, ""),
        (leads, Run.Status.FAILED, "Salesforce rejected the username, password or security token."),
        (contacts, Run.Status.PARTIALLY_FAILED, "Salesforce refused 2 rows.\nSecond line."),
    ]:
        run = Run.objects.create(
            activation=activation,
            status=status,
            error=error,
            rows_read=10,
            rows_succeeded=8 if status == Run.Status.PARTIALLY_FAILED else 10,
            rows_failed=2 if status == Run.Status.PARTIALLY_FAILED else 0,
        )
        runs.append(run)
    for number, run in enumerate(runs, start=1):
        Run.objects.filter(pk=run.pk).update(queued_at=datetime(2025, 3, number, 9, 0, tzinfo=UTC))
    return contacts, leads, runs


def test_list_runs_prints_a_table_newest_first():
    contacts, leads, (first, second, third) = make_history()

    lines = run_command("list_runs").splitlines()

    assert lines[0].split() == [
        "ID",
        "ACTIVATION",
        "TRIGGER",
        "STATUS",
        "QUEUED",
        "AT",
        "(UTC)",
        "READ",
        "SUCCEEDED",
        "FAILED",
        "ERROR",
    ]
    assert [line.split()[0] for line in lines[1:]] == [str(third.pk), str(second.pk), str(first.pk)]
    assert lines[1].split() == [
        str(third.pk),
        str(contacts.pk),
        "Push",
        "to",
        "Contacts",
        "manual",
        "partially_failed",
        "2025-03-03",
        "09:00:00",
        "10",
        "8",
        "2",
        "Salesforce",
        "refused",
        "2",
        "rows.",
    ]


def test_list_runs_filters_by_activation_and_status_and_limits():
    contacts, leads, (first, second, third) = make_history()

    by_activation = run_command("list_runs", "--activation", str(contacts.pk)).splitlines()
    by_status = run_command("list_runs", "--status", "failed").splitlines()
    limited = run_command("list_runs", "--limit", "1").splitlines()

    assert [line.split()[0] for line in by_activation[1:]] == [str(third.pk), str(first.pk)]
    assert [line.split()[0] for line in by_status[1:]] == [str(second.pk)]
    assert [line.split()[0] for line in limited[1:]] == [str(third.pk)]


def test_list_runs_says_when_there_are_none():
    assert run_command("list_runs", "--status", "running") == "No runs.\n"
