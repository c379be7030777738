"""Test settings: the project settings plus a fast hasher, in-memory mail and eager Celery."""

import os

# Keys of the tests' own (not the public development ones, which the web and Celery
# processes refuse with DEBUG off); set in the environment, so the worker, beat and server
# processes some tests start inherit the same keys and can decrypt what the tests stored.
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-4c1f0e3a9b7d2e5f8a6c3b1d0e9f7a5c")
os.environ.setdefault("ENCRYPTION_KEYS", "dGVzdHMtb25seS1mZXJuZXQta2V5LTMyLWJ5dGVzISE=")

from config.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
SITE_URL = "http://testserver"
# Throttle counters per test process (tests clear them between tests); the database and
# Redis caches are exercised by tests/security/test_throttling.py with real processes.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
