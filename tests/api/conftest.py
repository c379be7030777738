"""Fixtures for the API tests: a workspace with a member of every role, and clients that
authenticate with real API tokens."""

import pytest
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import make_user, make_workspace


@pytest.fixture(autouse=True)
def _fresh_throttles(db):
    # Throttle counters live in the cache; each test starts with none. `db` first: the cache
    # is the database's cache table (no CACHE_URL), and the API tests ask for the database
    # through fixtures looked up by name (member_fixture), which pytest-django cannot see
    # when it decides which databases to create: a run of only such tests got none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def other_workspace(db):
    return make_workspace("Globex")


def member_fixture(username: str, role: str, workspace_fixture: str = "workspace"):
    """A fixture answering a user with `role` in the workspace of `workspace_fixture`."""

    @pytest.fixture
    def member(request):
        workspace = request.getfixturevalue(workspace_fixture)
        return make_user(username, workspace=workspace, role=role)

    return member


def client_fixture(user_fixture: str):
    """A fixture answering an API client with a token of the user of `user_fixture`."""

    @pytest.fixture
    def client(request):
        return client_for(request.getfixturevalue(user_fixture))

    return client


def client_for(user) -> APIClient:
    """A client sending `Authorization: Token <token>` for the user, as a script would."""
    _, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


owner = member_fixture("olivia", "owner")
editor = member_fixture("eddie", "editor")
viewer = member_fixture("vera", "viewer")
outsider = member_fixture("oscar", "owner", workspace_fixture="other_workspace")

owner_client = client_fixture("owner")
editor_client = client_fixture("editor")
viewer_client = client_fixture("viewer")
outsider_client = client_fixture("outsider")
