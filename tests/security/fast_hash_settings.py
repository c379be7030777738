"""The project settings with a fast password hasher, for the throttle tests' own servers: they
check wrong passwords many times, and hashing is not what they test."""

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
