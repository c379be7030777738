"""Tokens: obtaining one with a username and password, using it, revoking it, throttling."""

import datetime

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import make_user

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def alice(db):
    return make_user("alice")


def test_token_is_issued_for_a_valid_username_and_password(alice):
    response = APIClient().post(
        TOKEN_URL, {"username": "alice", "password": "password"}, format="json"
    )

    assert response.status_code == 200
    assert set(response.json()) == {"token", "expiry"}
    token = AuthToken.objects.get(user=alice)
    assert response.json()["token"].startswith(token.token_key)
    expiry = datetime.datetime.fromisoformat(response.json()["expiry"])
    assert abs(expiry - (timezone.now() + datetime.timedelta(days=30))) < datetime.timedelta(
        minutes=1
    )


def test_token_authenticates_api_requests(alice):
    token = (
        APIClient()
        .post(TOKEN_URL, {"username": "alice", "password": "password"}, format="json")
        .json()["token"]
    )
    client = APIClient()

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/v1/workspaces/")

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_token_is_stored_hashed(alice):
    token = (
        APIClient()
        .post(TOKEN_URL, {"username": "alice", "password": "password"}, format="json")
        .json()["token"]
    )

    stored = AuthToken.objects.get(user=alice)
    assert token not in (stored.digest, stored.token_key)
    assert len(stored.digest) == 128


def test_form_encoded_credentials_are_accepted(alice):
    response = APIClient().post(
        TOKEN_URL,
        "username=alice&password=password",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200


def test_wrong_password_is_refused_without_a_token(alice):
    response = APIClient().post(TOKEN_URL, {"username": "alice", "password": "nope"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Unable to log in with the given username and password."]
    }
    assert not AuthToken.objects.exists()


def test_inactive_user_gets_no_token(alice):
    alice.is_active = False
    alice.save()

    response = APIClient().post(
        TOKEN_URL, {"username": "alice", "password": "password"}, format="json"
    )

    assert response.status_code == 400
    assert not AuthToken.objects.exists()


def test_missing_and_unknown_fields_are_named(db):
    response = APIClient().post(TOKEN_URL, {"user": "alice"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "username": ["This field is required."],
        "password": ["This field is required."],
        "user": ["unknown field"],
    }


def test_requests_without_a_token_are_refused(db):
    response = APIClient().get("/api/v1/workspaces/")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_an_invalid_token_is_refused(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get("/api/v1/workspaces/")

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_an_expired_token_is_refused(alice):
    instance, token = AuthToken.objects.create(user=alice, expiry=datetime.timedelta(hours=1))
    AuthToken.objects.filter(pk=instance.pk).update(
        expiry=timezone.now() - datetime.timedelta(seconds=1)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = client.get("/api/v1/workspaces/")

    assert response.status_code == 401


def test_logout_revokes_only_the_token_used(alice):
    _, first = AuthToken.objects.create(user=alice)
    _, second = AuthToken.objects.create(user=alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first}")

    response = client.post("/api/v1/auth/logout/")

    assert response.status_code == 204
    assert client.get("/api/v1/workspaces/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert client.get("/api/v1/workspaces/").status_code == 200


def test_logout_all_revokes_every_token_of_the_user(alice):
    _, first = AuthToken.objects.create(user=alice)
    AuthToken.objects.create(user=alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first}")

    response = client.post("/api/v1/auth/logout-all/")

    assert response.status_code == 204
    assert not AuthToken.objects.filter(user=alice).exists()


def test_session_authentication_works_for_the_browser(alice):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="alice", password="password")

    assert client.get("/api/v1/workspaces/").status_code == 200
    # A session-authenticated write without the CSRF token is refused.
    response = client.post("/api/v1/activations/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("CSRF Failed")


def test_token_requests_are_throttled_per_client(alice, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "3/min", "run_create": "100/min"},
    }
    client = APIClient()
    statuses = [
        client.post(TOKEN_URL, {"username": "alice", "password": "nope"}, format="json").status_code
        for _ in range(3)
    ]

    response = client.post(TOKEN_URL, {"username": "alice", "password": "password"}, format="json")

    assert statuses == [400, 400, 400]
    assert response.status_code == 429
    assert response.json()["detail"].startswith("Request was throttled.")
    assert "Retry-After" in response.headers
    assert not AuthToken.objects.exists()


@pytest.mark.parametrize(
    "header",
    [
        "Token \xe9\xe9\xe9",
        "Token \x00abc",
        "Token " + "a" * 5000,
        "Token a b",
        "Token",
    ],
)
def test_malformed_token_headers_are_401_not_500(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/workspaces/")

    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
