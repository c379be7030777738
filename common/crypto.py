"""Secrets at rest: a model field that stores text encrypted with Fernet keys from settings.

ENCRYPTION_KEYS holds one or more keys; the first encrypts and all of them decrypt, so keys
can be rotated (add the new key first, run `manage.py rotate_secrets`, drop the old one).
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64-encoded bytes)"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted: its key is missing from ENCRYPTION_KEYS"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a stored token with the first (newest) key."""
    return fernet().rotate(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """A TextField whose value is encrypted in the database; '' stays '' (meaning "not set")."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
