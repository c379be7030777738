"""A run whose worker dies at any step is resumed from its recorded steps: every row ends in
Salesforce exactly once, in append mode too, and every outcome is stored. Here the "kill"
is an exception nothing catches, raised at each step of the second chunk; the same with a
real Celery worker and SIGKILL is in test_stale_runs.py."""

import contextlib
import importlib
import random
import threading
from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from activations import runner, services
from activations.models import Activation, Run, RunChunk
from tests.activations.test_runner import make_emulated_activation
from tests.connectors.recording import speed_up
from tests.factories import KEY_AND_LAST_NAME_MAPPING

pytestmark = pytest.mark.django_db

STALE_AFTER = 600
APPEND_MAPPING = KEY_AND_LAST_NAME_MAPPING


class WorkerKilled(BaseException):
    """What the runner sees of a SIGKILL: nothing after this point runs in the worker."""


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    speed_up(monkeypatch)


def kill_on(monkeypatch, target: str, *, call: int, after: bool) -> None:
    """Make the `call`-th call of `target` kill the worker, before or after it did its work."""
    module_name, _, attribute = target.rpartition(".")
    owner = None
    parts = module_name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            owner = getattr(owner, name)
        break
    original = getattr(owner, attribute)
    calls = {"count": 0}

    lock = threading.Lock()

    def dying(*args, **kwargs):
        with lock:  # job threads call in parallel
            calls["count"] += 1
            number = calls["count"]
        if number == call and not after:
            raise WorkerKilled()
        result = original(*args, **kwargs)
        if number == call and after:
            raise WorkerKilled()
        return result

    monkeypatch.setattr(owner, attribute, dying)
    return lambda: monkeypatch.setattr(owner, attribute, original)


def killed_and_resumed(emulator, monkeypatch, capture, step, start) -> Run:
    """Start a run with `start()`, kill its worker at `step`, let the stale check resume it."""
    target, call, after = step
    restore = kill_on(monkeypatch, target, call=call, after=after)
    run = start()
    with pytest.raises(WorkerKilled):
        runner.execute_run(run.pk)
    restore()
    assert Run.objects.get(pk=run.pk).status == Run.Status.RUNNING
    emulator.wait_for_jobs()
    with (
        time_machine.travel(timezone.now() + timedelta(seconds=STALE_AFTER + 1)),
        capture(execute=True),
    ):
        assert runner.mark_stale_runs() == 0  # resumed, not failed
    run.refresh_from_db()
    assert run.progress["resumes"] == 1
    return run


STEPS = {
    # name: (function, which call, after it ran)
    "snapshot": ("activations.models.RunChunk.objects.create", 2, True),
    "job created": ("connectors.salesforce.bulk.BulkApi.upload", 2, False),
    "uploaded": ("connectors.salesforce.bulk.BulkApi.upload", 2, True),
    "closed": ("connectors.salesforce.bulk.BulkApi.close_job", 2, True),
    "results read": ("connectors.salesforce.results.collect", 2, True),
}


def activation_for(emulator, mode: str) -> Activation:
    if mode == "append":
        return make_emulated_activation(
            emulator,
            rows=30,
            mode=Activation.Mode.APPEND,
            upsert=False,
            key="",
            output_mapping=APPEND_MAPPING,
        )
    return make_emulated_activation(emulator, rows=30)


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER)
@pytest.mark.parametrize("mode", ["append", "upsert"])
@pytest.mark.parametrize("step", list(STEPS))
def test_a_run_killed_at_any_step_is_resumed_and_sends_each_row_once(
    salesforce_emulator, monkeypatch, django_capture_on_commit_callbacks, mode, step
):
    activation = activation_for(salesforce_emulator, mode)
    target, call, after = STEPS[step]
    restore = kill_on(monkeypatch, target, call=call, after=after)
    run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)

    with pytest.raises(WorkerKilled):
        runner.execute_run(run.pk)
    restore()
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING

    # The stale-heartbeat check finds it and any worker resumes it.
    salesforce_emulator.wait_for_jobs()
    with (
        time_machine.travel(timezone.now() + timedelta(seconds=STALE_AFTER + 1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert runner.mark_stale_runs() == 0  # resumed, not failed

    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED, (run.error, run.log)
    assert (run.rows_read, run.rows_succeeded, run.rows_failed) == (30, 30, 0)
    assert run.progress["resumes"] == 1
    keys = sorted(record["Customer_Key__c"] for record in salesforce_emulator.records("Contact"))
    assert keys == [f"C{number:04d}" for number in range(1, 31)]  # each row exactly once
    assert set(run.salesforce_job_ids) >= {
        chunk.job_id for chunk in RunChunk.objects.filter(run=run)
    }
    assert any("resumed from its recorded steps" in line["message"] for line in run.log)


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER, RUN_MAX_RESUMES=1)
def test_a_run_resumed_too_often_fails_with_the_reason(
    salesforce_emulator, monkeypatch, django_capture_on_commit_callbacks
):
    activation = activation_for(salesforce_emulator, "append")
    kill_on(monkeypatch, "connectors.salesforce.bulk.BulkApi.close_job", call=1, after=True)
    kill_on(monkeypatch, "activations.steps.send_chunks", call=2, after=False)
    run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)
    with pytest.raises(WorkerKilled):
        runner.execute_run(run.pk)

    later = timezone.now() + timedelta(seconds=STALE_AFTER + 1)
    with (  # the resumed run dies too
        pytest.raises(WorkerKilled),
        time_machine.travel(later),
        django_capture_on_commit_callbacks(execute=True),
    ):
        runner.mark_stale_runs()
    with time_machine.travel(later + timedelta(seconds=STALE_AFTER + 1)):
        assert runner.mark_stale_runs() == 1

    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "It was already resumed 1 times (RUN_MAX_RESUMES)" in run.error


@override_settings(RUN_STALE_AFTER_SECONDS=STALE_AFTER, RUN_MAX_RESUMES=100)
@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_twenty_kills_at_random_moments_of_one_run_still_send_each_row_once(
    salesforce_emulator, monkeypatch, django_capture_on_commit_callbacks, mode
):
    activation = activation_for(salesforce_emulator, mode)
    Activation.objects.filter(pk=activation.pk).update(batch_size=5)
    activation.refresh_from_db()
    chance = random.Random(f"kills-{mode}")
    kills = {"left": 20}
    for target in {name for name, _, _ in STEPS.values()}:
        install_random_kill(monkeypatch, target, chance, kills)
    run = services.request_run(activation=activation, trigger=Run.Trigger.MANUAL, publish=False)

    start = timezone.now()
    attempt = 0
    with contextlib.suppress(WorkerKilled):
        runner.execute_run(run.pk)
    while Run.objects.get(pk=run.pk).status == Run.Status.RUNNING:
        attempt += 1
        assert attempt <= 21
        salesforce_emulator.wait_for_jobs()
        later = start + timedelta(seconds=attempt * (STALE_AFTER + 1))
        with (
            contextlib.suppress(WorkerKilled),
            time_machine.travel(later),
            django_capture_on_commit_callbacks(execute=True),
        ):
            runner.mark_stale_runs()

    run.refresh_from_db()
    assert kills["left"] == 0
    assert run.status == Run.Status.SUCCEEDED, (run.error, run.log[-5:])
    assert (run.rows_read, run.rows_succeeded, run.rows_failed) == (30, 30, 0)
    assert run.progress["resumes"] == 20
    keys = sorted(record["Customer_Key__c"] for record in salesforce_emulator.records("Contact"))
    assert keys == [f"C{number:04d}" for number in range(1, 31)]


def install_random_kill(monkeypatch, target: str, chance: random.Random, kills: dict) -> None:
    """Kill the worker before or after a call of `target`, at random, `kills["left"]` times."""
    module_name, _, attribute = target.rpartition(".")
    parts = module_name.split(".")
    owner = None
    for split in range(len(parts), 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            owner = getattr(owner, name)
        break
    original = getattr(owner, attribute)
    lock = threading.Lock()

    def draw() -> bool:
        with lock:
            if kills["left"] and chance.random() < 0.25:
                kills["left"] -= 1
                return True
            return False

    def dying(*args, **kwargs):
        if draw():
            raise WorkerKilled()
        result = original(*args, **kwargs)
        if draw():
            raise WorkerKilled()
        return result

    monkeypatch.setattr(owner, attribute, dying)
