"""The public development keys never protect a running service with DEBUG off, whatever
SITE_URL says; `check --deploy` warns about the encryption key."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks

from config import keys

PROJECT = Path(__file__).resolve().parents[2]
OWN_SECRET_KEY = "a-real-secret-key-for-this-test-0123456789-abcdefghijklmnop"


def start_wsgi(**env) -> subprocess.CompletedProcess:
    """Load the WSGI application (what gunicorn and runserver do) in a fresh interpreter."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if name not in ("SITE_URL", "SECRET_KEY", "ENCRYPTION_KEYS", "DEBUG")
    }
    return subprocess.run(
        [sys.executable, "-c", "import config.wsgi; print('started')"],
        cwd=PROJECT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("site_url", ["http://127.0.0.1:8000", "http://activations.internal"])
def test_web_process_refuses_the_development_keys_with_debug_off_on_an_http_site(site_url):
    result = start_wsgi(SITE_URL=site_url)
    assert result.returncode == 1
    assert "SECRET_KEY and ENCRYPTION_KEYS still hold the public development key" in (result.stderr)


def test_web_process_refuses_the_development_encryption_key_alone():
    result = start_wsgi(SECRET_KEY=OWN_SECRET_KEY)
    assert result.returncode == 1
    assert "ENCRYPTION_KEYS still holds the public development key" in result.stderr


def test_web_process_starts_with_keys_of_its_own():
    result = start_wsgi(SECRET_KEY=OWN_SECRET_KEY, ENCRYPTION_KEYS=Fernet.generate_key().decode())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


def test_web_process_starts_with_the_development_keys_when_debug_is_on():
    result = start_wsgi(DEBUG="true")
    assert result.returncode == 0, result.stderr


def test_celery_worker_refuses_the_development_keys(tmp_path):
    clean = {
        name: value
        for name, value in os.environ.items()
        if name not in ("SECRET_KEY", "ENCRYPTION_KEYS", "DEBUG")
    }
    environment = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VAR_DIR": str(tmp_path),
        "CELERY_BROKER_URL": "filesystem://",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "warning", "-P", "solo"],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode != 0
    assert "Refusing to start: SECRET_KEY and ENCRYPTION_KEYS still hold" in result.stderr


def test_celery_beat_refuses_the_development_keys(settings):
    from celery.signals import beat_init

    from config.celery import refuse_development_keys

    settings.DEBUG = False
    settings.SECRET_KEY = settings.DEVELOPMENT_SECRET_KEY
    with pytest.raises(SystemExit, match="Refusing to start: SECRET_KEY still holds"):
        beat_init.send(sender=None)  # SystemExit is not swallowed like an exception
    assert refuse_development_keys in [receiver() for _, receiver in beat_init.receivers]


def test_development_encryption_key_as_a_later_decrypt_only_key_is_accepted(settings):
    settings.DEBUG = False
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode(), settings.DEVELOPMENT_ENCRYPTION_KEY]
    keys.refuse_development_keys()  # no error


def test_check_deploy_warns_about_the_development_encryption_key(settings):
    settings.ENCRYPTION_KEYS = [settings.DEVELOPMENT_ENCRYPTION_KEY]
    messages = run_checks(include_deployment_checks=True)
    assert "keys.W001" in [message.id for message in messages]

    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    messages = run_checks(include_deployment_checks=True)
    assert "keys.W001" not in [message.id for message in messages]
