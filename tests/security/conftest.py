"""The UI tests' team (a workspace with an owner, a viewer and an outsider, a parent segment
with rows, a segment, a connection and an activation), and fresh throttle counters."""

import pytest
from django.core.cache import cache

from tests.ui.conftest import (  # noqa: F401  (fixtures)
    client_for,
    outsider_client,
    owner_client,
    team,
    viewer_client,
)


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()
