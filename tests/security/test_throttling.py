"""Throttles that hold: a rotating X-Forwarded-For is one client, counters are shared by
every web process, and the sign-in pages and connection tests are limited too."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.test import RequestFactory
from rest_framework.test import APIClient

from common.clientip import client_ip
from sources.models import Source
from tests.api.conftest import client_for
from tests.factories import make_connection, make_user

PROJECT = Path(__file__).resolve().parents[2]
TOKEN_URL = "/api/v1/auth/token/"


def rates(settings, **scopes):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            **scopes,
        },
    }


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "", "192.0.2.9"),
        (0, "10.0.0.1", "192.0.2.9"),  # no proxy configured: the header is anyone's
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "10.0.0.1, 198.51.100.7", "198.51.100.7"),  # the client wrote 10.0.0.1
        (2, "10.0.0.1, 198.51.100.7, 203.0.113.5", "198.51.100.7"),
        (3, "198.51.100.7", "198.51.100.7"),
        (1, "not-an-address", "192.0.2.9"),
        (1, "", "192.0.2.9"),
    ],
)
def test_client_address_believes_only_the_configured_proxies(
    settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.9", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


@pytest.mark.django_db
def test_token_throttle_holds_when_x_forwarded_for_rotates(settings):
    rates(settings, token="3/min")
    make_user("alice")
    client = APIClient()
    statuses = [
        client.post(
            TOKEN_URL,
            {"username": "alice", "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.{attempt}.1",
        ).status_code
        for attempt in range(6)
    ]
    assert statuses == [400, 400, 400, 429, 429, 429]


def wrong_password_statuses(client, url: str, username: str, *, network: int) -> list[int]:
    """The statuses of five wrong passwords for `username` at `url`, each from a new address
    in 10.<network>.x.1."""
    return [
        client.post(
            url,
            {"username": username, "password": f"guess{attempt}"},
            HTTP_X_FORWARDED_FOR=f"10.{network}.{attempt}.1",
        ).status_code
        for attempt in range(5)
    ]


@pytest.mark.django_db
def test_sign_in_page_locks_out_an_address_after_failed_attempts(settings, client):
    rates(settings, login="3/hour")
    make_user("alice")
    statuses = wrong_password_statuses(client, "/login/", "alice", network=1)
    assert statuses == [200, 200, 200, 429, 429]
    # Even the right password waits now: the attacker cannot find out whether it was right.
    locked = client.post("/login/", {"username": "alice", "password": "password"})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert int(locked["Retry-After"]) > 0


@pytest.mark.django_db
def test_successful_sign_ins_are_not_counted(settings, client):
    rates(settings, login="2/hour")
    make_user("alice")
    for _ in range(4):
        assert (
            client.post("/login/", {"username": "alice", "password": "password"}).status_code == 302
        )
        client.logout()


@pytest.mark.django_db
def test_admin_sign_in_locks_out_an_address_after_failed_attempts(settings, client):
    rates(settings, login="3/hour")
    make_user("root", is_staff=True, is_superuser=True)
    statuses = wrong_password_statuses(client, "/admin/login/?next=/admin/", "root", network=2)
    assert statuses == [200, 200, 200, 429, 429]


def test_connection_tests_are_limited_per_user_in_the_ui_and_the_api(
    settings, team, viewer_client, owner_client, salesforce_emulator
):
    rates(settings, connection_test="2/min")
    connection = make_connection(
        workspace=team["workspace"], name="Emulator", login_url=salesforce_emulator.url
    )
    url = f"/connections/{connection.pk}/test/"
    assert viewer_client.post(url).status_code == 200
    assert (
        viewer_client.post("/connections/test/", {"connection": connection.pk}).status_code == 200
    )
    throttled = viewer_client.post(url, HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert throttled.status_code == 429
    assert "Too many connection tests" in throttled.content.decode()

    # The API shares the viewer's count; another user has their own.
    api = client_for(team["viewer"])
    response = api.post(f"/api/v1/connections/{connection.pk}/test/")
    assert response.status_code == 429
    assert response.json()["detail"].startswith("Request was throttled.")
    assert owner_client.post(url).status_code == 200


def test_source_tests_are_limited_per_user_in_the_ui_and_the_api(
    settings, team, viewer_client, owner_client, sqlite_file
):
    # Each source test connects to a customer's database: a member may not hammer it.
    rates(settings, source_test="2/min")
    source = Source.objects.create(
        workspace=team["workspace"], name="Warehouse", url=f"sqlite:///{sqlite_file}"
    )
    url = f"/sources/{source.pk}/test/"
    assert viewer_client.post(url).status_code == 200
    assert viewer_client.post(url).status_code == 200
    throttled = viewer_client.post(url, HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert throttled.status_code == 429
    assert "Too many source tests" in throttled.content.decode()

    api = client_for(team["viewer"])
    assert api.post(f"/api/v1/sources/{source.pk}/test/").status_code == 429
    assert owner_client.post(url).status_code == 200


# --- Two real web processes sharing the counters -------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stdout.read()}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within 60 s")


def run_manage(environment, *arguments):
    subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=PROJECT,
        env=environment,
        check=True,
        capture_output=True,
        timeout=180,
    )


def two_servers(tmp_path, cache_url: str):
    """Two `runserver` processes (the project settings, DEBUG off, a fast password hasher) on
    one fresh SQLite database, migrated here as on a fresh machine; counters in Redis or the
    database."""
    environment = {
        **{name: value for name, value in os.environ.items() if name != "DEBUG"},
        "DJANGO_SETTINGS_MODULE": "tests.security.fast_hash_settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "VAR_DIR": str(tmp_path / "var"),
        "CACHE_URL": cache_url,
        "REDIS_URL": "",
        "TRUSTED_PROXY_COUNT": "0",
        "THROTTLE_TOKEN": "4/min",
        "THROTTLE_LOGIN": "4/hour",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SUPERUSER_PASSWORD": "the-right-password-7",
    }
    # One Django start for both: migrate as on a fresh machine, then the account to guess at.
    run_manage(
        environment,
        "shell",
        "-c",
        "from django.core.management import call_command\n"
        "call_command('migrate', interactive=False, verbosity=0)\n"
        "call_command('createsuperuser', interactive=False, username='alice', email='a@x.test')",
    )
    servers = []
    for _ in range(2):
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runserver",
                "--noreload",
                "--skip-checks",
                f"127.0.0.1:{port}",
            ],
            cwd=PROJECT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        servers.append((f"http://127.0.0.1:{port}", process))
    return servers


def stop(servers) -> None:
    for _, process in servers:
        process.terminate()
    for _, process in servers:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wrong_passwords_across(servers) -> tuple[list[int], list[int]]:
    """Wrong passwords sent alternately to each server, each with a new X-Forwarded-For:
    the statuses of the token endpoint and of the sign-in page."""
    token_statuses = []
    for attempt in range(8):
        base, _ = servers[attempt % 2]
        response = requests.post(
            base + TOKEN_URL,
            data=json.dumps({"username": "alice", "password": f"guess{attempt}"}),
            headers={"Content-Type": "application/json", "X-Forwarded-For": f"10.3.{attempt}.1"},
            timeout=30,
        )
        token_statuses.append(response.status_code)
    login_statuses = []
    sessions = []
    for base, _ in servers:
        session = requests.Session()
        page = session.get(base + "/login/", timeout=30).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        sessions.append((base, session, token))
    for attempt in range(8):
        base, session, token = sessions[attempt % 2]
        response = session.post(
            base + "/login/",
            data={"username": "alice", "password": f"guess{attempt}", "csrfmiddlewaretoken": token},
            headers={"X-Forwarded-For": f"10.4.{attempt}.1", "Referer": base + "/login/"},
            allow_redirects=False,
            timeout=30,
        )
        login_statuses.append(response.status_code)
    return token_statuses, login_statuses


def assert_limits_hold_across(servers) -> None:
    for base, process in servers:
        wait_until_serving(base + "/login/", process)
    token_statuses, login_statuses = wrong_passwords_across(servers)
    # 4 per minute for all the processes together, not 4 each, whatever the header says.
    assert token_statuses == [400] * 4 + [429] * 4
    assert login_statuses == [200] * 4 + [429] * 4


def test_throttles_hold_across_two_processes_sharing_the_database_cache(tmp_path):
    servers = two_servers(tmp_path, cache_url="")
    try:
        assert_limits_hold_across(servers)
    finally:
        stop(servers)


@pytest.mark.redis
def test_throttles_hold_across_two_processes_sharing_redis(tmp_path):
    import redis

    from tests.redis_db import own_redis_database

    # A database of this test's own while it runs: no stale counters, no other test's keys.
    with own_redis_database(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/6")) as url:
        servers = two_servers(tmp_path, cache_url=url)
        try:
            assert_limits_hold_across(servers)
            keys = list(redis.Redis.from_url(url).scan_iter())
            assert any(key.startswith(b":1:throttle_") for key in keys)
        finally:
            stop(servers)
