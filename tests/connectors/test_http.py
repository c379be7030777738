"""Retry delays: doubling from the initial delay, jittered, capped; how time limits read."""

import random

import pytest

from connectors.salesforce.bulk import duration
from connectors.salesforce.http import MAX_RETRY_DELAY, RetryPolicy


def test_delays_double_from_the_initial_delay_with_jitter_in_the_upper_half():
    policy = RetryPolicy(limit=5, initial_delay=2.0)
    random.seed(7)

    for retry_number, nominal in enumerate([2.0, 4.0, 8.0, 16.0]):
        delays = [policy.delay(retry_number) for _ in range(200)]
        assert min(delays) >= nominal / 2
        assert max(delays) <= nominal
        assert len(set(delays)) > 100  # jittered, not constant


def test_delays_are_capped():
    policy = RetryPolicy(limit=10, initial_delay=100.0)

    assert all(MAX_RETRY_DELAY / 2 <= policy.delay(9) <= MAX_RETRY_DELAY for _ in range(50))


def test_zero_initial_delay_means_no_wait():
    assert RetryPolicy(limit=3, initial_delay=0).delay(2) == 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(24 * 3600.0, "24 hours"), (3600.0, "1 hour"), (300.0, "5 minutes"), (0.3, "0.3 seconds")],
)
def test_poll_time_limits_read_naturally(seconds, text):
    assert duration(seconds) == text
