"""Fixtures for the API tests: a workspace with a member of every role, and clients that
authenticate with real API tokens."""

import pytest
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import make_user, make_workspace


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle counters live in the cache; each test starts with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def other_workspace(db):
    return make_workspace("Globex")


@pytest.fixture
def owner(workspace):
    return make_user("olivia", workspace=workspace, role="owner")


@pytest.fixture
def editor(workspace):
    return make_user("eddie", workspace=workspace, role="editor")


@pytest.fixture
def viewer(workspace):
    return make_user("vera", workspace=workspace, role="viewer")


@pytest.fixture
def outsider(other_workspace):
    return make_user("oscar", workspace=other_workspace, role="owner")


def client_for(user) -> APIClient:
    """A client sending `Authorization: Token <token>` for the user, as a script would."""
    _, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def owner_client(owner):
    return client_for(owner)


@pytest.fixture
def editor_client(editor):
    return client_for(editor)


@pytest.fixture
def viewer_client(viewer):
    return client_for(viewer)


@pytest.fixture
def outsider_client(outsider):
    return client_for(outsider)
