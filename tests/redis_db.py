"""The Redis databases of the live tests (TEST_REDIS_URL, TEST_REDIS_URL_2): a test holds one
for its whole run, emptied before and after, so its Celery processes see only its messages.
Tests in other processes (pytest-xdist workers, another checkout's run) wait for it."""

import contextlib
import fcntl
import hashlib
import tempfile
import time
from pathlib import Path

import pytest
import redis

WAIT_SECONDS = 900  # longer than the live tests take, all together


@contextlib.contextmanager
def own_redis_database(url: str):
    """Yield `url` once no other test process holds its database, emptied."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"segment-activation-tests-redis-{digest}.lock"
    with open(lock_path, "a") as lock:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another test held the Redis database {url} for {WAIT_SECONDS} s")
                time.sleep(0.5)
        # The lock goes with the file, closed after the database is emptied again.
        client = redis.Redis.from_url(url)
        try:
            client.ping()
        except redis.exceptions.ConnectionError as exc:
            pytest.fail(f"Redis is not reachable at {url} ({exc}); .ci/run starts it")
        client.flushdb()
        try:
            yield url
        finally:
            client.flushdb()
            client.close()
