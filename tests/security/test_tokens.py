"""API tokens end with the password they were issued for, and with the user's account."""

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import make_user

pytestmark = pytest.mark.django_db


def client_with_token(user) -> APIClient:
    _, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_tokens_are_revoked_when_the_password_changes():
    alice = make_user("alice")
    client = client_with_token(alice)
    assert client.get("/api/v1/workspaces/").status_code == 200

    alice.set_password("a-new-password-42")
    alice.save()

    assert client.get("/api/v1/workspaces/").status_code == 401
    assert not AuthToken.objects.filter(user=alice).exists()


def test_tokens_are_revoked_when_the_user_is_deactivated_and_stay_revoked_after():
    alice = make_user("alice")
    client = client_with_token(alice)

    alice.is_active = False
    alice.save()
    assert not AuthToken.objects.filter(user=alice).exists()

    alice.is_active = True
    alice.save()
    assert client.get("/api/v1/workspaces/").status_code == 401


def test_the_admin_password_change_revokes_tokens(client):
    alice = make_user("alice")
    root = make_user("root", is_staff=True, is_superuser=True)
    api = client_with_token(alice)
    client.force_login(root)

    response = client.post(
        f"/admin/auth/user/{alice.pk}/password/",
        {"password1": "Another-pass-9876", "password2": "Another-pass-9876"},
    )

    assert response.status_code == 302
    assert api.get("/api/v1/workspaces/").status_code == 401


def test_changepassword_command_revokes_tokens(monkeypatch):
    alice = make_user("alice")
    api = client_with_token(alice)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "Another-pass-9876")
    call_command("changepassword", "alice")
    assert api.get("/api/v1/workspaces/").status_code == 401


def test_other_changes_and_other_users_keep_their_tokens():
    alice = make_user("alice")
    bob = make_user("bob")
    alice_api, bob_api = client_with_token(alice), client_with_token(bob)

    alice.first_name = "Alice"
    alice.save()
    User.objects.get(pk=alice.pk).save()  # a save without changes
    bob.set_password("bobs-new-password-1")
    bob.save()

    assert alice_api.get("/api/v1/workspaces/").status_code == 200
    assert bob_api.get("/api/v1/workspaces/").status_code == 401
