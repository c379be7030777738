"""The production safety of the env-driven settings: cookie flags and the development keys."""

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

PROJECT = Path(__file__).resolve().parent.parent
PRINT_FLAGS = (
    "import json, config.settings as s; print(json.dumps({name: getattr(s, name) for name in "
    "('SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'CSRF_COOKIE_HTTPONLY', 'X_FRAME_OPTIONS')}))"
)


def settings_with(**env):
    """Import config.settings in a fresh interpreter with exactly these variables set."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if name not in ("SITE_URL", "SECRET_KEY", "ENCRYPTION_KEYS", "DEBUG")
        and not name.endswith("_COOKIE_SECURE")
    }
    return subprocess.run(
        [sys.executable, "-c", PRINT_FLAGS],
        cwd=PROJECT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def cookie_flags(*, secure: bool) -> dict:
    """The flags PRINT_FLAGS prints: cookies sent over HTTPS only or not, the rest fixed."""
    return {
        "SESSION_COOKIE_SECURE": secure,
        "CSRF_COOKIE_SECURE": secure,
        "CSRF_COOKIE_HTTPONLY": True,
        "X_FRAME_OPTIONS": "DENY",
    }


def test_local_http_site_keeps_cookies_usable_over_plain_http():
    result = settings_with()

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == cookie_flags(secure=False)


def test_https_site_sends_cookies_over_https_only():
    result = settings_with(
        SITE_URL="https://activations.example.com",
        SECRET_KEY="a-real-secret-key-for-this-test-0123456789-abcdefghijklmnop",
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == cookie_flags(secure=True)


def test_https_site_refuses_the_public_development_secret_key():
    result = settings_with(
        SITE_URL="https://activations.example.com", ENCRYPTION_KEYS=Fernet.generate_key().decode()
    )

    assert result.returncode == 1
    assert (
        "SECRET_KEY still holds the public development key while SITE_URL is https" in result.stderr
    )


def test_https_site_refuses_the_public_development_encryption_key_as_the_encrypting_key():
    result = settings_with(
        SITE_URL="https://activations.example.com",
        SECRET_KEY="a-real-secret-key-for-this-test-0123456789-abcdefghijklmnop",
    )

    assert result.returncode == 1
    assert "ENCRYPTION_KEYS still holds the public development key" in result.stderr
