"""The REST API contract of issue 5, runs.

Each test reads one sentence of the contract and drives the API as a script would."""

from tests.api.contract.helpers import API, RUN_FIELDS


def test_run_creation_answers_202_with_the_queued_run(client, activation):
    response = client.post(f"{API}/activations/{activation['id']}/runs/")

    assert response.status_code == 202
    run = response.json()
    assert set(run) >= RUN_FIELDS
    assert run["activation"] == activation["id"]
    assert run["trigger"] == "api"
    assert run["status"] == "queued"
    assert (run["rows_read"], run["rows_sent"], run["rows_succeeded"], run["rows_failed"]) == (
        0,
        0,
        0,
        0,
    )
    assert run["salesforce_job_ids"] == []
    assert run["finished_at"] is None


def test_run_creation_accepts_an_empty_json_body(client, activation):
    response = client.post(f"{API}/activations/{activation['id']}/runs/", {}, format="json")

    assert response.status_code == 202


def test_runs_are_read_by_id_and_listed(client, activation):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()

    detail = client.get(f"{API}/runs/{run['id']}/")
    listing = client.get(f"{API}/runs/")

    assert detail.status_code == 200
    assert detail.json()["id"] == run["id"]
    assert set(detail.json()) >= RUN_FIELDS
    assert [item["id"] for item in listing.json()["results"]] == [run["id"]]


def test_runs_filter_by_activation_and_status(new_activation, client, activation):
    other = new_activation(name="Other")
    first = client.post(f"{API}/activations/{activation['id']}/runs/").json()
    client.post(f"{API}/runs/{first['id']}/cancel/")
    second = client.post(f"{API}/activations/{other['id']}/runs/").json()

    by_activation = client.get(f"{API}/runs/", {"activation": activation["id"]}).json()
    by_status = client.get(f"{API}/runs/", {"status": "queued"}).json()
    cancelled = client.get(f"{API}/runs/", {"status": "cancelled"}).json()

    assert [item["id"] for item in by_activation["results"]] == [first["id"]]
    assert [item["id"] for item in by_status["results"]] == [second["id"]]
    assert [item["id"] for item in cancelled["results"]] == [first["id"]]


def test_runs_are_read_only(client, activation):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()

    assert (
        client.post(f"{API}/runs/", {"activation": activation["id"]}, format="json").status_code
        == 405
    )
    assert (
        client.patch(f"{API}/runs/{run['id']}/", {"status": "succeeded"}, format="json").status_code
        == 405
    )
    assert client.delete(f"{API}/runs/{run['id']}/").status_code == 405


def test_cancel_cancels_a_queued_run(client, activation):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()

    response = client.post(f"{API}/runs/{run['id']}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["finished_at"] is not None
    assert client.get(f"{API}/runs/{run['id']}/").json()["status"] == "cancelled"


def test_cancelling_a_finished_run_is_a_409(client, activation):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()
    client.post(f"{API}/runs/{run['id']}/cancel/")

    response = client.post(f"{API}/runs/{run['id']}/cancel/")

    assert response.status_code == 409
    assert "detail" in response.json()


def test_a_second_run_while_one_is_queued_is_a_409(client, activation):
    client.post(f"{API}/activations/{activation['id']}/runs/")

    response = client.post(f"{API}/activations/{activation['id']}/runs/")

    assert response.status_code == 409
    assert "detail" in response.json()
    assert len(client.get(f"{API}/runs/").json()["results"]) == 1


def test_an_idempotency_key_makes_a_retried_request_return_the_same_run(client, activation):
    first = client.post(
        f"{API}/activations/{activation['id']}/runs/", HTTP_IDEMPOTENCY_KEY="nightly-2026-01-10"
    )
    retry = client.post(
        f"{API}/activations/{activation['id']}/runs/", HTTP_IDEMPOTENCY_KEY="nightly-2026-01-10"
    )

    assert first.status_code == 202
    assert retry.status_code in (200, 202)
    assert retry.json()["id"] == first.json()["id"]
    assert len(client.get(f"{API}/runs/").json()["results"]) == 1


def test_an_idempotency_key_still_returns_the_run_after_it_finished(client, activation):
    first = client.post(
        f"{API}/activations/{activation['id']}/runs/", HTTP_IDEMPOTENCY_KEY="k-1"
    ).json()
    client.post(f"{API}/runs/{first['id']}/cancel/")

    retry = client.post(f"{API}/activations/{activation['id']}/runs/", HTTP_IDEMPOTENCY_KEY="k-1")

    assert retry.json()["id"] == first["id"]
    assert len(client.get(f"{API}/runs/").json()["results"]) == 1


def test_run_creation_is_rate_limited(client, activation, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "run_create": "2/min",
        },
    }
    codes = []
    for _ in range(3):
        response = client.post(f"{API}/activations/{activation['id']}/runs/")
        codes.append(response.status_code)
        if response.status_code == 202:
            client.post(f"{API}/runs/{response.json()['id']}/cancel/")

    assert codes == [202, 202, 429]
    assert client.post(f"{API}/activations/{activation['id']}/runs/").has_header("Retry-After")


def test_failed_rows_of_a_run_without_failures_is_a_csv_header(client, activation):
    run = client.post(f"{API}/activations/{activation['id']}/runs/").json()

    response = client.get(f"{API}/runs/{run['id']}/failed-rows/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
