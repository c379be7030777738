"""The REST API contract of issue 5, authentication: tokens from /auth/token/, logging out.

Each test reads one sentence of the contract and drives the API as a script would."""

import datetime

from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.api.contract.helpers import API, PASSWORD, login


def test_token_endpoint_answers_token_and_expiry(owner):
    response = APIClient().post(
        f"{API}/auth/token/", {"username": "owner", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"token", "expiry"}
    assert isinstance(body["token"], str)
    assert len(body["token"]) >= 32
    expiry = datetime.datetime.fromisoformat(body["expiry"].replace("Z", "+00:00"))
    assert expiry > datetime.datetime.now(datetime.UTC)


def test_token_is_used_as_authorization_token_header(owner):
    token = (
        APIClient()
        .post(f"{API}/auth/token/", {"username": "owner", "password": PASSWORD}, format="json")
        .json()["token"]
    )
    client = APIClient()

    anonymous = client.get(f"{API}/workspaces/")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    authenticated = client.get(f"{API}/workspaces/")

    assert anonymous.status_code == 401
    assert authenticated.status_code == 200


def test_tokens_are_stored_hashed(owner):
    token = (
        APIClient()
        .post(f"{API}/auth/token/", {"username": "owner", "password": PASSWORD}, format="json")
        .json()["token"]
    )

    stored = AuthToken.objects.get(user=owner)
    assert token not in (stored.digest, stored.token_key)
    assert stored.digest != token


def test_an_expired_token_is_refused(owner, time_machine):
    client = login("owner")
    stored = AuthToken.objects.get(user=owner)

    time_machine.move_to(stored.expiry + datetime.timedelta(minutes=1))
    response = client.get(f"{API}/workspaces/")

    assert response.status_code == 401
    assert "detail" in response.json()


def test_wrong_password_is_a_400_without_token(owner):
    response = APIClient().post(
        f"{API}/auth/token/", {"username": "owner", "password": "nope"}, format="json"
    )

    assert response.status_code == 400
    assert "token" not in response.json()


def test_token_endpoint_is_rate_limited(owner, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "token": "3/min",
        },
    }
    client = APIClient()
    codes = [
        client.post(
            f"{API}/auth/token/", {"username": "owner", "password": "nope"}, format="json"
        ).status_code
        for _ in range(4)
    ]

    assert codes == [400, 400, 400, 429]


def test_session_authentication_works_for_the_browser(owner):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(owner)

    read = browser.get(f"{API}/workspaces/")
    write_without_csrf = browser.post(
        f"{API}/parent-segments/",
        {"name": "X", "key_column": "id", "columns": [{"name": "id", "type": "string"}]},
        format="json",
    )

    assert read.status_code == 200
    assert write_without_csrf.status_code == 403
