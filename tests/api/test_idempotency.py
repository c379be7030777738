"""Idempotency-Key under concurrency: simultaneous retries of one request start one run."""

import threading

import pytest
from django.db import connection as db_connection
from django.db import connections

from activations.models import Run
from tests.api.conftest import client_for
from tests.factories import (
    make_activation,
    make_user,
    make_workspace,
)


@pytest.mark.postgres
@pytest.mark.skipif(
    db_connection.vendor != "postgresql",
    reason="concurrent writers need PostgreSQL; the shared-cache in-memory SQLite test "
    "database answers 'table is locked' instead of waiting",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_start_one_run():
    workspace = make_workspace()
    user = make_user("scripts", workspace=workspace, role="editor")
    activation = make_activation(workspace=workspace)
    clients = [client_for(user) for _ in range(4)]
    start = threading.Barrier(len(clients))
    answers = []

    def post(client):
        try:
            start.wait()
            response = client.post(
                f"/api/v1/activations/{activation.pk}/runs/", HTTP_IDEMPOTENCY_KEY="retry-me"
            )
            answers.append((response.status_code, response.json()["id"]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    run = Run.objects.get()
    assert len(answers) == 4
    assert {run_id for _, run_id in answers} == {run.pk}
    # The first answer is 202; a retry that sees the run already stored gets 200 (one that
    # raced the insert gets the same run with 202).
    assert {status for status, _ in answers} <= {200, 202}
    assert 202 in {status for status, _ in answers}
